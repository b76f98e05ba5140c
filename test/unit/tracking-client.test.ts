import {
  ApiError,
  createTrackingClient,
  createVideoAnalyses,
  NetworkError,
  TaskNotFoundError,
  taskQueryOptions,
} from '../../client';
import { newIdempotencyKey, retryAfterSeconds } from '../../client/internal';
import {
  activeTaskQueryOptions,
  taskListQueryOptions,
  taskQueryOptions as typedTaskQueryOptions,
  videoTaskQueryOptions,
} from '../../client/tanstack';
import type { Task, TaskPage } from '../../client';
import { environmentManager, QueryClient, QueryObserver } from '@tanstack/query-core';
import { videoStorageKey } from '../../client/video-analyses';
import { memoryStorage } from '../support/memory-storage';
import { at } from '../support/at';

const TASK = '1ed83eec-0a4e-4b8f-9c36-7d3c1f1a2b3c';
const NEXT = '2ed83eec-0a4e-4b8f-9c36-7d3c1f1a2b3c';

type Reply = { status: number; body?: unknown; headers?: Record<string, string> };

/** A fetch that answers from a script and records every request (method, URL, headers, body). */
function scriptedFetch(answer: (request: Request, index: number) => Reply | Promise<Reply>) {
  const requests: { method: string; url: string; headers: Headers; body: string }[] = [];
  const fetch = (async (input: Request) => {
    requests.push({ method: input.method, url: input.url, headers: input.headers, body: await input.clone().text() });
    const reply = await answer(input, requests.length - 1);
    const problem = reply.status >= 400 && reply.body && typeof reply.body === 'object' && 'type' in reply.body;
    return new Response(reply.body === undefined ? null : JSON.stringify(reply.body), {
      status: reply.status,
      headers: { 'content-type': problem ? 'application/problem+json' : 'application/json', ...reply.headers },
    });
  }) as unknown as typeof globalThis.fetch;
  return { fetch, requests };
}

const task = (status: string, id = TASK) => ({
  task_id: id,
  tenant_id: 't1',
  video_filename: 'a.mp4',
  status,
  created_at: '2026-11-28T17:18:52.254Z',
  updated_at: '2026-11-28T17:18:52.254Z',
});
const unavailable = {
  status: 503,
  headers: { 'retry-after': '2' },
  body: { type: '/problems/service-unavailable', title: 'Service unavailable', status: 503, detail: 'Retry.' },
};

afterEach(() => jest.useRealTimers());

