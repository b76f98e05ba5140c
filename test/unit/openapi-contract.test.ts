import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { type Contract, dereference, loadContract, OPENAPI_FILE } from '../support/openapi-contract';

const TASK_ID = 'wLYbh0rNrk7_bWt9_558S-5SRpu1KovLRd8MZ30flQE';
const created = {
  task_id: TASK_ID,
  status: 'not_started',
  tenant_id: 't1',
  video_filename: 'a.mp4',
  created_at: '2026-11-28T17:18:52.254Z',
};
const json = { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };
const problemJson = {
  'content-type': 'application/problem+json',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
};
const notFound = { type: '/problems/not-found', title: 'Not found', status: 404, detail: 'There is no task.' };

let contract: Contract;
beforeAll(async () => {
  contract = await loadContract();
});

const check = (method: string, path: string, status: number, headers: Record<string, string>, body?: unknown) =>
  contract.check({
    method,
    path,
    status,
    headers: new Headers(headers),
    text: body === undefined ? '' : JSON.stringify(body),
  });

/** `object` without its member `name`. */
function without<T extends object>(object: T, name: keyof T): Partial<T> {
  return Object.fromEntries(Object.entries(object).filter(([key]) => key !== name)) as Partial<T>;
}

describe('the contract test accepts what docs/openapi.yaml documents', () => {
  test("an answer of the function without X-Content-Type-Options: nosniff breaks the contract; API Gateway's own answers may lack it", () => {
    const sniffable = without(json, 'x-content-type-options');
    expect(
      check(
        'POST',
        '/api/v1/track',
        201,
        { ...sniffable, location: `/api/v1/track/${TASK_ID}?tenant_id=t1` },
        created,
      ).join(),
    ).toMatch(/required header x-content-type-options is missing/);
    expect(
      check(
        'GET',
        `/api/v1/track/${TASK_ID}`,
        401,
        { 'content-type': 'application/json', 'www-authenticate': 'Bearer' },
        { message: 'Unauthorized' },
      ),
    ).toEqual([]);
  });

  test('a 201 with Location and the created task', () => {
    expect(
      check('POST', '/api/v1/track', 201, { ...json, location: `/api/v1/track/${TASK_ID}?tenant_id=t1` }, created),
    ).toEqual([]);
  });

  test('a page of the listing, and the active task of a video, on the one GET', () => {
    const task = { ...created, updated_at: created.created_at };
    expect(check('GET', '/api/v1/track?limit=10', 200, json, { tasks: [task], next_cursor: 'opaque' })).toEqual([]);
    expect(check('GET', '/api/v1/track?cursor=opaque', 200, json, { tasks: [], next_cursor: null })).toEqual([]);
    expect(check('GET', '/api/v1/track?video_filename=a.mp4', 200, json, task)).toEqual([]);
  });

  test('405 and the preflight, documented under x-other-methods rather than as operations', () => {
    const notAllowed = {
      type: '/problems/method-not-allowed',
      title: 'Method not allowed',
      status: 405,
      detail: 'No.',
    };
    expect(check('PUT', '/api/v1/track', 405, { ...problemJson, allow: 'GET, POST' }, notAllowed)).toEqual([]);
    expect(
      check('POST', `/api/v1/track/${TASK_ID}`, 405, { ...problemJson, allow: 'GET, DELETE' }, notAllowed),
    ).toEqual([]);
    expect(check('OPTIONS', '/api/v1/track', 204, { 'cache-control': 'no-store' })).toEqual([]);
  });

  test("API Gateway's own 404 outside the routes", () => {
    expect(
      check('GET', '/api/v1/other', 404, { 'content-type': 'application/json' }, { message: 'Not Found' }),
    ).toEqual([]);
  });

  test('a 503 with Retry-After', () => {
    const body = { type: '/problems/service-unavailable', title: 'Service unavailable', status: 503, detail: 'Retry.' };
    expect(check('POST', '/api/v1/track', 503, { ...problemJson, 'retry-after': '2' }, body)).toEqual([]);
  });

  test("a POST's 429: the tenant's quota (problem+json with limit and active_count) or API Gateway's throttling", () => {
    const quota = {
      type: '/problems/tenant-quota-exceeded',
      title: 'Tenant quota exceeded',
      status: 429,
      detail: 'Full.',
      limit: 5,
      active_count: 5,
    };
    expect(check('POST', '/api/v1/track', 429, problemJson, quota)).toEqual([]);
    expect(
      check('POST', '/api/v1/track', 429, { 'content-type': 'application/json' }, { message: 'Too Many Requests' }),
    ).toEqual([]);
    const withoutCount = without(quota, 'active_count');
    expect(check('POST', '/api/v1/track', 429, problemJson, withoutCount)).not.toEqual([]);
  });

  test('a 409 naming the status the task ended with', () => {
    const body = {
      type: '/problems/task-finished',
      title: 'Task already finished',
      status: 409,
      detail: 'Done.',
      task_id: TASK_ID,
      task_status: 'completed',
    };
    expect(check('DELETE', `/api/v1/track/${TASK_ID}?tenant_id=t1`, 409, problemJson, body)).toEqual([]);
  });
});

