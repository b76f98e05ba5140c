import { DependencyUnavailable, TaskAlreadyFinished, TaskNotFound } from '../../../lambda/core/errors';
import { ServiceEvent } from '../../../lambda/core/ports';
import { type ActiveTask, TaskStatus } from '../../../lambda/core/task';
import { coreOnDoubles } from '../../support/doubles';
import { taskError } from '../../../lambda/core/task-errors';
import { workflowInput } from '../../../lambda/core/task-recovery';
import { at } from '../../support/at';

const REQUEST = { tenantId: 'tenant1', videoFilename: 'a.mp4' };
const throttled = () => new DependencyUnavailable('stepfunctions', 'StartExecution', { cause: new Error('throttled') });

describe('TaskService on in-memory ports', () => {
  test('a new request claims the video (one store write), counts it against its tenant limit and starts one execution named after it', async () => {
    const { service, store, workflow } = coreOnDoubles();
    const outcome = await service.track(REQUEST);
    expect(outcome.kind).toBe('created');
    expect(outcome.task.status).toBe(TaskStatus.NotStarted);
    expect(store.calls).toEqual(['claim', 'admit']);
    expect((await store.getById('tenant1', outcome.task.taskId))?.task.taskId).toBe(outcome.task.taskId);
    expect([...workflow.executions.keys()]).toEqual([outcome.task.taskId]);
    expect(workflow.executions.get(outcome.task.taskId)!.input).toMatchObject({
      ...REQUEST,
      taskKey: store.keyOf('tenant1', 'a.mp4'),
    });
  });

  test('a duplicate gets the active task and starts nothing; its one claim is its only store call', async () => {
    const { service, store, workflow } = coreOnDoubles();
    const first = await service.track(REQUEST);
    store.calls.length = 0;
    const second = await service.track(REQUEST);
    expect(second).toEqual({ kind: 'existing', task: first.task });
    expect(store.calls).toEqual(['claim']);
    expect(workflow.executions.size).toBe(1);
  });

  test('every id handed out is readable by id at once, active or finished; another tenant or a malformed id is not found', async () => {
    const { service } = coreOnDoubles();
    const created = await service.track(REQUEST);
    const duplicate = await service.track(REQUEST);
    expect((await service.get('tenant1', duplicate.task.taskId)).status).toBe(TaskStatus.NotStarted);
    await expect(service.get('tenant2', created.task.taskId)).rejects.toBeInstanceOf(TaskNotFound);
    expect((await service.cancel('tenant1', created.task.taskId)).status).toBe(TaskStatus.Cancelled);
    expect((await service.get('tenant1', created.task.taskId)).status).toBe(TaskStatus.Cancelled);
    await expect(service.get('tenant1', 'not-an-id')).rejects.toBeInstanceOf(TaskNotFound);
  });

  test('a failed start is compensated: the task ends failed, the video is free, the caller is told to retry', async () => {
    const { service, store, workflow, counted } = coreOnDoubles();
    workflow.failNextStart(throttled());
    const error = await service.track(REQUEST).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyUnavailable);
    expect(await store.getActive('tenant1', 'a.mp4')).toBeUndefined();
    expect([...store.finals.values()][0]).toMatchObject({
      status: TaskStatus.Failed,
      error: { error: 'WorkflowNotStarted' },
    });
    expect(counted).toEqual([ServiceEvent.Compensated]);
    expect((await service.track(REQUEST)).kind).toBe('created');
  });

  test('when the compensation fails too, the task waits for a re-drive and Retry-After outlasts the grace period', async () => {
    const { service, store, workflow, counted } = coreOnDoubles({ config: { redriveGraceSeconds: 10 } });
    workflow.failNextStart(throttled());
    store.failNext('finish', new DependencyUnavailable('dynamodb', 'TransactWriteItems'));
    const error = (await service.track(REQUEST).catch((e: unknown) => e)) as DependencyUnavailable;
    expect(error.retryAfterSeconds).toBe(11);
    expect((await store.getActive('tenant1', 'a.mp4'))?.status).toBe(TaskStatus.NotStarted);
    expect(counted).toEqual([ServiceEvent.CompensationFailed]);
  });

  test('a duplicate past the grace period re-drives a task whose execution never started', async () => {
    // GIVEN a task stranded not_started: its start failed and so did the compensation (a crash between them)
    const { service, store, workflow, clock, counted } = coreOnDoubles({ config: { redriveGraceSeconds: 10 } });
    workflow.failNextStart(new Error('crash'));
    store.failNext('finish', new Error('crash'));
    await expect(service.track(REQUEST)).rejects.toThrow('crash');
    expect(workflow.executions.size).toBe(0);
    // WHEN a duplicate arrives after the grace period
    clock.advance(11);
    const duplicate = await service.track(REQUEST);
    // THEN it is answered with the task, whose one execution now runs
    expect(duplicate.kind).toBe('existing');
    expect([...workflow.executions.keys()]).toEqual([duplicate.task.taskId]);
    expect(counted).toEqual([ServiceEvent.CompensationFailed, ServiceEvent.Redriven]);
  });

  test('a task past its lease is replaced, recorded failed, and its execution stopped', async () => {
    const { service, store, workflow, clock, counted } = coreOnDoubles({
      config: { workflowTimeoutSeconds: 60, leaseMarginSeconds: 10 },
    });
    const old = await service.track(REQUEST);
    store.markRunning(old.task.taskId, clock.now().toISOString());
    clock.advance(71);
    const replacement = await service.track(REQUEST);
    expect(replacement.kind).toBe('created');
    expect(store.finals.get(old.task.taskId)).toMatchObject({
      status: TaskStatus.Failed,
      error: { error: 'LeaseExpired' },
    });
    expect(workflow.stopped).toEqual([old.task.taskId]);
    expect(counted).toEqual([ServiceEvent.LeaseTakeover, ServiceEvent.ExecutionStopped]);
  });

  test('cancel ends an active task, stops its execution, and answers the same on a second call', async () => {
    const { service, workflow } = coreOnDoubles();
    const { task } = await service.track(REQUEST);
    const cancelled = await service.cancel('tenant1', task.taskId);
    expect(cancelled).toMatchObject({ status: TaskStatus.Cancelled, error: { error: 'Cancelled' } });
    expect(workflow.stopped).toEqual([task.taskId]);
    expect(await service.cancel('tenant1', task.taskId)).toEqual(cancelled);
    expect(await service.getActive('tenant1', 'a.mp4').catch((e: unknown) => e)).toBeInstanceOf(TaskNotFound);
  });

  test('cancel refuses a task that already finished otherwise', async () => {
    const { service, recovery, store } = coreOnDoubles();
    const { task } = await service.track(REQUEST);
    await recovery.finalizeExecution(
      workflowInput({ ...task, retainUntil: 0, leaseExpiresAt: 0 }, store.keyOf('tenant1', 'a.mp4')),
      TaskStatus.Failed,
      taskError('States.Timeout'),
    );
    expect(await service.cancel('tenant1', task.taskId).catch((e: unknown) => e)).toBeInstanceOf(TaskAlreadyFinished);
  });

  test('another tenant cannot read or cancel the task', async () => {
    const { service } = coreOnDoubles();
    const { task } = await service.track(REQUEST);
    expect(await service.get('tenant2', task.taskId).catch((e: unknown) => e)).toBeInstanceOf(TaskNotFound);
    expect(await service.cancel('tenant2', task.taskId).catch((e: unknown) => e)).toBeInstanceOf(TaskNotFound);
    expect((await service.get('tenant1', task.taskId)).taskId).toBe(task.taskId);
  });
});