describe('createTrackingClient', () => {
  test('startAnalysis posts the tenant and video and tells a new task from a joined one', async () => {
    // GIVEN a server that creates, then answers the duplicate
    const { fetch, requests } = scriptedFetch((_r, i) =>
      i === 0
        ? { status: 201, body: { task_id: TASK, status: 'not_started' } }
        : { status: 200, body: { task_id: TASK, status: 'running', message: 'Analysis already in progress' } },
    );
    const client = createTrackingClient({ baseUrl: 'http://api.test', fetch });
    // WHEN / THEN
    expect(await client.startAnalysis({ tenantId: 't1', videoFilename: 'a.mp4' })).toEqual({
      created: true,
      replayed: false,
      taskId: TASK,
      status: 'not_started',
    });
    expect(await client.startAnalysis({ tenantId: 't1', videoFilename: 'a.mp4' })).toEqual({
      created: false,
      replayed: false,
      taskId: TASK,
      status: 'running',
    });
    expect(requests[0]).toMatchObject({ method: 'POST', url: 'http://api.test/api/v1/track' });
    expect(JSON.parse(at(requests, 0).body)).toEqual({ tenant_id: 't1', video_filename: 'a.mp4' });
  });

  test('startAnalysis sends one Idempotency-Key (an sf-string) on every retry of a call, a new one per call', async () => {
    jest.useFakeTimers();
    // GIVEN a lost answer (the request reached the server), a 503, then the server's replay of its first answer
    const { fetch, requests } = scriptedFetch((_r, i) => {
      if (i === 0 || i === 3) throw new TypeError('Failed to fetch');
      if (i === 1) return unavailable;
      return {
        status: 201,
        body: { task_id: TASK, status: 'not_started' },
        headers: { 'idempotent-replayed': 'true' },
      };
    });
    const client = createTrackingClient({ baseUrl: 'http://api.test', fetch, random: () => 0 });
    // WHEN two calls (two user actions) run, each through its retries
    const first = client.startAnalysis({ tenantId: 't1', videoFilename: 'a.mp4' });
    await jest.advanceTimersByTimeAsync(10_000);
    const second = client.startAnalysis({ tenantId: 't1', videoFilename: 'a.mp4' });
    await jest.advanceTimersByTimeAsync(10_000);
    // THEN every attempt of a call sent its key, quoted; the calls' keys differ; the replay is told
    expect(await first).toEqual({ created: true, replayed: true, taskId: TASK, status: 'not_started' });
    expect(await second).toMatchObject({ created: true, replayed: true });
    const keys = requests.map((r) => r.headers.get('idempotency-key'));
    expect(keys).toHaveLength(5);
    expect(keys[0]).toMatch(/^"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"$/);
    expect(keys.slice(0, 3)).toEqual([keys[0], keys[0], keys[0]]);
    expect(keys[3]).toMatch(/^"[0-9a-f-]{36}"$/);
    expect(keys[4]).toBe(keys[3]);
    expect(keys[3]).not.toBe(keys[0]);
  });

  test("startAnalysis sends the caller's idempotencyKey, escaped as an sf-string, and refuses one that is not ASCII", async () => {
    const { fetch, requests } = scriptedFetch(() => ({
      status: 200,
      body: { task_id: TASK, status: 'running', message: 'Analysis already in progress' },
      headers: { 'idempotent-replayed': '?1' },
    }));
    const client = createTrackingClient({ baseUrl: 'http://api.test', fetch });
    const video = { tenantId: 't1', videoFilename: 'a.mp4' };
    expect(await client.startAnalysis({ ...video, idempotencyKey: 'click-7' })).toMatchObject({ replayed: true });
    await client.startAnalysis({ ...video, idempotencyKey: 'say "hi" \\ bye' });
    expect(requests.map((r) => r.headers.get('idempotency-key'))).toEqual(['"click-7"', '"say \\"hi\\" \\\\ bye"']);
    await expect(client.startAnalysis({ ...video, idempotencyKey: 'café' })).rejects.toBeInstanceOf(RangeError);
    await expect(client.startAnalysis({ ...video, idempotencyKey: '' })).rejects.toBeInstanceOf(RangeError);
    expect(requests).toHaveLength(2);
  });

  test('a 503 is retried after its Retry-After, not before', async () => {
    jest.useFakeTimers();
    // GIVEN one 503 with Retry-After: 2, then success
    const { fetch, requests } = scriptedFetch((_r, i) =>
      i === 0 ? unavailable : { status: 201, body: { task_id: TASK, status: 'not_started' } },
    );
    const notices: unknown[] = [];
    const client = createTrackingClient({ baseUrl: 'http://api.test', fetch, onRetry: (n) => notices.push(n) });
    // WHEN
    const started = client.startAnalysis({ tenantId: 't1', videoFilename: 'a.mp4' });
    await jest.advanceTimersByTimeAsync(1999);
    // THEN nothing is sent again before 2 s, and exactly once after
    expect(requests).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(await started).toMatchObject({ created: true });
    expect(requests).toHaveLength(2);
    expect(notices).toEqual([{ status: 503, attempt: 1, delayMs: 2000 }]);
  });

  test('after maxAttempts the 503 surfaces as an ApiError with the problem and Retry-After', async () => {
    const { fetch, requests } = scriptedFetch(() => ({ ...unavailable, headers: { 'retry-after': '0' } }));
    const client = createTrackingClient({ baseUrl: 'http://api.test', fetch, maxAttempts: 3 });
    const error = await client.startAnalysis({ tenantId: 't1', videoFilename: 'a.mp4' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 503, problemType: '/problems/service-unavailable', retryAfterSeconds: 0 });
    expect(requests).toHaveLength(3);
  });

  test('the token provider supplies the bearer token, and a new one after a 401', async () => {
    const { fetch, requests } = scriptedFetch((r) =>
      r.headers.get('authorization') === 'Bearer fresh'
        ? { status: 200, body: task('running') }
        : {
            status: 401,
            body: { message: 'Unauthorized' },
            headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
          },
    );
    const asked: unknown[] = [];
    const client = createTrackingClient({
      baseUrl: 'http://api.test',
      fetch,
      getToken: ({ tenantId, refresh }) => (asked.push([tenantId, refresh]), refresh ? 'fresh' : 'stale'),
    });
    expect(await client.getTask({ tenantId: 't1', taskId: TASK })).toMatchObject({ status: 'running' });
    expect(requests.map((r) => r.headers.get('authorization'))).toEqual(['Bearer stale', 'Bearer fresh']);
    expect(asked).toEqual([
      ['t1', false],
      ['t1', true],
    ]);
  });

  test('getTask and cancelTask reject an unknown task with TaskNotFoundError; findActiveTask answers undefined; a finished task is a 409', async () => {
    const { fetch } = scriptedFetch((r) =>
      r.method === 'DELETE'
        ? {
            status: 409,
            body: {
              type: '/problems/task-finished',
              title: 'Task already finished',
              status: 409,
              detail: 'x',
              task_id: TASK,
              task_status: 'completed',
            },
          }
        : { status: 404, body: { type: '/problems/not-found', title: 'Not found', status: 404, detail: 'x' } },
    );
    const client = createTrackingClient({ baseUrl: 'http://api.test', fetch });
    const missing = await client.getTask({ tenantId: 't1', taskId: TASK }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(TaskNotFoundError);
    expect(missing).toMatchObject({ status: 404, taskId: TASK, problemType: '/problems/not-found' });
    expect(await client.findActiveTask({ tenantId: 't1', videoFilename: 'a.mp4' })).toBeUndefined();
    await expect(client.cancelTask({ tenantId: 't1', taskId: TASK })).rejects.toMatchObject({
      status: 409,
      body: { task_status: 'completed' },
    });
    const { fetch: missingFetch } = scriptedFetch(() => ({
      status: 404,
      body: { type: '/problems/not-found', title: 'Not found', status: 404, detail: 'x' },
    }));
    await expect(
      createTrackingClient({ baseUrl: 'http://api.test', fetch: missingFetch }).cancelTask({
        tenantId: 't1',
        taskId: TASK,
      }),
    ).rejects.toBeInstanceOf(TaskNotFoundError);
  });

  test('waitForTask backs off with jitter, retries a 503 after its Retry-After, and stops on a terminal status', async () => {
    jest.useFakeTimers();
    // GIVEN not_started, a 503 asking for 5 s, running, completed
    const replies: Reply[] = [
      { status: 200, body: task('not_started') },
      { ...unavailable, headers: { 'retry-after': '5' } },
      { status: 200, body: task('running') },
      { status: 200, body: task('completed') },
    ];
    const { fetch, requests } = scriptedFetch((_r, i) => at(replies, i));
    const updatedAt: number[] = [];
    const client = createTrackingClient({ baseUrl: 'http://api.test', fetch, random: () => 0.5 });
    const done = client.waitForTask({
      tenantId: 't1',
      taskId: TASK,
      initialDelayMs: 1000,
      maxDelayMs: 3000,
      onUpdate: () => updatedAt.push(Date.now()),
    });
    // WHEN time passes
    await jest.advanceTimersByTimeAsync(60_000);
    // THEN it ends on completed after exactly four requests: a pause of 750 ms (1000 with jitter 0.5), the 503 retried
    // after its 5 s, then 2000·0.75
    expect(await done).toMatchObject({ status: 'completed' });
    expect(requests).toHaveLength(4);
    expect(updatedAt.map((t) => t - at(updatedAt, 0))).toEqual([0, 750 + 5000, 750 + 5000 + 1500]);
  });

  test('waitForTask stops when its signal aborts', async () => {
    const { fetch, requests } = scriptedFetch(() => ({ status: 200, body: task('running') }));
    const client = createTrackingClient({ baseUrl: 'http://api.test', fetch });
    const controller = new AbortController();
    const done = client.waitForTask({
      tenantId: 't1',
      taskId: TASK,
      signal: controller.signal,
      initialDelayMs: 60_000,
    });
    await new Promise((r) => setTimeout(r, 20));
    controller.abort(new Error('page closed'));
    await expect(done).rejects.toThrow('page closed');
    expect(requests).toHaveLength(1);
  });

  test('every call returns camelCase: getTask, listTasks (with its query), cancelTask', async () => {
    const { fetch, requests } = scriptedFetch((r) =>
      r.url.includes('/api/v1/track?')
        ? {
            status: 200,
            body: { tasks: [{ ...task('failed'), error: { error: 'States.Timeout' } }], next_cursor: 'c2' },
          }
        : { status: 200, body: { ...task('completed'), result: { labels: 3 } } },
    );
    const client = createTrackingClient({ baseUrl: 'http://api.test', fetch });
    expect(await client.getTask({ tenantId: 't1', taskId: TASK })).toEqual({
      taskId: TASK,
      tenantId: 't1',
      videoFilename: 'a.mp4',
      status: 'completed',
      createdAt: '2026-11-28T17:18:52.254Z',
      updatedAt: '2026-11-28T17:18:52.254Z',
      result: { labels: 3 },
    });
    const page = await client.listTasks({ tenantId: 't1', limit: 10, cursor: 'c1', status: 'finished' });
    expect(page).toEqual({
      tasks: [expect.objectContaining({ taskId: TASK, status: 'failed', error: { error: 'States.Timeout' } })],
      nextCursor: 'c2',
    });
    const query = new URL(at(requests, 1).url).searchParams;
    expect(Object.fromEntries(query)).toEqual({ tenant_id: 't1', limit: '10', cursor: 'c1', status: 'finished' });
    expect(await client.cancelTask({ tenantId: 't1', taskId: TASK })).toMatchObject({ taskId: TASK });
  });

  test('a refused cursor is an ApiError 400; listTasks without a tenant sends none (the token names it)', async () => {
    const invalid = {
      type: '/problems/invalid-request',
      title: 'Invalid request',
      status: 400,
      detail: 'The cursor is not valid.',
      field: 'cursor',
    };
    const { fetch, requests } = scriptedFetch((r) =>
      r.url.includes('cursor=')
        ? { status: 400, body: invalid }
        : { status: 200, body: { tasks: [], next_cursor: null } },
    );
    const client = createTrackingClient({ baseUrl: 'http://api.test', fetch, getToken: () => 'token' });
    expect(await client.listTasks()).toEqual({ tasks: [], nextCursor: null });
    expect(at(requests, 0).url).toBe('http://api.test/api/v1/track');
    await expect(client.listTasks({ cursor: 'tampered' })).rejects.toMatchObject({
      status: 400,
      body: { field: 'cursor' },
    });
    expect(requests).toHaveLength(2);
  });

  test('network errors and 5xx are retried for every call with the same backoff, bounded by maxAttempts', async () => {
    jest.useFakeTimers();
    // GIVEN a connection reset, a 502 from a proxy, then the answer
    const { fetch, requests } = scriptedFetch((_r, i) => {
      if (i === 0) throw new TypeError('fetch failed');
      return i === 1 ? { status: 502, body: { message: 'Bad Gateway' } } : { status: 200, body: task('running') };
    });
    const notices: unknown[] = [];
    const client = createTrackingClient({
      baseUrl: 'http://api.test',
      fetch,
      random: () => 0,
      onRetry: (n) => notices.push(n),
    });
    const read = client.getTask({ tenantId: 't1', taskId: TASK });
    await jest.advanceTimersByTimeAsync(10_000);
    // THEN the third attempt answers, after 250 ms and 500 ms (equal jitter with random 0)
    expect(await read).toMatchObject({ taskId: TASK });
    expect(notices).toEqual([
      { status: undefined, attempt: 1, delayMs: 250 },
      { status: 502, attempt: 2, delayMs: 500 },
    ]);
    expect(requests).toHaveLength(3);
    // AND a network error that never ends gives up after maxAttempts with the error itself
    const { fetch: down, requests: tries } = scriptedFetch(() => {
      throw new TypeError('fetch failed');
    });
    const failing = createTrackingClient({ baseUrl: 'http://api.test', fetch: down, maxAttempts: 3 })
      .cancelTask({ tenantId: 't1', taskId: TASK })
      .catch((e: unknown) => e);
    await jest.advanceTimersByTimeAsync(60_000);
    const final = await failing;
    expect(final).toBeInstanceOf(TypeError);
    // whose message says a CORS refusal looks the same, and where the allowed origins are set
    expect(final).toBeInstanceOf(NetworkError);
    expect(final).toMatchObject({ name: 'NetworkError', attempts: 3, cause: expect.any(TypeError) });
    expect((final as Error).message).toMatch(
      /after 3 attempt\(s\) \(fetch failed\).*CORS.*corsAllowOrigins.*CORS_ALLOW_ORIGINS/,
    );
    expect(tries).toHaveLength(3);
  });

  test('a 429 for the tenant quota is not retried (waiting would not help); an aborted request is not retried', async () => {
    const quota = {
      status: 429,
      headers: { 'retry-after': '60' },
      body: { type: '/problems/tenant-quota-exceeded', title: 'Quota exceeded', status: 429, detail: 'x' },
    };
    const { fetch, requests } = scriptedFetch(() => quota);
    const client = createTrackingClient({ baseUrl: 'http://api.test', fetch });
    await expect(client.startAnalysis({ tenantId: 't1', videoFilename: 'a.mp4' })).rejects.toMatchObject({
      status: 429,
      problemType: '/problems/tenant-quota-exceeded',
    });
    expect(requests).toHaveLength(1);

    const controller = new AbortController();
    const { fetch: hanging, requests: sent } = scriptedFetch(
      (r) =>
        new Promise((_resolve, reject) => r.signal.addEventListener('abort', () => reject(r.signal.reason as Error))),
    );
    const pending = createTrackingClient({ baseUrl: 'http://api.test', fetch: hanging }).getTask({
      tenantId: 't1',
      taskId: TASK,
      signal: controller.signal,
    });
    await new Promise((r) => setTimeout(r, 10));
    controller.abort(new Error('left the page'));
    await expect(pending).rejects.toThrow('left the page');
    expect(sent).toHaveLength(1);
  });

  test('two waitForTask calls for one task share one polling: one request per round, both hear every update', async () => {
    let status = 'running';
    const { fetch, requests } = scriptedFetch(() => ({ status: 200, body: task(status) }));
    const client = createTrackingClient({ baseUrl: 'http://api.test', fetch });
    const heard: [string[], string[]] = [[], []];
    const first = client.waitForTask({
      tenantId: 't1',
      taskId: TASK,
      initialDelayMs: 40,
      maxDelayMs: 40,
      onUpdate: (t) => heard[0].push(t.status),
    });
    const second = client.waitForTask({ tenantId: 't1', taskId: TASK, onUpdate: (t) => heard[1].push(t.status) });
    await new Promise((r) => setTimeout(r, 70));
    status = 'completed';
    expect(await first).toEqual(await second);
    expect(requests.length).toBeGreaterThanOrEqual(2);
    expect(requests.length).toBe(heard[0].length);
    expect(heard[0].at(-1)).toBe('completed');
    expect(heard[1].at(-1)).toBe('completed');
    // AND another task, or a later call, polls on its own
    await client.waitForTask({ tenantId: 't1', taskId: TASK });
    expect(requests.length).toBe(heard[0].length + 1);
  });

  test('waitForTask: one caller aborting leaves the shared polling to the other; the last one stops it', async () => {
    const { fetch, requests } = scriptedFetch(() => ({ status: 200, body: task('running') }));
    const client = createTrackingClient({ baseUrl: 'http://api.test', fetch });
    const [a, b] = [new AbortController(), new AbortController()];
    const first = client.waitForTask({
      tenantId: 't1',
      taskId: TASK,
      signal: a.signal,
      initialDelayMs: 20,
      maxDelayMs: 20,
    });
    const second = client.waitForTask({ tenantId: 't1', taskId: TASK, signal: b.signal });
    a.abort(new Error('a left'));
    await expect(first).rejects.toThrow('a left');
    await new Promise((r) => setTimeout(r, 60));
    const whileB = requests.length;
    expect(whileB).toBeGreaterThanOrEqual(2);
    b.abort(new Error('b left'));
    await expect(second).rejects.toThrow('b left');
    await new Promise((r) => setTimeout(r, 60));
    expect(requests.length).toBeLessThanOrEqual(whileB + 1);
  });

  test('taskQueryOptions: a TanStack-style query key, a query function, and polling only while the task is active', async () => {
    const { fetch } = scriptedFetch(() => ({ status: 200, body: task('running') }));
    const client = createTrackingClient({ baseUrl: 'http://api.test', fetch });
    const options = taskQueryOptions(client, { tenantId: 't1', taskId: TASK }, 1500);
    expect(options.queryKey).toEqual(['video-tracking', 'task', 't1', TASK]);
    const running = await options.queryFn({ signal: new AbortController().signal });
    expect(running).toMatchObject({ taskId: TASK, status: 'running' });
    expect(options.refetchInterval({ state: { data: undefined } })).toBe(1500);
    expect(options.refetchInterval({ state: { data: running } })).toBe(1500);
    expect(options.refetchInterval({ state: { data: { ...running, status: 'completed' } } })).toBe(false);
  });

  test('a key is a version-4 UUID also where crypto.randomUUID is missing (a page over plain http)', () => {
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    Object.defineProperty(crypto, 'randomUUID', { value: undefined, configurable: true });
    try {
      expect(typeof crypto.randomUUID).toBe('undefined');
      expect(newIdempotencyKey()).toMatch(uuid);
      expect(newIdempotencyKey()).not.toBe(newIdempotencyKey());
    } finally {
      delete (crypto as { randomUUID?: unknown }).randomUUID;
    }
    expect(newIdempotencyKey()).toMatch(uuid);
  });

  test('Retry-After as seconds or as an HTTP date', () => {
    expect(retryAfterSeconds('3')).toBe(3);
    expect(retryAfterSeconds(new Date(Date.now() + 4000).toUTCString())).toBeGreaterThanOrEqual(3);
    expect(retryAfterSeconds('soon')).toBeUndefined();
    expect(retryAfterSeconds(null)).toBeUndefined();
  });
});

describe("createVideoAnalyses (the guide's localStorage advice)", () => {
  test('the key holds tenant and video, unambiguously, with the name NFC-normalised', () => {
    expect(videoStorageKey('t1', 'a.mp4')).not.toBe(videoStorageKey('t2', 'a.mp4'));
    expect(videoStorageKey('a', 'b:c')).not.toBe(videoStorageKey('a:b', 'c'));
    expect(videoStorageKey('t1', 'cafe\u0301.mp4')).toBe(videoStorageKey('t1', 'caf\u00e9.mp4'));
  });

  test('three clicks at once send one POST and store the id under the tenant-and-video key', async () => {
    const { fetch, requests } = scriptedFetch(async () => {
      await new Promise((r) => setTimeout(r, 20));
      return { status: 201, body: { task_id: TASK, status: 'not_started' } };
    });
    const storage = memoryStorage();
    const analyses = createVideoAnalyses({
      client: createTrackingClient({ baseUrl: 'http://api.test', fetch }),
      storage,
      channelName: `t-${Math.random()}`,
    });
    const video = { tenantId: 't1', videoFilename: 'a.mp4' };
    const results = await Promise.all([
      analyses.analyseVideo(video),
      analyses.analyseVideo(video),
      analyses.analyseVideo(video),
    ]);
    expect(new Set(results.map((r) => r.taskId))).toEqual(new Set([TASK]));
    expect(requests.filter((r) => r.method === 'POST')).toHaveLength(1);
    expect(storage.map.get(videoStorageKey('t1', 'a.mp4'))).toBe(TASK);
    // AND a later click is another user action: another key
    await analyses.analyseVideo({ tenantId: 't1', videoFilename: 'b.mp4' });
    const keys = requests.filter((r) => r.method === 'POST').map((r) => r.headers.get('idempotency-key'));
    expect(keys).toHaveLength(2);
    expect(new Set(keys).size).toBe(2);
    analyses.close();
  });

  test('a stored id is checked first: an active one is reused without a POST, a finished one removed and replaced', async () => {
    const storage = memoryStorage();
    storage.setItem(videoStorageKey('t1', 'a.mp4'), TASK);
    let status = 'running';
    const { fetch, requests } = scriptedFetch((r) =>
      r.method === 'GET'
        ? { status: 200, body: task(status) }
        : { status: 201, body: { task_id: NEXT, status: 'not_started' } },
    );
    const analyses = createVideoAnalyses({
      client: createTrackingClient({ baseUrl: 'http://api.test', fetch }),
      storage,
      channelName: `t-${Math.random()}`,
    });
    // WHEN the stored task is still running THEN it is joined
    expect(await analyses.analyseVideo({ tenantId: 't1', videoFilename: 'a.mp4' })).toEqual({
      taskId: TASK,
      status: 'running',
      created: false,
      replayed: false,
    });
    expect(requests.map((r) => r.method)).toEqual(['GET']);
    // WHEN it has completed THEN the entry goes and a new task is started
    status = 'completed';
    expect(await analyses.analyseVideo({ tenantId: 't1', videoFilename: 'a.mp4' })).toMatchObject({
      taskId: NEXT,
      created: true,
    });
    expect(requests.map((r) => r.method)).toEqual(['GET', 'GET', 'POST']);
    expect(storage.map.get(videoStorageKey('t1', 'a.mp4'))).toBe(NEXT);
    analyses.close();
  });

  test("with a token the ids are kept under the token's tenant: two tenants signed in one after the other share none", async () => {
    // GIVEN unsigned JWTs as an identity provider would hand out (the client only decodes them)
    const jwt = (claims: object) => `e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.c2lnbmF0dXJl`;
    let token = jwt({ 'custom:tenant_id': 'acme', sub: 'u1', iss: 'https://idp' });
    let next = TASK;
    const { fetch, requests } = scriptedFetch((r) =>
      r.method === 'POST'
        ? { status: 201, body: { task_id: next, status: 'not_started' } }
        : { status: 200, body: task('running', r.url.includes(NEXT) ? NEXT : TASK) },
    );
    const client = createTrackingClient({ baseUrl: 'http://api.test', fetch, getToken: () => token });
    const storage = memoryStorage();
    const analyses = createVideoAnalyses({ client, storage, channelName: `t-${Math.random()}` });
    const video = { videoFilename: 'a.mp4' };
    // WHEN acme's user starts an analysis
    await analyses.analyseVideo(video);
    // THEN it is stored under acme, not under "no tenant"
    expect([...storage.map.keys()]).toEqual([videoStorageKey('acme', 'a.mp4')]);
    expect(await analyses.storedTaskId(video)).toBe(TASK);
    // WHEN another tenant's user (ü: the payload is UTF-8) signs in on the same browser
    token = jwt({ 'custom:tenant_id': 'globex-ü', sub: 'u2', iss: 'https://idp' });
    next = NEXT;
    // THEN acme's id is neither shown nor reused: the click starts globex's own task
    expect(await analyses.resumeVideo(video)).toBeNull();
    expect(await analyses.analyseVideo(video)).toMatchObject({ taskId: NEXT, created: true });
    expect(storage.map.get(videoStorageKey('globex-ü', 'a.mp4'))).toBe(NEXT);
    expect(storage.map.get(videoStorageKey('acme', 'a.mp4'))).toBe(TASK);
    expect(requests.filter((r) => r.method === 'POST')).toHaveLength(2);
    expect(await client.tokenClaims()).toMatchObject({ 'custom:tenant_id': 'globex-ü' });
    // AND a token without the claim keys by its user; a token that is no JWT stores nothing
    token = jwt({ sub: 'u3', iss: 'https://idp' });
    await analyses.analyseVideo({ videoFilename: 'b.mp4' });
    expect(storage.map.get(videoStorageKey({ iss: 'https://idp', sub: 'u3' }, 'b.mp4'))).toBe(NEXT);
    token = 'opaque-token';
    await analyses.analyseVideo({ videoFilename: 'c.mp4' });
    expect(storage.map.size).toBe(3);
    expect(await analyses.storedTaskId({ videoFilename: 'c.mp4' })).toBeUndefined();
    analyses.close();
  });

  test('followVideoTask removes the entry when the task ends; other instances (tabs) hear of every change', async () => {
    const channelName = `t-${Math.random()}`;
    const storage = memoryStorage();
    const { fetch } = scriptedFetch((r) =>
      r.method === 'POST'
        ? { status: 201, body: { task_id: TASK, status: 'not_started' } }
        : { status: 200, body: task('completed') },
    );
    const client = createTrackingClient({ baseUrl: 'http://api.test', fetch });
    const tab1 = createVideoAnalyses({ client, storage, channelName });
    const tab2 = createVideoAnalyses({ client, storage, channelName });
    const heard: unknown[] = [];
    tab2.onOtherTabChange((change) => heard.push(change));

    await tab1.analyseVideo({ tenantId: 't1', videoFilename: 'a.mp4' });
    expect(
      await tab1.followVideoTask({ tenantId: 't1', videoFilename: 'a.mp4', taskId: TASK, initialDelayMs: 1 }),
    ).toMatchObject({ status: 'completed' });

    expect(storage.map.has(videoStorageKey('t1', 'a.mp4'))).toBe(false);
    await new Promise((r) => setTimeout(r, 50));
    expect(heard).toEqual([
      { tenantId: 't1', videoFilename: 'a.mp4', taskId: TASK },
      { tenantId: 't1', videoFilename: 'a.mp4', taskId: undefined },
    ]);
    tab1.close();
    tab2.close();
  });
});

/** true when A and B are the same type, else false (an assignment of `true` then fails to compile). */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

describe('@video-tracking/client/tanstack (against @tanstack/query-core)', () => {
  const newClient = (fetch: typeof globalThis.fetch) => createTrackingClient({ baseUrl: 'http://api.test', fetch });

  test('typed keys: the cache answers a Task, a TaskPage, a Task or null; never unknown, never undefined data', async () => {
    const { fetch, requests } = scriptedFetch((r) => {
      const url = new URL(r.url);
      if (url.pathname !== '/api/v1/track') return { status: 200, body: task('completed') };
      if (url.searchParams.has('video_filename')) return { status: 404, body: { message: 'none' } };
      return { status: 200, body: { tasks: [task('running')], next_cursor: 'c2' } };
    });
    const client = newClient(fetch);
    const queryClient = new QueryClient();
    const one = typedTaskQueryOptions(client, { tenantId: 't1', taskId: TASK });
    const page2 = taskListQueryOptions(client, { tenantId: 't1', limit: 5, cursor: 'c1' });
    const active = activeTaskQueryOptions(client, { tenantId: 't1', videoFilename: 'a.mp4' });

    await queryClient.fetchQuery(one);
    await queryClient.fetchQuery(page2);
    await queryClient.fetchQuery(active);

    // Inferred from the keys alone (an annotation would infer getQueryData's result from itself): each type exactly.
    const cachedTask = queryClient.getQueryData(one.queryKey);
    const cachedPage = queryClient.getQueryData(page2.queryKey);
    const cachedActive = queryClient.getQueryData(active.queryKey);
    const exact: [Same<typeof cachedTask, Task | undefined>, Same<typeof cachedPage, TaskPage | undefined>] = [
      true,
      true,
    ];
    const exactActive: Same<typeof cachedActive, Task | null | undefined> = true;
    void [exact, exactActive];
    expect(cachedTask).toMatchObject({ taskId: TASK, status: 'completed' });
    expect(cachedPage).toMatchObject({ nextCursor: 'c2', tasks: [{ status: 'running' }] });
    expect(cachedActive).toBeNull();
    // The cursor and the filters are in the key (one cache entry per page), and in the request.
    expect(page2.queryKey).toEqual(['video-tracking', 'tasks', 't1', { limit: 5, cursor: 'c1', status: null }]);
    expect(requests.map((r) => new URL(r.url).search)).toContain('?tenant_id=t1&limit=5&cursor=c1');
    expect(one.queryKey).toEqual(['video-tracking', 'task', 't1', TASK]);
    // The client retries: TanStack's own retry is off unless the caller says otherwise.
    expect([one.retry, page2.retry, active.retry]).toEqual([false, false, false]);
    queryClient.clear();
  });

  test('videoTaskQueryOptions is the only loop: one GET per interval while active, none after; the stored id removed', async () => {
    const statuses = ['not_started', 'running', 'running', 'completed'];
    let reads = 0;
    const { fetch, requests } = scriptedFetch((r) =>
      r.method === 'POST'
        ? { status: 201, body: { task_id: TASK, status: 'not_started' } }
        : { status: 200, body: task(statuses[Math.min(reads++, statuses.length - 1)]!) },
    );
    const storage = memoryStorage();
    const analyses = createVideoAnalyses({ client: newClient(fetch), storage, channelName: `t-${Math.random()}` });
    const video = { tenantId: 't1', videoFilename: 'a.mp4' };
    const { taskId } = await analyses.analyseVideo(video);
    expect(storage.map.get(videoStorageKey('t1', 'a.mp4'))).toBe(TASK);
    // Node.js has no window, which TanStack takes for a server, where nothing polls: a browser's behaviour here.
    environmentManager.setIsServer(() => false);
    try {
      const queryClient = new QueryClient();
      const seen: string[] = [];
      const observer = new QueryObserver(
        queryClient,
        videoTaskQueryOptions(analyses, { ...video, taskId }, { intervalMs: 40 }),
      );
      const done = new Promise<void>((resolve) =>
        observer.subscribe((result) => {
          if (result.data && seen.at(-1) !== result.data.status) seen.push(result.data.status);
          if (result.data?.status === 'completed') resolve();
        }),
      );

      await done;
      await new Promise((r) => setTimeout(r, 200));

      const gets = requests.filter((r) => r.method === 'GET');
      expect(seen).toEqual(['not_started', 'running', 'completed']);
      expect(gets).toHaveLength(4);
      expect(storage.map.has(videoStorageKey('t1', 'a.mp4'))).toBe(false);
      observer.destroy();
      queryClient.clear();
      analyses.close();
    } finally {
      environmentManager.setIsServer(() => !('window' in globalThis));
    }
  });

  test('videoTaskQueryOptions: an unknown task removes the stored id and is the query error', async () => {
    const { fetch } = scriptedFetch((r) =>
      r.method === 'POST'
        ? { status: 201, body: { task_id: TASK, status: 'not_started' } }
        : { status: 404, body: { type: '/problems/task-not-found', title: 'Not found', status: 404, detail: 'x' } },
    );
    const storage = memoryStorage();
    const analyses = createVideoAnalyses({ client: newClient(fetch), storage, channelName: `t-${Math.random()}` });
    const video = { tenantId: 't1', videoFilename: 'a.mp4' };
    const { taskId } = await analyses.analyseVideo(video);
    const queryClient = new QueryClient();
    await expect(queryClient.fetchQuery(videoTaskQueryOptions(analyses, { ...video, taskId }))).rejects.toBeInstanceOf(
      TaskNotFoundError,
    );
    expect(storage.map.has(videoStorageKey('t1', 'a.mp4'))).toBe(false);
    queryClient.clear();
    analyses.close();
  });
});
