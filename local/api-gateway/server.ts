import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { matchRoute, toApiGatewayEvent } from './event';
import { type CorsPolicy, corsResponseHeaders, preflightRefusal, preflightResponse } from './cors';
import { LocalSetupError } from '../errors';
import type { Authorize } from './jwt-authorizer';
import { jsonResponse, type LocalResponse, type LocalRoutes } from './local-response';

export type ApiHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

/** What API Gateway does around the function: its authorizer, and (locally only) extra endpoints. */
export interface ApiServerHooks {
  /** Runs before the handler on every API route, as the HTTP API's default authorizer. */
  readonly authorize?: Authorize;
  /** Local-only endpoints (/local/*, /.well-known/*), answered before API routing. */
  readonly localRoutes?: LocalRoutes;
  /** The stack's CORS configuration: preflights answered and Access-Control-* added, as API Gateway does. */
  readonly cors?: CorsPolicy;
}

export interface ApiServer {
  readonly url: string;
  close(): Promise<void>;
}

/** Fails fast, before minutes of setup, when the API port is taken. */
export async function checkPortFree(port: number): Promise<void> {
  if (port === 0) return;
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? portInUse(port) : error),
    );
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()));
  });
}

function portInUse(port: number): LocalSetupError {
  return new LocalSetupError(
    `Port ${port} is already in use. Stop what uses it or start with PORT=<another port> npm start.`,
  );
}

/** API Gateway's own payload limit; the handler enforces the API's smaller one. */
const MAX_REQUEST_BYTES = 10 * 1024 * 1024;

/**
 * Serves the handler the way API Gateway (HTTP API, payload 2.0) does: each request becomes an event, the result
 * becomes the response. Unknown paths get API Gateway's own 404 and never reach the handler.
 */
export async function startApiServer(
  handler: ApiHandler,
  port: number,
  log: (line: string) => void,
  hooks: ApiServerHooks = {},
): Promise<ApiServer> {
  let hosts = new Set<string>();
  const server: Server = createServer((req, res) => {
    if (!hosts.has((req.headers.host ?? '').toLowerCase())) return misdirected(req, res, [...hosts], log);
    void serve(handler, req, res, log, hooks);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? portInUse(port) : error),
    );
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const { port: actual } = server.address() as AddressInfo;
  // A browser leaves the port out of Host when it is the scheme's default.
  hosts = new Set(LOOPBACK_NAMES.flatMap((name) => (actual === 80 ? [`${name}:80`, name] : [`${name}:${actual}`])));
  return {
    url: `http://127.0.0.1:${actual}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The only Host values answered: a page on any other name (DNS rebinding to 127.0.0.1) gets nothing from the API. */
const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

function misdirected(req: IncomingMessage, res: ServerResponse, hosts: string[], log: (line: string) => void): void {
  // The body is not read: nothing of the request is acted on.
  req.resume();
  const host = req.headers.host;
  log(`[api] ${req.method} ${req.url} 421 refused Host ${JSON.stringify(host ?? null)}`);
  send(res, {
    statusCode: 421,
    headers: { 'Content-Type': 'application/problem+json', 'Cache-Control': 'no-store' },
    body: JSON.stringify({
      type: '/problems/misdirected-request',
      title: 'Misdirected request',
      status: 421,
      detail: `This local server answers only the Host ${hosts.join(', ')}; the request named ${host === undefined ? 'none' : JSON.stringify(host)}.`,
    }),
  });
}

async function serve(
  handler: ApiHandler,
  req: IncomingMessage,
  res: ServerResponse,
  log: (line: string) => void,
  hooks: ApiServerHooks,
): Promise<void> {
  const started = performance.now();
  const method = req.method ?? 'GET';
  const url = req.url ?? '/';
  let status = 500;
  let taskId: string | undefined;
  let note = '';
  const cors = hooks.cors ? corsResponseHeaders(hooks.cors, req.headers) : {};
  try {
    // Without a policy API Gateway has no CORS: the preflight reaches the routes and the browser refuses the call.
    if (!hooks.cors && method === 'OPTIONS' && req.headers.origin && req.headers['access-control-request-method']) {
      note = ' CORS preflight REFUSED: no CORS configured (CORS_ALLOW_ORIGINS)';
    }
    const preflight = hooks.cors && preflightResponse(hooks.cors, method, req.headers);
    if (preflight) {
      status = preflight.statusCode;
      const refusal = preflightRefusal(hooks.cors, req.headers);
      note = refusal ? ` CORS preflight REFUSED: ${refusal}` : ' CORS preflight allowed';
      return send(res, preflight);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_REQUEST_BYTES) {
        status = 413;
        return send(res, jsonResponse(413, { message: 'Request Entity Too Large' }, cors));
      }
      chunks.push(chunk as Buffer);
    }
    const path = new URL(url, 'http://localhost').pathname;
    const local = await hooks.localRoutes?.({ method, path, body: Buffer.concat(chunks).toString('utf8') });
    if (local) {
      status = local.statusCode;
      return send(res, { ...local, headers: { ...local.headers, ...cors } });
    }
    if (!matchRoute(path)) {
      status = 404;
      return send(res, jsonResponse(404, { message: 'Not Found' }, cors));
    }
    const event = toApiGatewayEvent({
      method,
      url,
      headers: req.headers,
      ...eventBody(Buffer.concat(chunks), req.headers['content-type']),
      sourceIp: req.socket.remoteAddress,
    });
    const authorized = hooks.authorize ? await hooks.authorize(event) : { event };
    if ('reject' in authorized) {
      status = authorized.reject.statusCode;
      return send(res, { ...authorized.reject, headers: { ...authorized.reject.headers, ...cors } });
    }
    const result = await handler(authorized.event);
    status = result.statusCode ?? 200;
    const body = result.body ?? '';
    taskId = /"task_id":"([^"]+)"/.exec(body)?.[1];
    send(res, { statusCode: status, headers: { ...(result.headers as Record<string, string>), ...cors }, body });
  } catch (error) {
    // What API Gateway answers when the integration fails.
    status = 500;
    log(`[api] handler threw: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    send(res, jsonResponse(500, { message: 'Internal Server Error' }, cors));
  } finally {
    const ms = (performance.now() - started).toFixed(1);
    log(`[api] ${method} ${url} ${status}${taskId ? ` task=${taskId}` : ''}${note} ${ms}ms`);
  }
}

function send(res: ServerResponse, response: LocalResponse): void {
  // Every local answer, API Gateway's own included, is nosniff (the function's answers carry it themselves too).
  res.writeHead(response.statusCode, {
    ...response.headers,
    'X-Content-Type-Options': 'nosniff',
    'Content-Length': Buffer.byteLength(response.body),
  });
  res.end(response.body);
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const TEXT_TYPES = /^(text\/|application\/([\w.+-]+\+)?(json|xml|javascript)\b|application\/x-www-form-urlencoded)/i;

/**
 * The body as API Gateway hands it over: text when it is valid UTF-8 of a textual content type, otherwise the raw
 * bytes in base64 with isBase64Encoded, so the handler sees exactly what was sent (and decides about invalid UTF-8).
 */
function eventBody(bytes: Buffer, contentType: string | undefined): { body: string; isBase64Encoded: boolean } {
  if (bytes.length === 0) return { body: '', isBase64Encoded: false };
  if (contentType === undefined || TEXT_TYPES.test(contentType)) {
    try {
      return { body: UTF8.decode(bytes), isBase64Encoded: false };
    } catch {
      // Not UTF-8: fall through to the bytes.
    }
  }
  return { body: bytes.toString('base64'), isBase64Encoded: true };
}
