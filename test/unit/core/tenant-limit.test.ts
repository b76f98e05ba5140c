import { AdmissionPending, DependencyUnavailable, TenantQuotaExceeded } from '../../../lambda/core/errors';
import { ServiceEvent } from '../../../lambda/core/ports';
import { RepairSweep } from '../../../lambda/core/repair-sweep';
import { TaskStatus } from '../../../lambda/core/task';
import { DEFAULT_TASK_SERVICE_CONFIG, SILENT_LOG, TaskRecovery } from '../../../lambda/core/task-recovery';
import { coreOnDoubles } from '../../support/doubles';
import { at } from '../../support/at';

const LIMIT = 2;
const video = (i: number) => ({ tenantId: 'tenant1', videoFilename: `v${i}.mp4` });
const throttled = () => new DependencyUnavailable('dynamodb', 'UpdateItem', { cause: new Error('throttled') });

function limited(config: Record<string, number> = {}) {
  return coreOnDoubles({ config: { tenantActiveTaskLimit: LIMIT, redriveGraceSeconds: 10, ...config } });
}

/** The invariant the limit rests on: a tenant's count is its admitted active tasks. */
function expectCounted(core: ReturnType<typeof limited>, tenantId = 'tenant1') {
  const active = [...core.store.active.values()].filter((t) => t.tenantId === tenantId && !t.admissionPending).length;
  expect(core.store.countOf(tenantId)).toBe(active);
  return active;
}

