import { DependencyUnavailable, TenantQuotaExceeded } from '../../../lambda/core/errors';
import { ServiceEvent } from '../../../lambda/core/ports';
import { RepairSweep } from '../../../lambda/core/repair-sweep';
import { TaskStatus } from '../../../lambda/core/task';
import { DEFAULT_TASK_SERVICE_CONFIG, SILENT_LOG } from '../../../lambda/core/task-recovery';
import { coreOnDoubles } from '../../support/doubles';
import { at } from '../../support/at';

const LIMIT = 2;
const video = (i: number) => ({ tenantId: 'tenant1', videoFilename: `v${i}.mp4` });
const throttled = () => new DependencyUnavailable('dynamodb', 'UpdateItem', { cause: new Error('throttled') });

function limited(config: Record<string, number> = {}) {
  return coreOnDoubles({ config: { tenantActiveTaskLimit: LIMIT, redriveGraceSeconds: 10, ...config } });
}

/** The invariant the limit rests on: a tenant's count is its active tasks. */
function expectCounted(core: ReturnType<typeof limited>, tenantId = 'tenant1') {
  const active = [...core.store.active.values()].filter((t) => t.tenantId === tenantId).length;
  expect(core.store.countOf(tenantId)).toBe(active);
  return active;
}

describe('per-tenant active-task limit (core rules on in-memory ports)', () => {
  test('a new task over the limit: TenantQuotaExceeded with the limit and the count; no task, no execution, no blocked video', async () => {
    const core = limited();
    await core.service.track(video(1));
    await core.service.track(video(2));

    const error = await core.service.track(video(3)).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(TenantQuotaExceeded);
    expect(error).toMatchObject({ limit: LIMIT, activeCount: LIMIT });
    expect(await core.store.getActive('tenant1', 'v3.mp4')).toBeUndefined();
    expect(core.workflow.executions.size).toBe(2);
    expect(core.store.finals.size).toBe(0);
    expect(core.counted).toEqual([ServiceEvent.TenantLimitReached]);
    expect(expectCounted(core)).toBe(2);
  });

  test('duplicates of active tasks are answered as before and never touch the counter; other tenants are unaffected', async () => {
    const core = limited();
    const first = await core.service.track(video(1));
    await core.service.track(video(2));
    const takes = core.store.calls.filter((c) => c === 'takeSlot').length;

    expect(await core.service.track(video(1))).toEqual({ kind: 'existing', task: first.task });
    expect(core.store.calls.filter((c) => c === 'takeSlot')).toHaveLength(takes);
    expect((await core.service.track({ tenantId: 'tenant2', videoFilename: 'v1.mp4' })).kind).toBe('created');
    expect(expectCounted(core, 'tenant2')).toBe(1);
  });

  test('limit 0: no limit and no counter: a new task is one claim and one start, and no end, takeover or sweep writes a counter', async () => {
    const core = limited({ tenantActiveTaskLimit: 0 });
    for (let i = 0; i < 5; i++) expect((await core.service.track(video(i))).kind).toBe('created');
    expect(core.store.calls).toEqual(['claim', 'claim', 'claim', 'claim', 'claim']);
    expect(core.workflow.executions.size).toBe(5);

    // Every end path: cancel, the finalizer, a lease takeover, compensation; then a sweep past the grace period.
    const active = [...core.store.active.values()];
    const [first, second, third] = [at(active, 0), at(active, 1), at(active, 2)];
    await core.service.cancel('tenant1', first.taskId);
    await core.recovery.finalizeExecution(core.workflow.executions.get(second.taskId)!.input, TaskStatus.Failed, {
      error: 'States.Timeout',
      message: 'timed out',
    });
    core.clock.advance(
      DEFAULT_TASK_SERVICE_CONFIG.workflowTimeoutSeconds + DEFAULT_TASK_SERVICE_CONFIG.leaseMarginSeconds + 1,
    );
    expect((await core.service.track({ tenantId: 'tenant1', videoFilename: third.videoFilename })).kind).toBe(
      'created',
    );
    core.workflow.failNextStart(
      new DependencyUnavailable('stepfunctions', 'StartExecution', { cause: new Error('down') }),
    );
    await expect(core.service.track(video(9))).rejects.toBeInstanceOf(DependencyUnavailable);
    expect((await sweepOf(core).run()).recounted).toBe(0);

    expect(core.store.calls).not.toContain('takeSlot');
    expect(core.store.counters.size).toBe(0);
    expect(core.store.finals.size).toBe(4);
  });

  test('a slot frees when a task ends, and the next new task gets it', async () => {
    const core = limited();
    const first = await core.service.track(video(1));
    await core.service.track(video(2));
    await core.service.cancel('tenant1', first.task.taskId);
    expect(expectCounted(core)).toBe(1);
    expect((await core.service.track(video(3))).kind).toBe('created');
  });

  describe('exactly one slot back per ended task, on every end path', () => {
    test('cancel through the API (and a second cancel frees nothing more)', async () => {
      const core = limited();
      const { task } = await core.service.track(video(1));
      await core.service.cancel('tenant1', task.taskId);
      await core.service.cancel('tenant1', task.taskId);
      expect(core.store.countOf('tenant1')).toBe(0);
    });

    test('finalizer: an execution that ended outside the Catch (a duplicate event frees nothing more)', async () => {
      const core = limited();
      const { task } = await core.service.track(video(1));
      const input = core.workflow.executions.get(task.taskId)!.input;
      await core.recovery.finalizeExecution(input, TaskStatus.Failed, {
        error: 'States.Timeout',
        message: 'timed out',
      });
      await core.recovery.finalizeExecution(input, TaskStatus.Failed, {
        error: 'States.Timeout',
        message: 'timed out',
      });
      expect(core.store.countOf('tenant1')).toBe(0);
    });

    test('repair: a running task whose execution is lost', async () => {
      const core = limited();
      const { task } = await core.service.track(video(1));
      core.store.markRunning(task.taskId, core.clock.now().toISOString());
      core.workflow.executions.delete(task.taskId);
      core.clock.advance(60);
      expect(await core.recovery.repair((await core.store.getActive('tenant1', 'v1.mp4'))!)).toBe('ended');
      expect(core.store.countOf('tenant1')).toBe(0);
    });

    test('compensation: the execution could not be started', async () => {
      const core = limited();
      core.workflow.failNextStart(new DependencyUnavailable('stepfunctions', 'StartExecution'));
      await expect(core.service.track(video(1))).rejects.toBeInstanceOf(DependencyUnavailable);
      expect(core.store.countOf('tenant1')).toBe(0);
      expect(core.store.active.size).toBe(0);
    });

    test('re-drive finds the execution ended', async () => {
      const core = limited();
      const { task } = await core.service.track(video(1));
      core.workflow.end(task.taskId, 'failed');
      core.clock.advance(60);
      expect(await core.recovery.redrive((await core.store.getActive('tenant1', 'v1.mp4'))!, core.clock.now())).toBe(
        'ended',
      );
      expect(core.store.countOf('tenant1')).toBe(0);
    });

    test('lease takeover: the old task ends and the new one takes its slot (net 0), even at the limit', async () => {
      const core = limited({ workflowTimeoutSeconds: 60, leaseMarginSeconds: 10 });
      const old = await core.service.track(video(1));
      await core.service.track(video(2));
      core.clock.advance(71);
      const replacing = await core.service.track(video(1));
      expect(replacing.kind).toBe('created');
      expect(core.store.finals.get(old.task.taskId)).toMatchObject({
        status: TaskStatus.Failed,
        error: { error: 'LeaseExpired' },
      });
      expect(expectCounted(core)).toBe(2);
      expect(core.counted).toContain(ServiceEvent.LeaseTakeover);
    });
  });

  describe('injected faults on the counter writes', () => {
    test('the increment fails: the claim is deleted, nothing started, the count unchanged, the error surfaces (503)', async () => {
      const core = limited();
      core.store.failNext('takeSlot', throttled());
      await expect(core.service.track(video(1))).rejects.toBeInstanceOf(DependencyUnavailable);
      expect(core.store.active.size).toBe(0);
      expect(core.workflow.executions.size).toBe(0);
      expect(core.store.countOf('tenant1')).toBe(0);
      // The client's retry creates the task.
      expect((await core.service.track(video(1))).kind).toBe('created');
      expect(expectCounted(core)).toBe(1);
    });

    test('the increment and the deletion of the claim fail: the claim waits uncounted; the sweep counts it', async () => {
      const core = limited();
      core.store.failNext('takeSlot', throttled()).failNext('releaseClaim', throttled());
      await expect(core.service.track(video(1))).rejects.toBeInstanceOf(DependencyUnavailable);
      expect(core.store.active.size).toBe(1);
      // Another task gives the tenant a counter, which then drifts from its active tasks by the stranded claim.
      await core.service.track(video(2));
      expect(core.store.countOf('tenant1')).toBe(1);

      core.clock.advance(60);
      const report = await sweepOf(core).run();

      expect(report.recounted).toBe(1);
      expect(expectCounted(core)).toBe(2);
    });

    test('the finishing transaction fails: neither the task nor its slot is given up (one transaction)', async () => {
      const core = limited();
      const { task } = await core.service.track(video(1));
      core.store.failNext('finish', throttled());
      await expect(core.service.cancel('tenant1', task.taskId)).rejects.toBeInstanceOf(DependencyUnavailable);
      expect(expectCounted(core)).toBe(1);
      await core.service.cancel('tenant1', task.taskId);
      expect(expectCounted(core)).toBe(0);
    });
  });

  describe('the sweep reconciles a drifted count', () => {
    test('a counter quiet past the grace period is set to the tenant active tasks; one written since is left alone', async () => {
      const core = limited();
      await core.service.track(video(1));
      await core.service.track({ tenantId: 'tenant2', videoFilename: 'v1.mp4' });
      // An increment whose answer was lost, then retried: tenant1 counted twice.
      core.store.counters.set('tenant1', { ...core.store.counters.get('tenant1')!, activeCount: 2 });
      core.clock.advance(60);
      // tenant2 writes its counter within the grace period of the sweep: it is not compared.
      core.store.counters.set('tenant2', {
        ...core.store.counters.get('tenant2')!,
        activeCount: 5,
        updatedAt: core.clock.now().toISOString(),
      });

      const report = await sweepOf(core).run();

      expect(report.recounted).toBe(1);
      expect(core.store.countOf('tenant1')).toBe(1);
      expect(core.store.countOf('tenant2')).toBe(5);
      expect(core.counted).toContain(ServiceEvent.TenantCountReconciled);
    });

    test('a tenant with no active task left: its count returns to 0 and its tasks can be created again', async () => {
      const core = limited();
      const { task } = await core.service.track(video(1));
      await core.service.cancel('tenant1', task.taskId);
      core.store.counters.set('tenant1', { ...core.store.counters.get('tenant1')!, activeCount: LIMIT });
      await expect(core.service.track(video(2))).rejects.toBeInstanceOf(TenantQuotaExceeded);
      core.clock.advance(60);
      await sweepOf(core).run();
      expect(core.store.countOf('tenant1')).toBe(0);
      expect((await core.service.track(video(2))).kind).toBe('created');
    });

    test('a write between the read and the reconciliation wins over it (conditional on the version)', async () => {
      const core = limited();
      await core.service.track(video(1));
      core.clock.advance(60);
      const [seen] = (await core.store.tenantCounts()[Symbol.asyncIterator]().next()).value!;
      await core.service.track(video(2));
      expect(await core.store.setTenantCount(seen, 0, core.clock.now().toISOString())).toBe(false);
      expect(expectCounted(core)).toBe(2);
    });

    test('a run stopped before it read every due task reconciles nothing', async () => {
      const core = limited();
      await core.service.track(video(1));
      core.store.counters.set('tenant1', { ...core.store.counters.get('tenant1')!, activeCount: 2 });
      core.clock.advance(60);
      const report = await sweepOf(core).run({ deadline: core.clock.now().getTime() });
      expect(report).toMatchObject({ stoppedEarly: true, recounted: 0 });
      expect(core.store.countOf('tenant1')).toBe(2);
    });
  });
});

function sweepOf(core: ReturnType<typeof limited>): RepairSweep {
  return new RepairSweep({
    recovery: core.recovery,
    options: { graceSeconds: 10, maxTasks: 100, concurrency: 2, listThreshold: 100 },
    log: SILENT_LOG,
  });
}
