import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { parseTrackRequest, VIDEO_FILENAME_PATTERN } from '../../lambda/core/validation';
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

describe("docs/openapi.yaml's video_filename: the server's character rules", () => {
  const schema = dereference(parse(readFileSync(OPENAPI_FILE, 'utf8')) as object).components.schemas.TrackRequest;
  // As loadContract compiles it: ajv's default `unicodeRegExp`, so the pattern runs with the `u` flag.
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  addFormats(ajv);
  const validate = ajv.compile(schema);
  const contractAccepts = (name: string) => validate({ tenant_id: 't', video_filename: name });
  const serverAccepts = (name: string) => {
    try {
      parseTrackRequest({ tenant_id: 't', video_filename: name });
      return true;
    } catch {
      return false;
    }
  };

  test('the pattern is the regex the server is built from, character for character', () => {
    expect(schema.properties.video_filename.pattern).toBe(VIDEO_FILENAME_PATTERN);
  });

  // Names under the length limit (the pattern says nothing of bytes), each with the verdict both must give.
  const SAMPLES: [string, string, boolean][] = [
    ['plain ASCII', 'test.mp4', true],
    ['spaces kept', ' Test .MP4 ', true],
    ['NFD', 'cafe\u0301.mp4', true],
    ['emoji ZWJ sequence', '\u{1F468}\u200D\u{1F469}\u200D\u{1F467}.mp4', true],
    ['emoji with a variation selector', '\u2764\uFE0F.mp4', true],
    ['ZWJ after a variation selector', '\u2764\uFE0F\u200D\u{1F525}', true],
    ['keycap', '1\uFE0F\u20E3.mp4', true],
    ['subdivision flag', '\u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}.mp4', true],
    ['Devanagari with ZWJ', '\u0915\u094D\u200D\u0937.mp4', true],
    ['Persian with ZWNJ', '\u0645\u06CC\u200C\u062E\u0648\u0627\u0647\u0645.mp4', true],
    ['empty', '', false],
    ['blank', ' \u3000 ', false],
    ['U+FEFF alone', '\uFEFF', false],
    ['U+2028 alone', '\u2028', false],
    ['a line separator inside', 'a\u2028b', false],
    ['a newline', 'a\nb', false],
    ['a C1 control', 'a\u0085b', false],
    ['a right-to-left override', 'a\u202Eb', false],
    ['a lone surrogate', 'a\uD800b', false],
    ...[
      '\u200B',
      '\u200C',
      '\u200D',
      '\u200E',
      '\u200F',
      '\u061C',
      '\u2060',
      '\uFEFF',
      '\u{E0041}',
      '\u00AD',
      '\u3164',
      '\u115F',
      '\u1160',
      '\uFE0F',
      '\u{E007F}',
    ].flatMap((c): [string, string, boolean][] => {
      const code = `U+${c.codePointAt(0)?.toString(16).toUpperCase()}`;
      return [
        [`${code} alone`, c.repeat(c === '\uFEFF' ? 2 : 1), false],
        [`${code} first`, `${c}a.mp4`, false],
        [`${code} after a space`, `a ${c}.mp4`, false],
      ];
    }),
    ['a ZWJ at the end', 'a\u200D', false],
    ['two ZWJs', '\u{1F468}\u200D\u200D\u{1F469}', false],
    ['a zero width space between letters', 'a\u200Bb', false],
    ['a soft hyphen between letters', 'a\u00ADb', false],
    ['tag characters without the flag', 'a\u{E0067}\u{E0062}\u{E007F}', false],
    ['a flag sequence not cancelled', '\u{1F3F4}\u{E0067}\u{E0062}', false],
  ];

  test.each(SAMPLES)('%s: the contract and the server agree', (_name, name, accepted) => {
    expect([contractAccepts(name), serverAccepts(name)]).toEqual([accepted, accepted]);
  });

  test('any name of letters, spaces, controls, joiners, selectors and tags: the contract and the server agree', () => {
    const ALPHABET = [
      ...['a', '\u00E9', '\u0915', '\u094D', '\u06CC', '\u2764', '\u{1F468}', '\u{1F3F4}', ' ', '\u3000'],
      ...['\u200B', '\u200C', '\u200D', '\u2060', '\uFEFF', '\u00AD', '\u3164', '\u200E', '\u202E'],
      ...['\uFE0E', '\uFE0F', '\u{E0100}', '\u{E0067}', '\u{E0062}', '\u{E007F}', '\u{E0001}', '\n', '\u2028'],
    ];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...ALPHABET), { maxLength: 12 }), (characters) => {
        const name = characters.join('');
        expect(contractAccepts(name)).toBe(serverAccepts(name));
      }),
      { numRuns: 2000 },
    );
  });
});
