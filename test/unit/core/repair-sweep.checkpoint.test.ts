import { DependencyUnavailable } from '../../../lambda/core/errors';
import { RepairSweep, type SweepReport } from '../../../lambda/core/repair-sweep';
import { ExecutionEnd } from '../../../lambda/shared/execution-ends';
import { coreOnDoubles, InMemorySweepState } from '../../support/doubles';

const GRACE = 10;
const SILENT_LOG = { info() {}, warn() {}, error() {} };

/**
 * `due` tasks of tenant1, created and marked running a minute ago, their executions running except those of `lost`
 * (an end event lost: the sweep finishes them). The store pages `pageSize` due tasks at a time.
 */
async function leasedSweep(
  due: number,
  options: { lost?: (i: number) => boolean; maxTasks?: number; pageSize?: number; limit?: number } = {},
) {
  const core = coreOnDoubles({
    config: { redriveGraceSeconds: GRACE, tenantActiveTaskLimit: options.limit ?? 0 },
    pageSize: options.pageSize ?? 100,
  });
  for (let i = 0; i < due; i++) {
    const { task } = await core.service.track({ tenantId: 'tenant1', videoFilename: `${i}.mp4` });
    core.store.markRunning(task.taskId, core.clock.now().toISOString());
    if (options.lost?.(i)) core.workflow.end(task.taskId, ExecutionEnd.FAILED, 'States.Timeout', 'c');
  }
  core.clock.advance(60);
  const state = new InMemorySweepState();
  const warned: string[] = [];
  const repaired: string[] = [];
  const sweep = new RepairSweep({
    recovery: core.recovery,
    options: { graceSeconds: GRACE, maxTasks: options.maxTasks ?? 500, concurrency: 4, listThreshold: 100 },
    log: { ...SILENT_LOG, warn: (message) => void warned.push(message) },
    state,
    recordRepair: (outcome) => repaired.push(outcome),
  });
  return { ...core, state, sweep, warned, repaired };
}

describe('repair sweep with a lease: runs never overlap', () => {
  test('a run that starts while another holds the lease exits at once: no read, no list, no describe', async () => {
    const s = await leasedSweep(300);

    const [first, second] = await Promise.all([s.sweep.run(), s.sweep.run()]);

    expect(first.leaseHeld).toBeUndefined();
    expect(first).toMatchObject({ candidates: 300, passComplete: true, passRun: 1 });
    expect(second).toMatchObject({ leaseHeld: true, candidates: 0, started: 0, ended: 0 });
    expect(s.state.acquired).toEqual([true, false]);
    expect(s.store.dueQueries).toHaveLength(1);
    expect(s.workflow.listPagesRead).toBe(1);
  });

  test('the lease is given up at the end of a run: the next tick takes it', async () => {
    const s = await leasedSweep(10);

    await s.sweep.run();
    expect(s.state.holder).toBeUndefined();
    s.clock.advance(60);
    expect((await s.sweep.run()).leaseHeld).toBeUndefined();
    expect(s.state.acquired).toEqual([true, true]);
  });

  test('a lease left by a run killed at its timeout is taken once it has expired, not before', async () => {
    const s = await leasedSweep(10);
    const now = s.clock.now().getTime();
    s.state.holder = 'killed';
    s.state.heldUntil = now + 1_000;

    expect((await s.sweep.run()).leaseHeld).toBe(true);
    s.clock.advance(2);
    expect((await s.sweep.run()).leaseHeld).toBeUndefined();
  });

  test('the holder and the lease period come from the caller (the Lambda request id)', async () => {
    const s = await leasedSweep(10);
    let seen: unknown;
    const acquire = s.state.acquire.bind(s.state);
    s.state.acquire = (holder, now, until) => ((seen = { holder, now, until }), acquire(holder, now, until));

    await s.sweep.run({ lease: { holder: 'req-1', periodMs: 9_000 } });

    const now = s.clock.now().getTime();
    expect(seen).toEqual({ holder: 'req-1', now, until: now + 9_000 });
  });

  test('a long run renews its lease as it reads (a third of the period gone), so it never lapses while it works', async () => {
    // 1,000 due tasks a page of 100; each repair moves the clock 1 s (the service's waits): a run of many minutes.
    const s = await leasedSweep(1_000, { lost: (i) => i % 2 === 0, maxTasks: 500 });
    const renewed: number[] = [];
    const renew = s.state.renew.bind(s.state);
    s.state.renew = (holder, until) => (renewed.push(until), renew(holder, until));
    const recovery = s.recovery;
    const repair = recovery.repair.bind(recovery);
    recovery.repair = async (task) => {
      s.clock.advance(1);
      return repair(task);
    };

    const report = await s.sweep.run({ lease: { holder: 'long', periodMs: 60_000 } });

    expect(report).toMatchObject({ ended: 500, passComplete: true });
    expect(renewed.length).toBeGreaterThan(2);
    expect(s.state.holder).toBeUndefined();
  });

  test('a run whose lease was taken over (it stalled past its period) stops at the next page and writes nothing', async () => {
    const s = await leasedSweep(1_000, { lost: (i) => i % 2 === 0, maxTasks: 500 });
    const recovery = s.recovery;
    const repair = recovery.repair.bind(recovery);
    recovery.repair = async (task) => {
      s.clock.advance(30);
      // Past the period: another run takes the lease.
      if (s.clock.now().getTime() > s.state.heldUntil) s.state.holder = 'other';
      return repair(task);
    };

    const report = await s.sweep.run({ lease: { holder: 'stalled', periodMs: 60_000 } });

    expect(report.stoppedEarly).toBe(true);
    expect(report.ended).toBeLessThan(500);
    expect(s.state.holder).toBe('other');
    expect(s.state.checkpoint).toBeUndefined();
    expect(s.warned).toContain('sweep lost its lease (it expired and another run took it); stopping');
  });

  test('a run that fails gives the lease up and leaves the checkpoint it found', async () => {
    const s = await leasedSweep(300, { lost: (i) => i % 3 === 0, maxTasks: 50 });
    await s.sweep.run();
    const checkpoint = s.state.checkpoint;
    s.workflow.failNextList(new DependencyUnavailable('stepfunctions', 'ListExecutions'));

    await expect(s.sweep.run()).rejects.toBeInstanceOf(DependencyUnavailable);

    expect(s.state.holder).toBeUndefined();
    expect(s.state.checkpoint).toEqual(checkpoint);
  });

  test('a run that outlived its lease (another run took it) writes no checkpoint over the other run', async () => {
    const s = await leasedSweep(300, { lost: (i) => i % 3 === 0, maxTasks: 50 });
    const stolen = { cutoff: 'other', passStartedAt: 'other', runs: 7 };
    const acquire = s.state.acquire.bind(s.state);
    s.state.acquire = async (holder, now, until) => {
      const taken = await acquire(holder, now, until);
      // Another run takes the lease after this one's expired, and saves its own checkpoint.
      s.state.holder = 'other';
      s.state.checkpoint = stolen;
      return taken;
    };

    await s.sweep.run();

    expect(s.state.checkpoint).toBe(stolen);
    expect(s.warned).toContain('sweep lease expired before the run ended; its checkpoint was not saved');
  });
});