describe('TaskService.list on in-memory ports', () => {
  test('pages newest first with a cursor bound to the tenant; the status filter splits active from finished', async () => {
    const { service, clock } = coreOnDoubles();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await service.track({ tenantId: 'tenant1', videoFilename: `${i}.mp4` })).task.taskId);
      await service.track({ tenantId: 'tenant2', videoFilename: `${i}.mp4` });
      clock.advance(1);
    }
    await service.cancel('tenant1', at(ids, 1));

    const first = await service.list('tenant1', { limit: 3 });
    expect(first.tasks.map((t) => t.taskId)).toEqual([ids[4], ids[3], ids[2]]);
    const second = await service.list('tenant1', { limit: 3, cursor: first.nextCursor! });
    expect(second).toEqual({
      tasks: [
        expect.objectContaining({ taskId: ids[1], status: 'cancelled' }),
        expect.objectContaining({ taskId: ids[0] }),
      ],
      nextCursor: null,
    });

    await expect(service.list('tenant2', { limit: 3, cursor: first.nextCursor! })).rejects.toMatchObject({
      name: 'InvalidRequest',
      field: 'cursor',
    });
    expect((await service.list('tenant1', { limit: 10, status: 'finished' })).tasks.map((t) => t.taskId)).toEqual([
      ids[1],
    ]);
    expect((await service.list('tenant1', { limit: 10, status: 'active' })).tasks).toHaveLength(4);
  });
});

