import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { ApiError, createTrackingClient, createVideoAnalyses, TaskNotFoundError } from '../../client';
import { videoStorageKey } from '../../client/video-analyses';
import { requestLocalToken } from '../../tools/token/token-command';
import { memoryStorage } from '../support/memory-storage';
import {
  contractFetch,
  env,
  executionsOf,
  holdExecutions,
  itemsOf,
  present,
  releaseExecutions,
  uniqueTenant,
} from './support';

// The client (client/) in Node.js against the local API; every answer it gets is checked against docs/openapi.yaml.
const client = createTrackingClient({ baseUrl: env.apiUrl, fetch: contractFetch });

describe('the client in Node.js, against the local API', () => {
  test('start, join, read the active task, wait for completion, start again', async () => {
    const tenantId = uniqueTenant('client');
    const video = { tenantId, videoFilename: 'clip.mp4' };
    const first = await client.startAnalysis(video);
    const again = await client.startAnalysis(video);
    expect(first).toMatchObject({ created: true, status: 'not_started' });
    expect(again).toMatchObject({ created: false, taskId: first.taskId });
    expect((await client.findActiveTask(video))?.taskId).toBe(first.taskId);

    const seen: string[] = [];
    const done = await client.waitForTask({
      tenantId,
      taskId: first.taskId,
      initialDelayMs: 200,
      maxDelayMs: 1000,
      onUpdate: (t) => seen.push(t.status),
    });

    expect(done).toMatchObject({ taskId: first.taskId, tenantId, videoFilename: 'clip.mp4', status: 'completed' });
    expect(seen.at(-1)).toBe('completed');
    expect(await client.findActiveTask(video)).toBeUndefined();
    expect((await client.startAnalysis(video)).created).toBe(true);
  });

  test('cancel, then cancelling a completed task is a 409 ApiError; an unknown id is TaskNotFoundError', async () => {
    const tenantId = uniqueTenant('client-cancel');
    await holdExecutions(tenantId);
    const { taskId } = await client.startAnalysis({ tenantId, videoFilename: 'c.mp4' });
    expect((await client.cancelTask({ tenantId, taskId })).status).toBe('cancelled');
    await releaseExecutions(tenantId);
    await expect(client.getTask({ tenantId, taskId: '00000000-0000-4000-8000-000000000000' })).rejects.toBeInstanceOf(
      TaskNotFoundError,
    );

    const other = await client.startAnalysis({ tenantId, videoFilename: 'd.mp4' });
    await client.waitForTask({ tenantId, taskId: other.taskId, initialDelayMs: 200, maxDelayMs: 1000 });
    const error = await client.cancelTask({ tenantId, taskId: other.taskId }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({
      status: 409,
      problemType: '/problems/task-finished',
      body: { task_status: 'completed' },
    });
  });

  test('VideoAnalyses: one POST for concurrent calls, the entry kept while active and removed when it ends', async () => {
    const tenantId = uniqueTenant('client-cache');
    await holdExecutions(tenantId);
    const storage = memoryStorage();
    const analyses = createVideoAnalyses({ client, storage, channelName: `test-${tenantId}` });
    const video = { tenantId, videoFilename: 'e.mp4' };
    try {
      const results = await Promise.all([1, 2, 3].map(() => analyses.analyseVideo(video)));
      expect(new Set(results.map((r) => r.taskId)).size).toBe(1);
      expect(await executionsOf(tenantId)).toHaveLength(1);
      expect(storage.map.get(videoStorageKey(tenantId, 'e.mp4'))).toBe(results[0]?.taskId);
      expect((await analyses.resumeVideo(video))?.taskId).toBe(results[0]?.taskId);

      await releaseExecutions(tenantId);
      await analyses.followVideoTask({
        ...video,
        taskId: present(results[0], 'a result').taskId,
        initialDelayMs: 200,
        maxDelayMs: 1000,
      });
      expect(storage.map.size).toBe(0);
    } finally {
      analyses.close();
    }
  });

  test('with a token (the AUTH=jwt front end) no call names a tenant: the server takes it from the token', async () => {
    const jwtApi = process.env.LOCAL_JWT_API_URL!;
    const tenantId = uniqueTenant('client-token');
    const sent: string[] = [];
    const tokenClient = createTrackingClient({
      baseUrl: jwtApi,
      getToken: () => requestLocalToken(jwtApi, tenantId),
      fetch: (input) => (sent.push(`${(input as Request).method} ${(input as Request).url}`), contractFetch(input)),
    });
    const { taskId, created } = await tokenClient.startAnalysis({ videoFilename: 'token.mp4' });
    expect(created).toBe(true);
    expect(await tokenClient.getTask({ taskId })).toMatchObject({ taskId, tenantId });
    expect((await tokenClient.findActiveTask({ videoFilename: 'token.mp4' }))?.taskId).toBe(taskId);
    expect(await tokenClient.waitForTask({ taskId, initialDelayMs: 200, maxDelayMs: 1000 })).toMatchObject({
      tenantId,
      status: 'completed',
    });
    // No request named the tenant; the task is stored under the token's tenant.
    expect(sent.filter((line) => line.includes('tenant_id'))).toEqual([]);
    expect((await itemsOf(tenantId)).length).toBeGreaterThan(0);
  });
});

/**
 * A forwarding server on 127.0.0.1 in front of the local API that dies mid-request once: it forwards the first POST
 * (so the task is created), then drops the caller's connection unanswered and stops listening; it listens again on
 * the same port after `downMs`.
 */
async function dyingProxy(target: string, downMs: number) {
  const sockets = new Set<Socket>();
  let killed = false;
  let restarted!: () => void;
  const back = new Promise<void>((resolve) => (restarted = resolve));
  const forward = (req: IncomingMessage, res: ServerResponse, onAnswer: (status: number) => void) => {
    // As a reverse proxy presents itself upstream: the local API answers only its own Host.
    const upstream = request(
      new URL(req.url!, target),
      { method: req.method, headers: { ...req.headers, host: new URL(target).host } },
      (answer) => {
        onAnswer(answer.statusCode!);
        if (res.destroyed) return void answer.resume();
        res.writeHead(answer.statusCode!, answer.headers);
        answer.pipe(res);
      },
    );
    req.pipe(upstream);
  };
  const handler = (req: IncomingMessage, res: ServerResponse) =>
    forward(req, res, () => {
      if (killed || req.method !== 'POST') return;
      killed = true;
      res.destroy();
      for (const socket of sockets) socket.destroy();
      server.close();
      setTimeout(() => void listen(port).then(restarted), downMs);
    });
  let server: Server;
  const listen = (p: number) =>
    new Promise<number>((resolve) => {
      server = createServer(handler);
      server.on('connection', (socket) => (sockets.add(socket), socket.once('close', () => sockets.delete(socket))));
      server.listen(p, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
    });
  const port = await listen(0);
  return {
    url: `http://127.0.0.1:${port}`,
    back,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

test('the server killed and restarted mid-request: the client retries to the task the first attempt created', async () => {
  // GIVEN a server that dies after the API created the task, before answering, and comes back 400 ms later
  const proxy = await dyingProxy(env.apiUrl, 400);
  const tenantId = uniqueTenant('client-restart');
  await holdExecutions(tenantId);
  const notices: (number | undefined)[] = [];
  try {
    const retrying = createTrackingClient({
      baseUrl: proxy.url,
      maxAttempts: 6,
      onRetry: (n) => notices.push(n.status),
    });
    // WHEN the caller starts the analysis
    const started = await retrying.startAnalysis({ tenantId, videoFilename: 'restart.mp4' });
    await proxy.back;
    // THEN it gets the task its first attempt created (joined, not a second one), after network-error retries
    expect(started.created).toBe(false);
    expect(notices.length).toBeGreaterThanOrEqual(1);
    expect(notices.every((status) => status === undefined)).toBe(true);
    expect(await executionsOf(tenantId)).toHaveLength(1);
    expect((await client.findActiveTask({ tenantId, videoFilename: 'restart.mp4' }))?.taskId).toBe(started.taskId);
  } finally {
    await releaseExecutions(tenantId);
    await proxy.close();
  }
});

// Without the server's Idempotency-Key the retry below would start a second task (the first has finished and the
// video is free): the bug this test pins.
test('the answer to the first POST lost: the retry, with the same key, gets the finished task replayed; one execution', async () => {
  const tenantId = uniqueTenant('client-replay');
  let lost: string | undefined;
  // GIVEN a fetch that performs the first POST, lets its task finish, then loses the answer as a dead connection would
  const lossy = createTrackingClient({
    baseUrl: env.apiUrl,
    random: () => 0,
    fetch: async (input) => {
      const request = input as Request;
      const response = await contractFetch(request);
      if (request.method !== 'POST' || lost !== undefined) return response;
      lost = ((await response.json()) as { task_id: string }).task_id;
      await client.waitForTask({ tenantId, taskId: lost, initialDelayMs: 200, maxDelayMs: 1000 });
      throw new TypeError('Failed to fetch');
    },
  });
  // WHEN the caller starts the analysis (one call: the client retries it after the network error)
  const started = await lossy.startAnalysis({ tenantId, videoFilename: 'lost.mp4' });
  // THEN the retry got the first attempt's answer again, replayed, and only that task ever ran
  expect(lost).toBeDefined();
  expect(started).toMatchObject({ taskId: lost, replayed: true });
  expect(await client.getTask({ tenantId, taskId: started.taskId })).toMatchObject({ status: 'completed' });
  expect(await executionsOf(tenantId)).toHaveLength(1);
  expect((await client.listTasks({ tenantId })).tasks).toHaveLength(1);
});
