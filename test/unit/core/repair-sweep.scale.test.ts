import { RepairSweep, type SweepReport } from '../../../lambda/core/repair-sweep';
import { LIST_PAGE, STEP_FUNCTIONS_QUOTAS, bucketSeconds, sweepPlan } from '../../../lambda/core/sweep-plan';
import { ExecutionEnd } from '../../../lambda/shared/execution-ends';
import { coreOnDoubles, InMemorySweepState } from '../../support/doubles';
import { ACTIVE_TASKS, sweepPlanTable } from '../../../bench/sweep-plan';

const MINUTE = 60;
const OPTIONS = { concurrency: 8, listThreshold: 100, maxTasks: 500 };
const { large, other } = STEP_FUNCTIONS_QUOTAS;

describe('sweep plan: calls per run and time to repair from 10^3 to 10^6 active tasks', () => {
  test('at 10^6 with a few lost tasks, one run lists, reads and describes within its budget in every Region', () => {
    const inLarge = sweepPlan({ dueTasks: 1_000_000, missing: 1, quotas: large });
    const inOther = sweepPlan({ dueTasks: 1_000_000, missing: 1, quotas: other });

    expect(inLarge).toMatchObject({ listCalls: 1000, describeCalls: 1, runsPerPass: 1, fitsOneRun: true });
    expect(inLarge.runSeconds).toBeLessThan(4 * MINUTE);
    expect(inLarge.repairBoundSeconds).toBeLessThanOrEqual(8 * MINUTE);
    expect(inOther).toMatchObject({ listCalls: 1000, fitsOneRun: true });
    expect(inOther.runSeconds).toBeLessThan(585);
    expect(inOther.repairBoundSeconds).toBeLessThanOrEqual(18 * MINUTE);
  });

  test('up to 10^5 a run ends inside its minute: a lost start or end is repaired within ~1.5 minutes', () => {
    for (const dueTasks of [1_000, 10_000, 100_000])
      for (const quotas of [large, other]) {
        const plan = sweepPlan({ dueTasks, missing: 1, quotas });
        expect(plan.cadenceSeconds).toBe(MINUTE);
        expect(plan.repairBoundSeconds).toBeLessThanOrEqual(1.5 * MINUTE);
      }
  });

  test('the time to repair grows with the active tasks, never shrinks', () => {
    for (const quotas of [large, other]) {
      const bounds = ACTIVE_TASKS.map((dueTasks) => sweepPlan({ dueTasks, missing: 1, quotas }).repairBoundSeconds);
      expect(bounds).toEqual([...bounds].sort((a, b) => a - b));
    }
  });

  test('a mass loss takes ceil(lost / maxTasks) runs a pass, each listing again', () => {
    const plan = sweepPlan({ dueTasks: 1_000_000, missing: 2_000, quotas: large });
    expect(plan.runsPerPass).toBe(4);
    expect(plan.repairBoundSeconds).toBe(4 * plan.cadenceSeconds + 3 * plan.cadenceSeconds + plan.runSeconds + 10);
  });

  test('the token bucket: a full bucket first, then the refill rate', () => {
    // 1,000 ListExecutions one at a time: the bucket (200) and the refill during the burst carry ~400 calls at the
    // call's latency, the other ~600 wait for 5 tokens a second.
    expect(bucketSeconds(1000, large.listExecutions, 0.1)).toBeCloseTo(160, 0);
    expect(bucketSeconds(100, large.listExecutions, 0.1)).toBeCloseTo(10, 5);
  });

  test('prints the table (npm run bench:sweep-plan)', () => {
    const table = sweepPlanTable(1);
    expect(table.split('\n')).toHaveLength(2 + ACTIVE_TASKS.length * 2);
    expect(table).toContain('| 1,000,000 | large | 1000 |');
  });
});

describe('the plan counts the calls the sweep makes (in-memory doubles with their paging)', () => {
  async function leased(due: number, lost: number, maxTasks: number) {
    const core = coreOnDoubles({
      config: { redriveGraceSeconds: 10, tenantActiveTaskLimit: 0 },
      pageSize: 1000,
      listPageSize: LIST_PAGE,
    });
    for (let i = 0; i < due; i++) {
      const { task } = await core.service.track({ tenantId: 'tenant1', videoFilename: `${i}.mp4` });
      core.store.markRunning(task.taskId, core.clock.now().toISOString());
      if (i < lost) core.workflow.end(task.taskId, ExecutionEnd.FAILED, 'States.Timeout', 'c');
    }
    core.clock.advance(60);
    const sweep = new RepairSweep({
      recovery: core.recovery,
      options: { graceSeconds: 10, maxTasks, concurrency: 8, listThreshold: 100 },
      log: { info() {}, warn() {}, error() {} },
      state: new InMemorySweepState(),
    });
    return { ...core, sweep };
  }

  test('one run: ListExecutions pages and DescribeExecution calls as planned', async () => {
    const s = await leased(2_500, 3, 500);
    const plan = sweepPlan({ dueTasks: 2_500, missing: 3, quotas: large, options: { ...OPTIONS, maxTasks: 500 } });

    const report = await s.sweep.run();

    expect(report).toMatchObject({ passComplete: true, ended: 3, listed: 2_497 });
    expect(s.workflow.listPagesRead).toBe(plan.listCalls);
    expect(s.workflow.described).toHaveLength(plan.describeCalls);
  });

  test('a mass loss: as many runs a pass as planned, the list read again by each', async () => {
    const s = await leased(2_500, 1_200, 500);
    const plan = sweepPlan({ dueTasks: 2_500, missing: 1_200, quotas: large, options: { ...OPTIONS, maxTasks: 500 } });
    const reports: SweepReport[] = [];

    while (!reports.at(-1)?.passComplete && reports.length < 10) {
      reports.push(await s.sweep.run());
      s.clock.advance(60);
    }

    expect(reports).toHaveLength(plan.runsPerPass);
    expect(reports.reduce((n, r) => n + r.ended, 0)).toBe(1_200);
    expect(s.workflow.described.length).toBeLessThanOrEqual(plan.runsPerPass * plan.describeCalls);
  });
});