describe('repair sweep with a checkpoint: each run is bounded, the next resumes', () => {
  test('a pass larger than one run resumes where the last run stopped: same cutoff, no page read twice, each lost task repaired once', async () => {
    // 1,200 due tasks, 400 lost (one in 3), 150 repairs a run: the pass takes 3 runs.
    const s = await leasedSweep(1_200, { lost: (i) => i % 3 === 0, maxTasks: 150 });
    const reports: SweepReport[] = [];

    for (let run = 0; run < 10 && !reports.at(-1)?.passComplete; run++) {
      reports.push(await s.sweep.run());
      s.clock.advance(60);
    }

    expect(reports.map((r) => [r.passRun, r.ended, r.stoppedEarly])).toEqual([
      [1, 150, true],
      [2, 150, true],
      [3, 100, false],
    ]);
    expect(s.repaired.filter((o) => o === 'ended')).toHaveLength(400);
    expect(s.store.active.size).toBe(800);
    // One cutoff for the whole pass, although the clock moved a minute a run.
    expect(new Set(s.store.dueQueries).size).toBe(1);
    // 12 pages of 100; a run that stops mid-page reads that page again (its repaired tasks have left it): ≤ 1 a run.
    expect(s.store.duePagesRead).toBeLessThanOrEqual(12 + 2);
    expect(s.state.checkpoint).toBeUndefined();
  });

  test('the pass after a complete one starts over with a new cutoff', async () => {
    const s = await leasedSweep(300, { lost: (i) => i === 5 });

    expect(await s.sweep.run()).toMatchObject({ passRun: 1, passComplete: true, ended: 1 });
    s.clock.advance(60);
    expect(await s.sweep.run()).toMatchObject({ passRun: 1, passComplete: true, ended: 0, candidates: 299 });
    expect(new Set(s.store.dueQueries).size).toBe(2);
  });

  test('a run stopped at its deadline while listing keeps the position it started from', async () => {
    const s = await leasedSweep(1_200, { lost: (i) => i % 3 === 0, maxTasks: 150 });
    await s.sweep.run();
    const checkpoint = s.state.checkpoint;
    s.clock.advance(60);

    const report = await s.sweep.run({ deadline: s.clock.now().getTime() });

    expect(report).toMatchObject({ stoppedEarly: true, ended: 0, passRun: 2, passComplete: false });
    expect(s.state.checkpoint).toEqual({ ...checkpoint, runs: 2 });
  });

  test('tenant counts are reconciled only after a pass read in one run: a multi-run pass leaves them to the next pass', async () => {
    const s = await leasedSweep(600, { lost: (i) => i % 3 === 0, maxTasks: 150, limit: 10_000 });
    const counter = s.store.counters.get('tenant1')!;
    // An increment whose answer was lost and was retried: counted once too often.
    s.store.counters.set('tenant1', { ...counter, activeCount: counter.activeCount + 1 });
    const reports: SweepReport[] = [];

    for (let run = 0; run < 10 && !reports.at(-1)?.passComplete; run++) {
      reports.push(await s.sweep.run());
      s.clock.advance(60);
    }
    expect(reports.length).toBeGreaterThan(1);
    expect(reports.map((r) => r.recounted)).toEqual(reports.map(() => 0));

    expect(await s.sweep.run()).toMatchObject({ passRun: 1, passComplete: true, recounted: 1 });
    expect(s.store.countOf('tenant1')).toBe(400);
  });
});
