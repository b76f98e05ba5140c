import { activeTaskKey, ApiError, createTrackingClient, createVideoAnalyses, retryAfterSeconds } from '../../client';
import { memoryStorage } from '../support/memory-storage';

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

const task = (status: string, id = TASK) => ({ task_id: id, tenant_id: 't1', video_filename: 'a.mp4', status, created_at: '2026-11-28T17:18:52.254Z', updated_at: '2026-11-28T17:18:52.254Z' });
const unavailable = { status: 503, headers: { 'retry-after': '2' }, body: { type: '/problems/service-unavailable', title: 'Service unavailable', status: 503, detail: 'Retry.' } };

afterEach(() => jest.useRealTimers());

describe('createTrackingClient', () => {
  test('startAnalysis posts the tenant and video and tells a new task from a joined one', async () => {
    // GIVEN a server that creates, then answers the duplicate
    const { fetch, requests } = scriptedFetch((_r, i) =>
      i === 0 ? { status: 201, body: { task_id: TASK, status: 'not_started' } } : { status: 200, body: { task_id: TASK, status: 'running', message: 'Analysis already in progress' } },
    );
    const client = createTrackingClient({ baseUrl: 'http://api.test', fetch });
    // WHEN / THEN
    expect(await client.startAnalysis('t1', 'a.mp4')).toEqual({ created: true, taskId: TASK, status: 'not_started' });
    expect(await client.startAnalysis('t1', 'a.mp4')).toEqual({ created: false, taskId: TASK, status: 'running' });
    expect(requests[0]).toMatchObject({ method: 'POST', url: 'http://api.test/api/v1/track' });
    expect(JSON.parse(requests[0].body)).toEqual({ tenant_id: 't1', video_filename: 'a.mp4' });
  });

  test('a 503 is retried after its Retry-After, not before', async () => {
    jest.useFakeTimers();
    // GIVEN one 503 with Retry-After: 2, then success
    const { fetch, requests } = scriptedFetch((_r, i) => (i === 0 ? unavailable : { status: 201, body: { task_id: TASK, status: 'not_started' } }));
    const notices: unknown[] = [];
    const client = createTrackingClient({ baseUrl: 'http://api.test', fetch, onRetry: (n) => notices.push(n) });
    // WHEN
    const started = client.startAnalysis('t1', 'a.mp4');
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
    const error = await client.startAnalysis('t1', 'a.mp4').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 503, problemType: '/problems/service-unavailable', retryAfterSeconds: 0 });
    expect(requests).toHaveLength(3);
  });

  test('the token provider supplies the bearer token, and a new one after a 401', async () => {
    const { fetch, requests } = scriptedFetch((r) =>
      r.headers.get('authorization') === 'Bearer fresh' ? { status: 200, body: task('running') } : { status: 401, body: { message: 'Unauthorized' }, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } },
    );
    const asked: unknown[] = [];
    const client = createTrackingClient({ baseUrl: 'http://api.test', fetch, getToken: (tenant, { refresh }) => (asked.push([tenant, refresh]), refresh ? 'fresh' : 'stale') });
    expect(await client.getTask('t1', TASK)).toMatchObject({ status: 'running' });
    expect(requests.map((r) => r.headers.get('authorization'))).toEqual(['Bearer stale', 'Bearer fresh']);
    expect(asked).toEqual([['t1', false], ['t1', true]]);
  });

  test('getTask and getActiveTask answer undefined for a 404; cancelTask rejects a finished task with 409', async () => {
    const { fetch } = scriptedFetch((r) =>
      r.method === 'DELETE'
        ? { status: 409, body: { type: '/problems/task-finished', title: 'Task already finished', status: 409, detail: 'x', task_id: TASK, task_status: 'completed' } }
        : { status: 404, body: { type: '/problems/not-found', title: 'Not found', status: 404, detail: 'x' } },
    );
    const client = createTrackingClient({ baseUrl: 'http://api.test', fetch });
    expect(await client.getTask('t1', TASK)).toBeUndefined();
    expect(await client.getActiveTask('t1', 'a.mp4')).toBeUndefined();
    await expect(client.cancelTask('t1', TASK)).rejects.toMatchObject({ status: 409, body: { task_status: 'completed' } });
  });

  test('waitForTask backs off with jitter, honours Retry-After, and stops on a terminal status', async () => {
    jest.useFakeTimers();
    // GIVEN not_started, a 503 asking for 5 s, running, completed
    const replies: Reply[] = [{ status: 200, body: task('not_started') }, { ...unavailable, headers: { 'retry-after': '5' } }, { status: 200, body: task('running') }, { status: 200, body: task('completed') }];
    const { fetch, requests } = scriptedFetch((_r, i) => replies[i]);
    const at: number[] = [];
    const client = createTrackingClient({ baseUrl: 'http://api.test', fetch, random: () => 0.5 });
    const done = client.waitForTask('t1', TASK, { initialDelayMs: 1000, maxDelayMs: 3000, onUpdate: () => at.push(Date.now()) });
    // WHEN time passes
    await jest.advanceTimersByTimeAsync(60_000);
    // THEN it ends on completed after exactly four reads, pauses growing 750 ms (1000 with jitter 0.5), then max(1500, 5000), then 3000·0.75
    expect(await done).toMatchObject({ status: 'completed' });
    expect(requests).toHaveLength(4);
    expect(at.map((t) => t - at[0])).toEqual([0, 750 + 5000, 750 + 5000 + 2250]);
  });

  test('waitForTask stops when its signal aborts', async () => {
    const { fetch, requests } = scriptedFetch(() => ({ status: 200, body: task('running') }));
    const client = createTrackingClient({ baseUrl: 'http://api.test', fetch });
    const controller = new AbortController();
    const done = client.waitForTask('t1', TASK, { signal: controller.signal, initialDelayMs: 60_000 });
    await new Promise((r) => setTimeout(r, 20));
    controller.abort(new Error('page closed'));
    await expect(done).rejects.toThrow('page closed');
    expect(requests).toHaveLength(1);
  });

  test('Retry-After as seconds or as an HTTP date', () => {
    expect(retryAfterSeconds('3')).toBe(3);
    expect(retryAfterSeconds(new Date(Date.now() + 4000).toUTCString())).toBeGreaterThanOrEqual(3);
    expect(retryAfterSeconds('soon')).toBeUndefined();
    expect(retryAfterSeconds(null)).toBeUndefined();
  });
});

