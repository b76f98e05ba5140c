import { DependencyUnavailable, TaskNotInExpectedState, WorkflowAlreadyStarted } from '../../../lambda/core/errors';
import { RepairSweep } from '../../../lambda/core/repair-sweep';
import type { ActiveTask } from '../../../lambda/core/task';
import { workflowInput } from '../../../lambda/core/task-recovery';
import type { ExecutionEnd } from '../../../lambda/shared/execution-ends';
import { coreOnDoubles } from '../../support/doubles';

const NOW = new Date('2026-11-28T12:00:00.000Z');
const GRACE = 10;
const throttled = (operation: string) =>
  new DependencyUnavailable('stepfunctions', operation, { cause: new Error('Rate exceeded') });

/**
 * The core's sweep on in-memory ports. `due` tasks of tenant1 (`${i}.mp4`) are created a minute before NOW, their
 * executions running and the tasks marked running, unless `notStarted` lists them; the store pages due tasks
 * `pageSize` at a time, the workflow lists running executions `listPageSize` a page.
 */
async function sweeper(
  due: number,
  options: {
    maxTasks?: number;
    listThreshold?: number;
    pageSize?: number;
    listPageSize?: number;
    notStarted?: number[];
    /** The sweep's own clock, which may run ahead of the service's (a run that outlives its deadline). */
    clock?: () => Date;
  } = {},
) {
  const core = coreOnDoubles({
    config: { redriveGraceSeconds: GRACE },
    now: new Date(NOW.getTime() - 60_000),
    pageSize: options.pageSize,
    listPageSize: options.listPageSize,
  });
  const tasks: ActiveTask[] = [];
  for (let i = 0; i < due; i++) {
    const { task } = await core.service.track({ tenantId: 'tenant1', videoFilename: `${i}.mp4` });
    if (!options.notStarted?.includes(i)) core.store.markRunning(task.taskId, core.clock.now().toISOString());
    const stored = await core.store.getActive('tenant1', `${i}.mp4`);
    if (!stored) throw new Error(`task ${i} was not stored`);
    tasks.push(stored);
  }
  core.clock.advance(60);
  core.store.calls.length = 0;
  const repaired: string[] = [];
  const recovery = options.clock
    ? Object.assign(Object.create(core.recovery) as typeof core.recovery, { now: options.clock })
    : core.recovery;
  const sweep = new RepairSweep({
    recovery,
    options: {
      graceSeconds: GRACE,
      maxTasks: options.maxTasks ?? 500,
      concurrency: 4,
      listThreshold: options.listThreshold ?? 100,
    },
    log: { info() {}, warn() {}, error() {} },
    recordRepair: (o) => repaired.push(o),
  });
  const ids = tasks.map((t) => t.taskId);
  /** The execution of the i-th task ends as Step Functions reports it (its end event lost). */
  const end = (i: number, status: ExecutionEnd, error?: string) => core.workflow.end(at(ids, i), status, error, 'c');
  /** The execution of the i-th task is gone (never started, or lost). */
  const lose = (i: number) => core.workflow.executions.delete(at(ids, i));
  return { ...core, sweep, repaired, tasks, ids, end, lose };
}

function at<T>(items: readonly T[], i: number): T {
  const item = items[i];
  if (item === undefined) throw new Error(`no item ${i} of ${items.length}`);
  return item;
}