describe('the contract test fails what docs/openapi.yaml does not document', () => {
  test('an undocumented status', () => {
    expect(check('POST', '/api/v1/track', 202, json, created)).toEqual([
      expect.stringMatching(/status 202 is not documented/),
    ]);
  });

  test('an undocumented header', () => {
    expect(check('GET', `/api/v1/track/${TASK_ID}`, 404, { ...problemJson, 'x-debug': '1' }, notFound)).toEqual([
      expect.stringMatching(/header x-debug is not documented/),
    ]);
  });

  test('a required header missing (Location on 201, Retry-After on 503)', () => {
    expect(check('POST', '/api/v1/track', 201, json, created)).toEqual([
      expect.stringMatching(/required header location is missing/),
    ]);
    const body = { type: '/problems/service-unavailable', title: 'Service unavailable', status: 503, detail: 'Retry.' };
    expect(check('GET', '/api/v1/track', 503, problemJson, body)).toEqual([
      expect.stringMatching(/required header retry-after is missing/),
    ]);
  });

  test('a body with an undocumented member, a wrong type or a problem type of another status', () => {
    expect(check('GET', `/api/v1/track/${TASK_ID}`, 404, problemJson, { ...notFound, stack: 'at x' })).toEqual([
      expect.stringMatching(/additional properties/),
    ]);
    expect(check('POST', '/api/v1/track', 201, { ...json, location: '/x' }, { ...created, status: 'running' })).toEqual(
      [expect.stringMatching(/does not match/)],
    );
    expect(
      check('GET', `/api/v1/track/${TASK_ID}`, 404, problemJson, { ...notFound, type: '/problems/internal-error' }),
    ).toEqual([expect.stringMatching(/does not match/)]);
  });

  test('a listing page with a task missing members or without next_cursor', () => {
    expect(check('GET', '/api/v1/track', 200, json, { tasks: [created] })).not.toEqual([]);
    expect(check('GET', '/api/v1/track', 200, json, { tasks: [], next_cursor: 3 })).not.toEqual([]);
  });

  test('an undocumented media type, method or path', () => {
    expect(check('GET', `/api/v1/track/${TASK_ID}`, 404, { ...json }, notFound)).toEqual([
      expect.stringMatching(/media type "application\/json" is not documented/),
    ]);
    expect(check('HEAD', '/api/v1/track', 200, {})).toEqual([
      expect.stringMatching(/HEAD \/api\/v1\/track is not documented/),
    ]);
    expect(check('GET', '/api/v2/track', 200, json, {})).toEqual([
      expect.stringMatching(/matches no documented route/),
    ]);
  });
});

describe('docs/openapi.yaml', () => {
  test('every example matches the schema it illustrates', () => {
    const document = dereference(parse(readFileSync(OPENAPI_FILE, 'utf8')) as object);
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    addFormats(ajv);
    const checked: string[] = [];
    const failures: string[] = [];
    for (const [path, item] of Object.entries<any>(document.paths)) {
      const { 'x-other-methods': other = {}, ...operations } = item;
      for (const [method, operation] of Object.entries<any>({ ...operations, ...other })) {
        const bodies = [['request', operation.requestBody], ...Object.entries<any>(operation.responses ?? {})];
        for (const [status, holder] of bodies) {
          for (const [mediaType, media] of Object.entries<any>(holder?.content ?? {})) {
            for (const [name, example] of Object.entries<any>(media.examples ?? {})) {
              const validate = ajv.compile(media.schema);
              if (!validate(example.value))
                failures.push(`${method} ${path} ${status} ${mediaType} ${name}: ${ajv.errorsText(validate.errors)}`);
              checked.push(name);
            }
          }
        }
      }
    }
    expect(failures).toEqual([]);
    expect(checked.length).toBeGreaterThan(15);
  });

  test('documents every problem type the handler can send', () => {
    const handlerSource =
      readFileSync(require.resolve('../../lambda/track/http.ts'), 'utf8') +
      readFileSync(require.resolve('../../lambda/track/track-handler.ts'), 'utf8');
    const slugs = [...handlerSource.matchAll(/problem\(\s*\d+,\s*'([a-z-]+)'/g)].map((m) => m[1]);
    const documented = parse(readFileSync(OPENAPI_FILE, 'utf8')).components.schemas.ProblemType.enum as string[];
    expect(slugs.length).toBeGreaterThan(5);
    for (const slug of slugs) expect(documented).toContain(`/problems/${slug}`);
  });
});