describe('createVideoAnalyses (the guide\'s localStorage advice)', () => {
  test('the key holds tenant and video, unambiguously, with the name NFC-normalised', () => {
    expect(activeTaskKey('t1', 'a.mp4')).not.toBe(activeTaskKey('t2', 'a.mp4'));
    expect(activeTaskKey('a', 'b:c')).not.toBe(activeTaskKey('a:b', 'c'));
    expect(activeTaskKey('t1', 'cafe\u0301.mp4')).toBe(activeTaskKey('t1', 'caf\u00e9.mp4'));
  });

  test('three clicks at once send one POST and store the id under the tenant-and-video key', async () => {
    const { fetch, requests } = scriptedFetch(async () => {
      await new Promise((r) => setTimeout(r, 20));
      return { status: 201, body: { task_id: TASK, status: 'not_started' } };
    });
    const storage = memoryStorage();
    const analyses = createVideoAnalyses({ client: createTrackingClient({ baseUrl: 'http://api.test', fetch }), storage, channelName: `t-${Math.random()}` });
    const results = await Promise.all([analyses.analyse('t1', 'a.mp4'), analyses.analyse('t1', 'a.mp4'), analyses.analyse('t1', 'a.mp4')]);
    expect(new Set(results.map((r) => r.taskId))).toEqual(new Set([TASK]));
    expect(requests.filter((r) => r.method === 'POST')).toHaveLength(1);
    expect(storage.map.get(activeTaskKey('t1', 'a.mp4'))).toBe(TASK);
    analyses.close();
  });

  test('a stored id is checked first: an active one is reused without a POST, a finished one removed and replaced', async () => {
    const storage = memoryStorage();
    storage.setItem(activeTaskKey('t1', 'a.mp4'), TASK);
    let status = 'running';
    const { fetch, requests } = scriptedFetch((r) =>
      r.method === 'GET' ? { status: 200, body: task(status) } : { status: 201, body: { task_id: NEXT, status: 'not_started' } },
    );
    const analyses = createVideoAnalyses({ client: createTrackingClient({ baseUrl: 'http://api.test', fetch }), storage, channelName: `t-${Math.random()}` });
    // WHEN the stored task is still running THEN it is joined
    expect(await analyses.analyse('t1', 'a.mp4')).toEqual({ taskId: TASK, status: 'running', created: false });
    expect(requests.map((r) => r.method)).toEqual(['GET']);
    // WHEN it has completed THEN the entry goes and a new task is started
    status = 'completed';
    expect(await analyses.analyse('t1', 'a.mp4')).toMatchObject({ taskId: NEXT, created: true });
    expect(requests.map((r) => r.method)).toEqual(['GET', 'GET', 'POST']);
    expect(storage.map.get(activeTaskKey('t1', 'a.mp4'))).toBe(NEXT);
    analyses.close();
  });

  test('follow removes the entry when the task ends; other instances (tabs) hear of every change', async () => {
    const channelName = `t-${Math.random()}`;
    const storage = memoryStorage();
    const { fetch } = scriptedFetch((r) => (r.method === 'POST' ? { status: 201, body: { task_id: TASK, status: 'not_started' } } : { status: 200, body: task('completed') }));
    const client = createTrackingClient({ baseUrl: 'http://api.test', fetch });
    const tab1 = createVideoAnalyses({ client, storage, channelName });
    const tab2 = createVideoAnalyses({ client, storage, channelName });
    const heard: unknown[] = [];
    tab2.onOtherTabChange((change) => heard.push(change));

    await tab1.analyse('t1', 'a.mp4');
    expect(await tab1.follow('t1', 'a.mp4', TASK, { initialDelayMs: 1 })).toMatchObject({ status: 'completed' });

    expect(storage.map.has(activeTaskKey('t1', 'a.mp4'))).toBe(false);
    await new Promise((r) => setTimeout(r, 50));
    expect(heard).toEqual([
      { tenantId: 't1', videoFilename: 'a.mp4', taskId: TASK },
      { tenantId: 't1', videoFilename: 'a.mp4', taskId: undefined },
    ]);
    tab1.close();
    tab2.close();
  });
});
