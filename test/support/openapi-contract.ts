import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { parse } from 'yaml';

export const OPENAPI_FILE = path.resolve(__dirname, '../../docs/openapi.yaml');

/** Headers of the transport, not of the API: never documented, never checked. */
const TRANSPORT_HEADERS = new Set([
  'content-length',
  'content-type',
  'date',
  'connection',
  'keep-alive',
  'transfer-encoding',
]);
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/**
 * Replaces every `$ref` with the object it points to. The contract uses local references only (`#/components/…`);
 * an external one fails loudly. (A hand-written resolver: the maintained ones are ESM-only, which jest's CommonJS
 * runtime here cannot load.)
 */
export function dereference(document: object): any {
  const seen = new Map<string, unknown>();
  const pointer = (ref: string): unknown => {
    if (!ref.startsWith('#/')) throw new Error(`Only local $refs are supported in the contract, found ${ref}`);
    return ref
      .slice(2)
      .split('/')
      .map((part) => decodeURIComponent(part).replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce<any>((node, key) => {
        if (node?.[key] === undefined) throw new Error(`Unresolvable $ref ${ref}`);
        return node[key];
      }, document);
  };
  const walk = (node: unknown, depth: number): unknown => {
    if (depth > 64) throw new Error('The contract nests too deeply (a $ref cycle?)');
    if (Array.isArray(node)) return node.map((n) => walk(n, depth + 1));
    if (node === null || typeof node !== 'object') return node;
    const ref = (node as { $ref?: unknown }).$ref;
    if (typeof ref === 'string') {
      // One object per target, so compiled validators are shared.
      if (!seen.has(ref)) seen.set(ref, walk(pointer(ref), depth + 1));
      return seen.get(ref);
    }
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, walk(v, depth + 1)]));
  };
  return walk(document, 0);
}

export interface ObservedResponse {
  readonly method: string;
  /** Path and query, as requested. */
  readonly path: string;
  readonly status: number;
  readonly headers: Headers;
  /** The body as received (empty string when none). */
  readonly text: string;
}

interface SchemaHolder {
  schema?: object;
  required?: boolean;
}
interface ResponseObject {
  headers?: Record<string, SchemaHolder>;
  content?: Record<string, SchemaHolder>;
}
interface Operation {
  responses?: Record<string, ResponseObject>;
}
interface OpenApiDocument {
  /** `x-other-methods`: the 405 and OPTIONS answers, documented beside the operations rather than as operations. */
  paths: Record<string, Record<string, Operation> & { 'x-other-methods'?: Record<string, Operation> }>;
  components: { responses: Record<string, ResponseObject> };
}

export interface Contract {
  /** The contract's complaints about one response; empty when it conforms. */
  check(response: ObservedResponse): string[];
}

/**
 * Loads docs/openapi.yaml, dereferenced, and checks real responses against it: the path and method must be
 * documented (as an operation, or under the path's `x-other-methods`; or the path outside every route, answered
 * with API Gateway's own 404), the status documented for
 * that operation, every header documented (required ones present, each matching its schema), and the body's media
 * type and shape matching the documented schema.
 */
export async function loadContract(file = OPENAPI_FILE): Promise<Contract> {
  const document = dereference(parse(await readFile(file, 'utf8')) as object) as OpenApiDocument;
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  addFormats(ajv);
  const compiled = new WeakMap<object, ValidateFunction>();
  const validator = (schema: object) => {
    let fn = compiled.get(schema);
    if (!fn) compiled.set(schema, (fn = ajv.compile(schema)));
    return fn;
  };
  const routes = Object.keys(document.paths).map((template) => ({
    template,
    pattern: new RegExp(`^${template.replace(/\{[^/]+\}/g, '[^/]+')}$`),
  }));

  function check(observed: ObservedResponse): string[] {
    const pathname = new URL(observed.path, 'http://localhost').pathname;
    const route = routes.find((r) => r.pattern.test(pathname));
    const where = `${observed.method} ${observed.path} → ${observed.status}`;
    let response: ResponseObject | undefined;
    if (!route) {
      if (observed.status !== 404) return [`${where}: the path matches no documented route`];
      response = document.components.responses.RouteNotFound;
      if (!response) return [`${where}: the contract documents no RouteNotFound response`];
    } else {
      const method = observed.method.toLowerCase();
      const item = document.paths[route.template];
      const operation =
        item && METHODS.includes(method) ? (item[method] ?? item['x-other-methods']?.[method]) : undefined;
      if (!operation) return [`${where}: ${observed.method} ${route.template} is not documented`];
      response = operation.responses?.[String(observed.status)] ?? operation.responses?.default;
      if (!response)
        return [`${where}: status ${observed.status} is not documented for ${observed.method} ${route.template}`];
    }
    const problems: string[] = [];

    const documented = new Map(
      Object.entries(response.headers ?? {}).map(([name, header]) => [name.toLowerCase(), header]),
    );
    for (const [name, header] of documented) {
      const value = observed.headers.get(name);
      if (value === null) {
        if (header.required) problems.push(`${where}: required header ${name} is missing`);
        continue;
      }
      const validate = header.schema && validator(header.schema);
      if (validate && !validate(value))
        problems.push(`${where}: header ${name}: ${JSON.stringify(value)} ${ajv.errorsText(validate.errors)}`);
    }
    observed.headers.forEach((_value, name) => {
      if (!TRANSPORT_HEADERS.has(name) && !documented.has(name))
        problems.push(`${where}: header ${name} is not documented`);
    });

    const mediaType = (observed.headers.get('content-type') ?? '').split(';', 1).join('').trim().toLowerCase();
    if (observed.text === '') {
      if (response.content) problems.push(`${where}: no body, but the contract documents one`);
      return problems;
    }
    const content = response.content?.[mediaType];
    if (!content) {
      problems.push(
        `${where}: media type "${mediaType}" is not documented (documented: ${Object.keys(response.content ?? {}).join(', ') || 'none'})`,
      );
      return problems;
    }
    let body: unknown;
    try {
      body = JSON.parse(observed.text);
    } catch {
      problems.push(`${where}: the body is not JSON: ${observed.text.slice(0, 200)}`);
      return problems;
    }
    const validate = content.schema && validator(content.schema);
    if (validate && !validate(body)) {
      problems.push(
        `${where}: body ${JSON.stringify(body).slice(0, 300)} does not match the contract: ${ajv.errorsText(validate.errors, { separator: '; ' })}`,
      );
    }
    return problems;
  }

  return { check };
}

let shared: Promise<Contract> | undefined;

/** The contract of docs/openapi.yaml, loaded once per test file. Throws when the response breaks it. */
export async function assertMatchesContract(observed: ObservedResponse): Promise<void> {
  shared ??= loadContract();
  const problems = (await shared).check(observed);
  if (problems.length) throw new Error(`The response breaks docs/openapi.yaml:\n${problems.join('\n')}`);
}