describe('per-tenant active-task limit (core rules on in-memory ports)', () => {
  test('a new task over the limit: TenantQuotaExceeded with the limit and the count; no execution, no blocked video; its id reads failed, unlisted', async () => {
    const core = limited();
    await core.service.track(video(1));
    await core.service.track(video(2));

    const error = await core.service.track(video(3)).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(TenantQuotaExceeded);
    expect(error).toMatchObject({ limit: LIMIT, activeCount: LIMIT });
    expect(await core.store.getActive('tenant1', 'v3.mp4')).toBeUndefined();
    expect(core.workflow.executions.size).toBe(2);
    // The refused claim's record: any id a racing answer handed out resolves to it.
    const [refused, ...others] = [...core.store.finals.values()];
    expect(others).toEqual([]);
    expect(refused).toMatchObject({ videoFilename: 'v3.mp4', status: TaskStatus.Failed });
    expect(await core.service.get('tenant1', refused!.taskId)).toMatchObject({
      error: { error: 'TenantQuotaExceeded' },
    });
    expect((await core.service.list('tenant1', { limit: 10 })).tasks.map((t) => t.videoFilename).sort()).toEqual([
      'v1.mp4',
      'v2.mp4',
    ]);
    expect(core.counted).toEqual([ServiceEvent.TenantLimitReached]);
    expect(expectCounted(core)).toBe(2);
  });

  test('duplicates of active tasks are answered as before and never touch the counter; other tenants are unaffected', async () => {
    const core = limited();
    const first = await core.service.track(video(1));
    await core.service.track(video(2));
    const takes = core.store.calls.filter((c) => c === 'admit').length;

    expect(await core.service.track(video(1))).toEqual({ kind: 'existing', task: first.task });
    expect(core.store.calls.filter((c) => c === 'admit')).toHaveLength(takes);
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

    expect(core.store.calls).not.toContain('admit');
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
    test('the admission fails: the claim stays pending and unstarted, the count unchanged, 503 past the grace period', async () => {
      const core = limited();
      core.store.failNext('admit', throttled());
      const error = await core.service.track(video(1)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DependencyUnavailable);
      expect(error).toMatchObject({ retryAfterSeconds: 11 });
      const claim = await core.store.getActive('tenant1', 'v1.mp4');
      expect(claim).toMatchObject({ admissionPending: true, status: TaskStatus.NotStarted });
      expect(core.workflow.executions.size).toBe(0);
      expect(core.store.countOf('tenant1')).toBe(0);
      // A retry within the grace period is told the claim is in progress; after it, the retry's re-drive admits and starts it.
      expect(await core.service.track(video(1))).toMatchObject({ kind: 'existing', task: { taskId: claim!.taskId } });
      expect(core.workflow.executions.size).toBe(0);
      core.clock.advance(11);
      await core.service.track(video(1));
      expect(core.workflow.executions.has(claim!.taskId)).toBe(true);
      expect(expectCounted(core)).toBe(1);
    });

    test('at the limit, the admission refused and the refusal failing: the claim never runs; its re-drive refuses it', async () => {
      const core = limited();
      await core.service.track(video(1));
      await core.service.track(video(2));
      core.store.failNext('refuse', throttled());
      await expect(core.service.track(video(3))).rejects.toBeInstanceOf(DependencyUnavailable);
      const claim = (await core.store.getActive('tenant1', 'v3.mp4'))!;
      expect(claim.admissionPending).toBe(true);

      core.clock.advance(60);
      await sweepOf(core).run();

      expect(core.workflow.executions.has(claim.taskId)).toBe(false);
      expect(await core.service.get('tenant1', claim.taskId)).toMatchObject({
        status: TaskStatus.Failed,
        error: { error: 'TenantQuotaExceeded' },
      });
      expect(expectCounted(core)).toBe(2);
    });

    test('below the limit, a pending claim left by a failed admission is admitted by its re-drive, then started', async () => {
      const core = limited();
      core.store.failNext('admit', throttled());
      await expect(core.service.track(video(1))).rejects.toBeInstanceOf(DependencyUnavailable);
      core.clock.advance(60);
      expect((await sweepOf(core).run()).started).toBe(1);
      expect(expectCounted(core)).toBe(1);
    });

    test('a cancel of a pending claim waits for its admission, then answers 409 AdmissionPending; nothing is written', async () => {
      const core = limited();
      core.store.failNext('admit', throttled());
      await expect(core.service.track(video(1))).rejects.toBeInstanceOf(DependencyUnavailable);
      const claim = (await core.store.getActive('tenant1', 'v1.mp4'))!;
      const calls = core.store.calls.length;

      const error = await core.service.cancel('tenant1', claim.taskId).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(AdmissionPending);
      expect(error).toMatchObject({ taskId: claim.taskId, retryAfterSeconds: 11 });
      expect(core.store.calls.slice(calls).every((c) => c === 'getById')).toBe(true);
      expect(core.store.countOf('tenant1')).toBe(0);
      expect((await core.store.getActive('tenant1', 'v1.mp4'))?.admissionPending).toBe(true);
    });

    test('a cancel that finds the claim pending and then admitted cancels it and gives the slot back once', async () => {
      const core = limited();
      core.store.failNext('admit', throttled());
      await expect(core.service.track(video(1))).rejects.toBeInstanceOf(DependencyUnavailable);
      const claim = (await core.store.getActive('tenant1', 'v1.mp4'))!;
      // The admission lands while the cancel waits (a concurrent re-drive).
      const admitting = core.store.admit(claim, core.store.keyOf('tenant1', 'v1.mp4'), LIMIT, claim.createdAt);
      const cancelled = core.service.cancel('tenant1', claim.taskId);
      await admitting;
      expect(await cancelled).toMatchObject({ status: TaskStatus.Cancelled });
      expect(expectCounted(core)).toBe(0);
      expect(core.store.countOf('tenant1')).toBe(0);
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
      // tenant2 counts a task within the grace period of the sweep: it is not compared.
      core.store.counters.set('tenant2', {
        ...core.store.counters.get('tenant2')!,
        activeCount: 5,
        takenAt: core.clock.now().toISOString(),
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

    test.each(['before', 'after'])(
      'an end landing while the sweep runs (%s it reads the tasks) never sets a count too high',
      async (when) => {
        // GIVEN two admitted tasks, quiet past the grace period
        const core = limited();
        const first = await core.service.track(video(1));
        await core.service.track(video(2));
        core.clock.advance(60);
        // WHEN one of them ends during the run, before or after the sweep reads the due tasks
        const due = core.store.activeCreatedBefore.bind(core.store);
        const end = () => core.service.cancel('tenant1', first.task.taskId);
        core.store.activeCreatedBefore = (cutoff) =>
          (async function* () {
            if (when === 'before') await end();
            yield* due(cutoff);
            if (when === 'after') await end();
          })();
        const report = await sweepOf(core).run();
        // THEN no reconciliation set the ended task back into the count
        expect(report.recounted).toBe(0);
        expect(expectCounted(core)).toBe(1);
      },
    );

    test('a counter whose last admission is within the grace period is left alone, whatever its last end stamped', async () => {
      // GIVEN a task admitted just now (not yet in the tally) and a counter whose updated_at an end stamped long ago,
      // as the state machine does with the time its step was entered
      const core = limited();
      await core.service.track(video(1));
      core.clock.advance(60);
      await core.service.track(video(2));
      const counter = core.store.counters.get('tenant1')!;
      core.store.counters.set('tenant1', { ...counter, updatedAt: '2000-01-01T00:00:00.000Z' });
      // WHEN the sweep runs within the grace period of the second admission
      const report = await sweepOf(core).run();
      // THEN it compares nothing: the young task is counted and not tallied, and would have been uncounted
      expect(report.recounted).toBe(0);
      expect(expectCounted(core)).toBe(2);
    });

    test('a tenant over its limit (the limit was lowered) is reported; its tasks stay, new ones are refused', async () => {
      const core = limited({ tenantActiveTaskLimit: 3 });
      for (let i = 1; i <= 3; i++) await core.service.track(video(i));
      const events: ServiceEvent[] = [];
      const lowered = new RepairSweep({
        recovery: new TaskRecovery({
          ...core,
          config: { ...core.recovery.config, tenantActiveTaskLimit: LIMIT },
          metrics: { count: (event) => events.push(event) },
        }),
        options: { graceSeconds: 10, maxTasks: 100, concurrency: 2, listThreshold: 100 },
        log: SILENT_LOG,
      });
      core.clock.advance(60);
      expect((await lowered.run()).recounted).toBe(0);
      expect(events).toEqual([ServiceEvent.TenantOverLimit]);
      expect(expectCounted(core)).toBe(3);
      await expect(core.service.track(video(9))).rejects.toBeInstanceOf(TenantQuotaExceeded);
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
