import fc from 'fast-check';
import { DependencyUnavailable } from '../../../lambda/core/errors';
import type { TaskStore } from '../../../lambda/core/ports';
import { RepairSweep } from '../../../lambda/core/repair-sweep';
import { TaskStatus } from '../../../lambda/core/task';
import { TaskErrorName } from '../../../lambda/core/task-errors';
import { DEFAULT_TASK_SERVICE_CONFIG, SILENT_LOG } from '../../../lambda/core/task-recovery';
import { TaskService } from '../../../lambda/core/task-service';
import { InMemoryTaskStore, InMemoryWorkflow, TestClock } from '../../support/doubles';
import { newTestId, TEST_KEYS } from '../../support/stored-items';

/**
 * A model-based test of the tenant limit: random rounds of concurrent claims (new and duplicate), refusals, cancels,
 * ends, re-drives, takeovers and reconciliations, interleaved at every store call by fast-check's scheduler, with
 * throttled writes injected. After every round, at rest: the tenant holds no more admitted tasks than its limit, its
 * counter equals them, no task pending admission has an execution, and every id any answer handed out resolves.
 */
const LIMIT = 2;
const TENANT = 'tenant1';
const CONFIG = {
  ...DEFAULT_TASK_SERVICE_CONFIG,
  tenantActiveTaskLimit: LIMIT,
  redriveGraceSeconds: 10,
  workflowTimeoutSeconds: 60,
  leaseMarginSeconds: 10,
};
const FAULTABLE = ['claim', 'admit', 'refuse', 'finish', 'renewLease'] as const;

type Op =
  | { readonly kind: 'post'; readonly video: number }
  | { readonly kind: 'cancel'; readonly pick: number }
  | { readonly kind: 'end'; readonly pick: number }
  | { readonly kind: 'fault'; readonly method: (typeof FAULTABLE)[number] }
  | { readonly kind: 'sweep' }
  | { readonly kind: 'tick'; readonly seconds: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('post' as const), video: fc.nat(5) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('end' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('fault' as const), method: fc.constantFrom(...FAULTABLE) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('sweep' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('tick' as const), seconds: fc.constantFrom(1, 11, 71) }) },
);

/** Every store call waits for the scheduler to release it: calls of concurrent operations interleave at random. */
function scheduled(store: InMemoryTaskStore, s: fc.Scheduler): TaskStore {
  return new Proxy(store, {
    get(target, name, receiver) {
      const value: unknown = Reflect.get(target, name, receiver);
      if (typeof value !== 'function' || name === 'keyOf') return value;
      return (...args: unknown[]) => {
        const call = () => (value as (...a: unknown[]) => unknown).apply(target, args);
        // Async generators (the sweep's pages) are consumed as they are; one scheduling point before the first page.
        if (name === 'activeCreatedBefore' || name === 'tenantCounts') return call();
        return s.schedule(Promise.resolve(), String(name)).then(call);
      };
    },
  });
}

function system(s: fc.Scheduler) {
  const store = new InMemoryTaskStore(true);
  const workflow = new InMemoryWorkflow();
  const clock = new TestClock(new Date('2026-01-01T00:00:00.000Z'));
  const service = new TaskService({
    store: scheduled(store, s),
    workflow,
    clock,
    newId: newTestId,
    cursorKeys: TEST_KEYS,
    config: CONFIG,
    log: SILENT_LOG,
    // The scheduler decides when a cancel's wait ends, as it decides every store call.
    sleep: () => s.schedule(Promise.resolve(), 'sleep'),
  });
  const sweep = new RepairSweep({
    recovery: service.recovery,
    options: { graceSeconds: CONFIG.redriveGraceSeconds, maxTasks: 100, concurrency: 2, listThreshold: 100 },
    log: SILENT_LOG,
  });
  return { store, workflow, clock, service, sweep };
}

/** Answers are allowed to fail (429, 503, 409): the invariants are about state, not answers. */
async function settle(promise: Promise<unknown>): Promise<void> {
  await promise.catch(() => undefined);
}

async function run(s: fc.Scheduler, rounds: readonly (readonly Op[])[]): Promise<void> {
  const { store, workflow, clock, service, sweep } = system(s);
  const handedOut = new Set<string>();
  const throttled = () => new DependencyUnavailable('dynamodb', 'model', { cause: new Error('throttled') });

  const apply = (o: Op): Promise<unknown> => {
    const ids = [...handedOut];
    switch (o.kind) {
      case 'post':
        return service.track({ tenantId: TENANT, videoFilename: `v${o.video}.mp4` }).then((out) => {
          handedOut.add(out.task.taskId);
          // The look-up by video hands out the active task's id too.
          return service.getActive(TENANT, `v${o.video}.mp4`).then((t) => handedOut.add(t.taskId));
        });
      case 'cancel':
        return ids.length ? service.cancel(TENANT, ids[o.pick % ids.length]!) : Promise.resolve();
      case 'end': {
        const running = [...workflow.executions.values()].filter((e) => e.status === 'running');
        const execution = running[o.pick % Math.max(running.length, 1)];
        if (!execution) return Promise.resolve();
        workflow.end(execution.input.taskId, 'succeeded');
        return service.recovery.finalizeExecution(execution.input, TaskStatus.Completed, {
          error: 'none',
          message: 'done',
        });
      }
      case 'fault':
        store.failNext(o.method, throttled());
        return Promise.resolve();
      case 'sweep':
        clock.advance(CONFIG.redriveGraceSeconds + 1);
        return sweep.run();
      case 'tick':
        clock.advance(o.seconds);
        return Promise.resolve();
    }
  };

  for (const round of rounds) {
    const done = Promise.all(round.map((o) => settle(apply(o))));
    await s.waitFor(done);
    // Listing hands out ids too.
    for (const t of (await s.waitFor(service.list(TENANT, { limit: 100 }))).tasks) handedOut.add(t.taskId);

    const active = [...store.active.values()].filter((t) => t.tenantId === TENANT);
    const admitted = active.filter((t) => !t.admissionPending);
    expect(admitted.length).toBeLessThanOrEqual(LIMIT);
    expect(store.countOf(TENANT)).toBe(admitted.length);
    for (const pending of active.filter((t) => t.admissionPending))
      expect(workflow.executions.has(pending.taskId)).toBe(false);
    for (const id of handedOut) await expect(s.waitFor(service.get(TENANT, id))).resolves.toMatchObject({ taskId: id });
    for (const refused of [...store.finals.values()].filter(
      (t) => t.error?.error === TaskErrorName.TenantQuotaExceeded,
    ))
      expect(workflow.executions.has(refused.taskId)).toBe(false);
  }
}

describe('tenant limit, model-based (fast-check scheduler over the in-memory doubles)', () => {
  test('no interleaving of claims, refusals, cancels, ends, re-drives, takeovers and reconciliations breaks the limit', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.array(fc.array(op, { minLength: 1, maxLength: 4 }), { maxLength: 12 }), run),
      { numRuns: 500 },
    );
  });
});
