import { DependencyUnavailable, IdempotencyKeyMismatch } from '../../../lambda/core/errors';
import { type Task, TaskStatus } from '../../../lambda/core/task';
import { requestHashOf } from '../../../lambda/core/task-service';
import { coreOnDoubles, type InMemoryTaskStore } from '../../support/doubles';

const REQUEST = { tenantId: 'tenant1', videoFilename: 'a.mp4' };
const KEY = { idempotencyKey: 'key-1' };

/** What the state machine's MarkCompleted leaves: the final record with its result, the video free. */
function complete(store: InMemoryTaskStore, taskId: string, videoFilename = REQUEST.videoFilename): Task {
  const key = store.keyOf(REQUEST.tenantId, videoFilename);
  const active = store.active.get(key)!;
  expect(active.taskId).toBe(taskId);
  const { leaseExpiresAt: _l, retainUntil: _r, admissionPending: _a, ...task } = active;
  const final: Task = { ...task, status: TaskStatus.Completed, finishedAt: task.createdAt, result: { labels: 1 } };
  store.active.delete(key);
  store.finals.set(taskId, final);
  return final;
}

describe('Idempotency-Key on track (core rules on in-memory ports)', () => {
  test('a new keyed task writes the key before its claim, holding the id the task takes; no key: no key write', async () => {
    const { service, store, workflow } = coreOnDoubles({ config: { tenantActiveTaskLimit: 0 } });
    const created = await service.track(REQUEST, KEY);
    expect(created.kind).toBe('created');
    expect(store.calls).toEqual(['reserveIdempotencyKey', 'claim']);
    expect(store.idempotencyKeyOf('tenant1', 'key-1')).toEqual({
      taskId: created.task.taskId,
      requestHash: requestHashOf(REQUEST),
      expiresAt: Date.parse('2026-01-01T00:00:00Z') / 1000 + 24 * 3600,
    });
    expect(workflow.executions.size).toBe(1);
    store.calls.length = 0;
    await service.track({ ...REQUEST, videoFilename: 'b.mp4' });
    expect(store.calls).toEqual(['claim']);
  });

  test('a retry while the task is active: the duplicate answer, marked replayed; nothing started again', async () => {
    const { service, store, workflow, clock } = coreOnDoubles();
    const created = await service.track(REQUEST, KEY);
    store.calls.length = 0;
    clock.advance(1);
    const retry = await service.track(REQUEST, KEY);
    expect(retry).toEqual({
      kind: 'existing',
      task: store.active.get(store.keyOf('tenant1', 'a.mp4')),
      replayed: true,
    });
    expect(retry.task.taskId).toBe(created.task.taskId);
    expect(store.calls).toEqual(['reserveIdempotencyKey', 'getFinal', 'claim']);
    expect(workflow.executions.size).toBe(1);
  });

  test('a retry after the task ended replays it (its result), with one read and no claim or start', async () => {
    const { service, store, workflow } = coreOnDoubles();
    const created = await service.track(REQUEST, KEY);
    const final = complete(store, created.task.taskId);
    store.calls.length = 0;
    expect(await service.track(REQUEST, KEY)).toEqual({ kind: 'replayed', task: final });
    expect(store.calls).toEqual(['reserveIdempotencyKey', 'getFinal']);
    expect(workflow.executions.size).toBe(1);
    // Without the key the same body is a new analysis, as before.
    expect((await service.track(REQUEST)).kind).toBe('created');
  });

  test('a cancelled task is replayed as cancelled', async () => {
    const { service } = coreOnDoubles();
    const created = await service.track(REQUEST, KEY);
    await service.cancel('tenant1', created.task.taskId);
    const replay = await service.track(REQUEST, KEY);
    expect(replay.kind).toBe('replayed');
    expect(replay.task.status).toBe(TaskStatus.Cancelled);
  });

  test('the same key with another filename, or another tenant, is 422 for the first and a separate key for the second', async () => {
    const { service, store } = coreOnDoubles();
    await service.track(REQUEST, KEY);
    store.calls.length = 0;
    await expect(service.track({ ...REQUEST, videoFilename: 'b.mp4' }, KEY)).rejects.toBeInstanceOf(
      IdempotencyKeyMismatch,
    );
    expect(store.calls).toEqual(['reserveIdempotencyKey']);
    expect((await service.track({ ...REQUEST, tenantId: 'tenant2' }, KEY)).kind).toBe('created');
  });

  test('an expired key is free again: the retry is a new request', async () => {
    const { service, store, clock } = coreOnDoubles({ config: { idempotencyRetentionSeconds: 60 } });
    const first = await service.track(REQUEST, KEY);
    complete(store, first.task.taskId);
    clock.advance(61);
    const again = await service.track(REQUEST, KEY);
    expect(again.kind).toBe('created');
    expect(again.task.taskId).not.toBe(first.task.taskId);
  });

  test('a non-keyed duplicate won the video: the key points at the winner, so its replay returns it', async () => {
    const { service, store } = coreOnDoubles();
    const other = await service.track(REQUEST);
    const keyed = await service.track(REQUEST, KEY);
    expect(keyed).toEqual({ kind: 'existing', task: other.task });
    expect(store.idempotencyKeyOf('tenant1', 'key-1')?.taskId).toBe(other.task.taskId);
    const final = complete(store, other.task.taskId);
    expect(await service.track(REQUEST, KEY)).toEqual({ kind: 'replayed', task: final });
  });

  test("crash between the key and the claim: the retry creates the task with the key's id", async () => {
    const { service, store, workflow } = coreOnDoubles();
    store.failNext('claim', new Error('Lambda crashed'));
    await expect(service.track(REQUEST, KEY)).rejects.toThrow('Lambda crashed');
    const heldId = store.idempotencyKeyOf('tenant1', 'key-1')!.taskId;
    const retry = await service.track(REQUEST, KEY);
    expect(retry.kind).toBe('created');
    expect(retry.task.taskId).toBe(heldId);
    expect([...workflow.executions.keys()]).toEqual([heldId]);
  });

  test('crash between a lost claim and the repoint: the retry repoints and answers the winner', async () => {
    const { service, store } = coreOnDoubles();
    const other = await service.track(REQUEST);
    store.failNext('repointIdempotencyKey', new Error('Lambda crashed'));
    await expect(service.track(REQUEST, KEY)).rejects.toThrow('Lambda crashed');
    expect(store.idempotencyKeyOf('tenant1', 'key-1')?.taskId).not.toBe(other.task.taskId);
    expect(await service.track(REQUEST, KEY)).toEqual({ kind: 'existing', task: other.task, replayed: true });
    expect(store.idempotencyKeyOf('tenant1', 'key-1')?.taskId).toBe(other.task.taskId);
  });

  test("a retry that claims the key's task before the key's first request does: both answer one task, one execution", async () => {
    const { service, store, workflow, clock } = coreOnDoubles();
    // The first request reserved the key and stalls before its claim; its retry arrives and claims with the key's id.
    store.failNext('claim', new Error('stalled'));
    await expect(service.track(REQUEST, KEY)).rejects.toThrow('stalled');
    const heldId = store.idempotencyKeyOf('tenant1', 'key-1')!.taskId;
    const retry = await service.track(REQUEST, KEY);
    expect(retry.task.taskId).toBe(heldId);
    clock.advance(0.2);
    // The first request's claim now lands on the same id with another created_at: it is answered as a duplicate.
    const late = await service.track(REQUEST, KEY);
    expect(late).toMatchObject({ kind: 'existing', replayed: true });
    expect(workflow.executions.size).toBe(1);
  });

  test('a keyed task whose start failed (503, compensated): the retry asked for gets a new task and the key moves to it', async () => {
    const { service, store, workflow } = coreOnDoubles();
    workflow.failNextStart(new DependencyUnavailable('stepfunctions', 'StartExecution'));
    await expect(service.track(REQUEST, KEY)).rejects.toBeInstanceOf(DependencyUnavailable);
    const failedId = store.idempotencyKeyOf('tenant1', 'key-1')!.taskId;
    expect(store.finals.get(failedId)?.error?.error).toBe('WorkflowNotStarted');
    const retry = await service.track(REQUEST, KEY);
    expect(retry.kind).toBe('created');
    expect(retry.task.taskId).not.toBe(failedId);
    expect(store.idempotencyKeyOf('tenant1', 'key-1')?.taskId).toBe(retry.task.taskId);
  });

  test('a keyed task refused by the tenant limit (429): the key moves to a new task on the retry', async () => {
    const { service, store } = coreOnDoubles({ config: { tenantActiveTaskLimit: 1 } });
    const other = await service.track({ ...REQUEST, videoFilename: 'other.mp4' });
    await expect(service.track(REQUEST, KEY)).rejects.toMatchObject({ name: 'TenantQuotaExceeded' });
    const refusedId = store.idempotencyKeyOf('tenant1', 'key-1')!.taskId;
    expect(store.finals.get(refusedId)?.error?.error).toBe('TenantQuotaExceeded');
    complete(store, other.task.taskId, 'other.mp4');
    // The finish gives the slot back.
    store.counters.set('tenant1', { ...store.counters.get('tenant1')!, activeCount: 0 });
    const retry = await service.track(REQUEST, KEY);
    expect(retry.kind).toBe('created');
    expect(retry.task.taskId).not.toBe(refusedId);
  });
});