describe('TaskService.track: what it asks of its ports', () => {
  const NOW = new Date('2026-11-28T12:00:00.000Z');
  const EPOCH = Math.floor(NOW.getTime() / 1000);

  test('a new task: leased for the workflow timeout + margin, retained the retention past that; started with that input', async () => {
    const { service, store, workflow } = coreOnDoubles({ now: NOW });
    const { task } = await service.track(REQUEST);
    const stored = await store.getActive('tenant1', 'a.mp4');
    expect(stored).toMatchObject({ leaseExpiresAt: EPOCH + 3600 + 300, retainUntil: EPOCH + 3600 + 300 + 30 * 86400 });
    expect(workflow.executions.get(task.taskId)?.input).toEqual(
      workflowInput(stored as ActiveTask, store.keyOf('tenant1', 'a.mp4')),
    );
  });

  test('a not_started task re-driven within the grace period by someone else is left to that re-drive', async () => {
    // GIVEN a stranded task created a minute ago whose lease was renewed 2 s ago (an overlapping sweep starts it)
    const { service, store, workflow, clock } = coreOnDoubles({ now: NOW, config: { redriveGraceSeconds: 10 } });
    workflow.failNextStart(new Error('crash'));
    store.failNext('finish', new Error('crash'));
    await expect(service.track(REQUEST)).rejects.toThrow('crash');
    clock.advance(60);
    const key = store.keyOf('tenant1', 'a.mp4');
    const stranded = store.active.get(key) as ActiveTask;
    store.active.set(key, { ...stranded, leaseExpiresAt: EPOCH + 60 - 2 + 3900 });
    store.calls.length = 0;
    // WHEN a duplicate arrives
    const outcome = await service.track(REQUEST);
    // THEN it gets the task; no second lease, no start
    expect(outcome.kind).toBe('existing');
    expect(store.calls).toEqual(['claim']);
    expect(workflow.executions.size).toBe(0);
  });

  test('a re-drive starts the same execution: same name, same input', async () => {
    const { service, store, workflow, clock } = coreOnDoubles({ now: NOW, config: { redriveGraceSeconds: 10 } });
    workflow.failNextStart(new Error('crash'));
    store.failNext('finish', new Error('crash'));
    await expect(service.track(REQUEST)).rejects.toThrow('crash');
    const stranded = (await store.getActive('tenant1', 'a.mp4')) as ActiveTask;
    clock.advance(11);
    await service.track(REQUEST);
    expect(store.calls.filter((c) => c === 'renewLease')).toHaveLength(1);
    expect(workflow.executions.get(stranded.taskId)?.input).toEqual(
      workflowInput(stranded, store.keyOf('tenant1', 'a.mp4')),
    );
  });

  test('a takeover starts the new task and stops the replaced one', async () => {
    const { service, store, workflow, clock } = coreOnDoubles({ now: NOW });
    const old = await service.track(REQUEST);
    clock.advance(3900 + 1);
    const replacement = await service.track(REQUEST);
    expect(workflow.stopped).toEqual([old.task.taskId]);
    expect(workflow.executions.get(replacement.task.taskId)?.status).toBe('running');
    expect(store.calls.filter((c) => c === 'admit')).toHaveLength(1);
  });

  test('a failed start ends the task as not_started, failed (WorkflowNotStarted), retained from now', async () => {
    const { service, store, workflow } = coreOnDoubles({ now: NOW });
    workflow.failNextStart(throttled());
    const error = await service.track(REQUEST).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyUnavailable);
    expect(store.finishes).toEqual([
      expect.objectContaining({
        status: 'failed',
        expected: 'not_started',
        error: expect.objectContaining({ error: 'WorkflowNotStarted' }),
        at: NOW.toISOString(),
        retainUntil: EPOCH + 30 * 86400,
      }),
    ]);
  });
});
