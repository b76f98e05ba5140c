import { ApiError, createTrackingClient, createVideoAnalyses, activeTaskKey } from '../../client';
import { memoryStorage } from '../support/memory-storage';
import { contractFetch, env, executionsOf, holdExecutions, releaseExecutions, uniqueTenant } from './support';

// The client (client/) in Node.js against the local API; every answer it gets is checked against docs/openapi.yaml.
const client = createTrackingClient({ baseUrl: env.apiUrl, fetch: contractFetch });

describe('the client in Node.js, against the local API', () => {
  test('start, join, read the active task, wait for completion, start again', async () => {
    const tenant = uniqueTenant('client');
    const first = await client.startAnalysis(tenant, 'clip.mp4');
    const again = await client.startAnalysis(tenant, 'clip.mp4');
    expect(first).toMatchObject({ created: true, status: 'not_started' });
    expect(again).toMatchObject({ created: false, taskId: first.taskId });
    expect((await client.getActiveTask(tenant, 'clip.mp4'))?.task_id).toBe(first.taskId);

    const seen: string[] = [];
    const done = await client.waitForTask(tenant, first.taskId, { initialDelayMs: 200, maxDelayMs: 1000, onUpdate: (t) => seen.push(t.status) });

    expect(done.status).toBe('completed');
    expect(seen.at(-1)).toBe('completed');
    expect(await client.getActiveTask(tenant, 'clip.mp4')).toBeUndefined();
    expect((await client.startAnalysis(tenant, 'clip.mp4')).created).toBe(true);
  });

  test('cancel, then cancelling a completed task is a 409 ApiError; unknown ids read as undefined', async () => {
    const tenant = uniqueTenant('client-cancel');
    await holdExecutions(tenant);
    const { taskId } = await client.startAnalysis(tenant, 'c.mp4');
    expect((await client.cancelTask(tenant, taskId)).status).toBe('cancelled');
    await releaseExecutions(tenant);
    expect(await client.getTask(tenant, '00000000-0000-4000-8000-000000000000')).toBeUndefined();

    const other = await client.startAnalysis(tenant, 'd.mp4');
    await client.waitForTask(tenant, other.taskId, { initialDelayMs: 200, maxDelayMs: 1000 });
    const error = await client.cancelTask(tenant, other.taskId).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 409, problemType: '/problems/task-finished', body: { task_status: 'completed' } });
  });

  test('VideoAnalyses: one POST for concurrent calls, the entry kept while active and removed when it ends', async () => {
    const tenant = uniqueTenant('client-cache');
    await holdExecutions(tenant);
    const storage = memoryStorage();
    const analyses = createVideoAnalyses({ client, storage, channelName: `test-${tenant}` });
    try {
      const results = await Promise.all([1, 2, 3].map(() => analyses.analyse(tenant, 'e.mp4')));
      expect(new Set(results.map((r) => r.taskId)).size).toBe(1);
      expect(await executionsOf(tenant)).toHaveLength(1);
      expect(storage.map.get(activeTaskKey(tenant, 'e.mp4'))).toBe(results[0].taskId);
      expect((await analyses.resume(tenant, 'e.mp4'))?.task_id).toBe(results[0].taskId);

      await releaseExecutions(tenant);
      await analyses.follow(tenant, 'e.mp4', results[0].taskId, { initialDelayMs: 200, maxDelayMs: 1000 });
      expect(storage.map.size).toBe(0);
    } finally {
      analyses.close();
    }
  });
});