describe('repair sweep (core rules on in-memory ports)', () => {
  test('asks the store for the tasks created before now minus the grace period; none due, nothing described or written', async () => {
    // GIVEN no active task
    const { sweep, store, workflow } = await sweeper(0);

    // WHEN a sweep runs
    const report = await sweep.run();

    // THEN it asked once, for tasks older than the grace period, and touched nothing
    expect(report.candidates).toBe(0);
    expect(store.dueQueries).toEqual([new Date(NOW.getTime() - GRACE * 1000).toISOString()]);
    expect(store.calls.filter((c) => c === 'finish')).toEqual([]);
    expect(workflow.described).toEqual([]);
    expect(workflow.listPagesRead).toBe(0);
  });

  test('a task just inside the grace period is not due', async () => {
    const { sweep, service, clock, workflow } = await sweeper(1);
    await service.track({ tenantId: 'tenant1', videoFilename: 'new.mp4' });
    clock.advance(GRACE - 1);
    const report = await sweep.run();
    expect(report).toMatchObject({ candidates: 1, live: 1 });
    expect(workflow.described).toHaveLength(1);
  });

  test('a running execution: the task is left alone', async () => {
    const { sweep, store, workflow, repaired, ids } = await sweeper(1);

    const report = await sweep.run();

    expect(report).toMatchObject({ candidates: 1, live: 1 });
    expect(workflow.described).toEqual(ids);
    expect(store.calls).not.toContain('finish');
    expect(repaired).toEqual([]);
  });

  test('a lost start: a not_started task with no execution gets its lease renewed and the same execution started', async () => {
    const { sweep, store, workflow, repaired, tasks, lose } = await sweeper(1, { notStarted: [0] });
    lose(0);
    const task = at(tasks, 0);

    const report = await sweep.run();

    expect(report).toMatchObject({ started: 1 });
    expect(store.calls).toContain('renewLease');
    expect(store.calls).not.toContain('claim');
    expect(workflow.executions.get(task.taskId)).toEqual({
      input: workflowInput(task, store.keyOf('tenant1', '0.mp4')),
      status: 'running',
    });
    expect(repaired).toEqual(['started']);
  });

  test('a lost execution: a running task whose execution does not exist ends failed (ExecutionLost) and frees the video', async () => {
    const { sweep, store, workflow, repaired, tasks, lose } = await sweeper(1);
    lose(0);
    const task = at(tasks, 0);

    await sweep.run();

    expect(store.finals.get(task.taskId)).toMatchObject({
      status: 'failed',
      error: { error: 'ExecutionLost' },
      startedAt: task.startedAt,
    });
    expect(store.finishes).toEqual([
      expect.objectContaining({
        expected: 'running',
        retainUntil: Math.floor(NOW.getTime() / 1000) + 30 * 86400,
      }),
    ]);
    expect(await store.getActive('tenant1', '0.mp4')).toBeUndefined();
    expect(workflow.executions.size).toBe(0);
    expect(repaired).toEqual(['ended']);
  });

  test('a re-drive that finds another start already ran the task is not counted as a repair', async () => {
    // GIVEN a not_started task the index still shows, whose execution another start has run to its end meanwhile
    const { sweep, store, workflow, repaired, ids, lose } = await sweeper(1, { notStarted: [0] });
    lose(0);
    workflow.failNextStart(new WorkflowAlreadyStarted('Execution Already Exists'));
    // WHEN recording it failed finds it no longer not_started
    store.failNext('finish', new TaskNotInExpectedState(at(ids, 0)));

    const report = await sweep.run();

    // THEN nothing was repaired here: no TaskRepaired, the task is left to the start that ran it
    expect(repaired).toEqual([]);
    expect(report['moved-on']).toBe(1);
  });

  test('a task marked running within the grace period is left alone though DescribeExecution does not know its execution yet', async () => {
    // GIVEN a task created a minute ago whose (late, re-driven) execution marked it running 2 s ago
    const { sweep, store, workflow, repaired, ids, lose, clock } = await sweeper(1, { notStarted: [0] });
    clock.advance(-2);
    store.markRunning(at(ids, 0), clock.now().toISOString());
    clock.advance(2);
    // WHEN DescribeExecution (eventually consistent) does not show the new execution yet
    lose(0);

    const report = await sweep.run();

    // THEN nothing is written: the next run decides
    expect(store.calls).not.toContain('finish');
    expect(workflow.executions.size).toBe(0);
    expect(repaired).toEqual([]);
    expect(report.live).toBe(1);
  });

  test.each([
    ['failed', 'FinishNotRecorded', 'failed', 'FinishNotRecorded'],
    ['timed_out', undefined, 'failed', 'States.Timeout'],
    ['aborted', undefined, 'cancelled', 'ExecutionAborted'],
    ['succeeded', undefined, 'failed', 'ExecutionEnded'],
  ] as const)(
    'a lost end: execution %s (error %s, its event lost) ends the task %s (%s), as the finalizer would',
    async (status, error, expected, errorName) => {
      const { sweep, store, repaired, ids, end } = await sweeper(1);
      end(0, status, error);

      await sweep.run();

      expect(store.finals.get(at(ids, 0))).toMatchObject({ status: expected, error: { error: errorName } });
      expect(repaired).toEqual(['ended']);
    },
  );

  test('a task younger than the grace period is left to its creator: no DescribeExecution', async () => {
    const { recovery, service, store, workflow } = await sweeper(0);
    const { task } = await service.track({ tenantId: 'tenant1', videoFilename: 'young.mp4' });
    const young = await store.getActive('tenant1', 'young.mp4');
    store.calls.length = 0;
    expect(young?.taskId).toBe(task.taskId);
    expect(await recovery.repair(young as ActiveTask)).toBe('young');
    expect(workflow.described).toEqual([]);
    expect(store.calls).toEqual([]);
  });

  test('a failure on one task is counted and the others are still repaired', async () => {
    const { sweep, workflow, ids, lose } = await sweeper(2);
    workflow.failDescribeOf(at(ids, 0), throttled('DescribeExecution'));
    lose(1);

    const report = await sweep.run();

    expect(report).toMatchObject({ candidates: 2, errors: 1, ended: 1 });
  });

  test('few due tasks (up to the threshold): each is described, no execution is listed', async () => {
    // GIVEN as many due tasks as the threshold
    const { sweep, workflow } = await sweeper(2, { listThreshold: 2 });

    // WHEN a sweep runs
    const report = await sweep.run();

    // THEN both were described and the executions were never listed
    expect(report).toMatchObject({ candidates: 2, live: 2, skipped: 0, stoppedEarly: false });
    expect(report.listed).toBeUndefined();
    expect(workflow.described).toHaveLength(2);
    expect(workflow.listPagesRead).toBe(0);
  });

  test('many due tasks: one pass over the running executions (paged), then only the tasks missing from it are described and repaired', async () => {
    // GIVEN 7 due tasks over the threshold of 2, the store answering 2 a page: 4 with a running execution (listed 3
    // a page), a lost start (4), a lost execution (5) and a lost end (6); and a running execution of a task not yet due
    const { sweep, service, store, workflow, repaired, ids, lose, end } = await sweeper(7, {
      listThreshold: 2,
      pageSize: 2,
      listPageSize: 3,
      notStarted: [4],
    });
    lose(4);
    lose(5);
    end(6, 'failed', 'FinishNotRecorded');
    await service.track({ tenantId: 'tenant1', videoFilename: 'not-yet-due.mp4' });
    const [lostStart, lostExecution, lostEnd] = ids.slice(4);

    // WHEN a sweep runs
    const report = await sweep.run();

    // THEN the list was read once, to its end (5 names, 3 a page)
    expect(workflow.listPagesRead).toBe(2);
    expect(report).toMatchObject({
      candidates: 7,
      listed: 5,
      skipped: 4,
      started: 1,
      ended: 2,
      errors: 0,
      stoppedEarly: false,
    });
    // AND only the three missing from the list were described, and repaired as a describe of each would have
    expect([...workflow.described].sort()).toEqual([lostStart, lostExecution, lostEnd].sort());
    expect(workflow.executions.get(at(ids, 4))?.status).toBe('running');
    const ends = [...store.finals.values()].map((t) => [t.taskId, t.error?.error]);
    expect(ends.sort()).toEqual(
      [
        [lostEnd, 'FinishNotRecorded'],
        [lostExecution, 'ExecutionLost'],
      ].sort(),
    );
    expect(repaired.sort()).toEqual(['ended', 'ended', 'started']);
  });

  test('the due tasks are paged: every page is read, one at a time', async () => {
    // GIVEN 5 due tasks, 2 a page, every execution running, a threshold of 1
    const { sweep, store, workflow } = await sweeper(5, { listThreshold: 1, pageSize: 2 });

    // WHEN a sweep runs
    const report = await sweep.run();

    // THEN three pages were read, and every task was skipped as running
    expect(store.duePagesRead).toBe(3);
    expect(report).toMatchObject({ candidates: 5, skipped: 5, live: 0 });
    expect(workflow.described).toEqual([]);
  });

  test('an execution that ends after the list was read: skipped by that run, repaired by the next exactly as a describe would', async () => {
    // GIVEN 3 due tasks over the threshold of 1, all three executions running when the first run lists them
    const { sweep, store, workflow, repaired, ids, end } = await sweeper(3, { listThreshold: 1 });
    const first = await sweep.run();

    // WHEN one execution times out and its end event is lost
    end(0, 'timed_out');
    const second = await sweep.run();

    // THEN the first run changed nothing (nothing is repaired on the list's word), the second recorded that one end
    expect(first).toMatchObject({ skipped: 3, ended: 0 });
    expect(second).toMatchObject({ skipped: 2, ended: 1 });
    expect(workflow.described).toEqual([at(ids, 0)]);
    expect(store.finals.get(at(ids, 0))).toMatchObject({ status: 'failed', error: { error: 'States.Timeout' } });
    expect(repaired).toEqual(['ended']);
  });

  test('an execution started after the list was read: described running and left alone', async () => {
    const { sweep, store, workflow, ids } = await sweeper(3, { listThreshold: 1 });
    // The first task's execution is missing from the list read and appears right after it.
    const execution = workflow.executions.get(at(ids, 0));
    workflow.executions.delete(at(ids, 0));
    const list = workflow.running.bind(workflow);
    workflow.running = async function* () {
      yield* list();
      if (execution) workflow.executions.set(at(ids, 0), execution);
    };

    const report = await sweep.run();

    expect(report).toMatchObject({ skipped: 2, live: 1, ended: 0, started: 0 });
    expect(store.calls).not.toContain('finish');
  });

  test('more missing tasks than one run may describe: it describes maxTasks, says it stopped early, the next run goes on', async () => {
    // GIVEN 5 lost executions, at most 2 described a run
    const { sweep, store, lose } = await sweeper(5, { listThreshold: 1, maxTasks: 2 });
    for (let i = 0; i < 5; i++) lose(i);

    const first = await sweep.run();
    const second = await sweep.run();
    const third = await sweep.run();

    expect(first).toMatchObject({ ended: 2, stoppedEarly: true });
    expect(second).toMatchObject({ ended: 2, stoppedEarly: true });
    expect(third).toMatchObject({ ended: 1, stoppedEarly: false });
    expect(store.active.size).toBe(0);
  });

  test('a run stops itself at its deadline: past it while listing, nothing is described; the next run starts over', async () => {
    // GIVEN a sweep clock that moves a minute per call, a deadline 30 s from the start, and 2 running executions
    // listed 1 a page
    let now = NOW.getTime();
    const { sweep, workflow } = await sweeper(3, {
      listThreshold: 1,
      listPageSize: 1,
      clock: () => new Date((now += 60_000)),
    });

    // WHEN a sweep runs
    const report = await sweep.run({ deadline: NOW.getTime() + 30_000 });

    // THEN it stopped after the first page of the list, with nothing described or changed
    expect(report).toMatchObject({ listed: 1, stoppedEarly: true, ended: 0 });
    expect(workflow.listPagesRead).toBe(1);
    expect(workflow.described).toEqual([]);
  });

  test('the running executions cannot be listed (throttled past the retries): the run fails with that error, nothing is repaired', async () => {
    const { sweep, store, workflow, lose } = await sweeper(3, { listThreshold: 1 });
    lose(0);
    workflow.failNextList(throttled('ListExecutions'));

    await expect(sweep.run()).rejects.toMatchObject({
      name: 'DependencyUnavailable',
      dependency: 'stepfunctions',
      operation: 'ListExecutions',
    });
    expect(workflow.described).toEqual([]);
    expect(store.calls).not.toContain('finish');
  });
});
