/**
 * `npm run bench:sweep-plan`: prints the repair sweep's calls per run and time to repair from 10^3 to 10^6 active
 * tasks, at Step Functions' documented default quotas (lambda/core/sweep-plan.ts; the bounds are asserted by
 * test/unit/core/repair-sweep.scale.test.ts). A model, not a measurement: ~100 ms a call, 400 B an index item.
 */
import { STEP_FUNCTIONS_QUOTAS, type StepFunctionsQuotas, sweepPlan } from '../lambda/core/sweep-plan';

export const ACTIVE_TASKS = [1_000, 10_000, 100_000, 300_000, 500_000, 1_000_000];

const minutes = (seconds: number) => `${(seconds / 60).toFixed(1)} min`;
const secs = (seconds: number) => `${Math.round(seconds)} s`;

/** One markdown table: a row per active-task count and Region class, `missing` lost tasks a pass. */
export function sweepPlanTable(missing: number): string {
  const rows = [
    '| active tasks | Regions | ListExecutions calls | list | index pages | DescribeExecution | run | runs / pass | run cadence | time to repair (worst) |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const dueTasks of ACTIVE_TASKS)
    for (const [region, quotas] of Object.entries(STEP_FUNCTIONS_QUOTAS) as [string, StepFunctionsQuotas][]) {
      const plan = sweepPlan({ dueTasks, missing: Math.min(missing, dueTasks), quotas });
      rows.push(
        `| ${dueTasks.toLocaleString('en')} | ${region} | ${plan.listCalls} | ${secs(plan.listSeconds)} | ${plan.indexPages} | ${plan.describeCalls} | ${secs(plan.runSeconds)}${plan.fitsOneRun ? '' : ' (over budget)'} | ${plan.runsPerPass} | ${minutes(plan.cadenceSeconds)} | ${minutes(plan.repairBoundSeconds)} |`,
      );
    }
  return rows.join('\n');
}

if (require.main === module) {
  console.log('A few lost tasks (1 a pass):\n');
  console.log(sweepPlanTable(1));
  console.log('\nA mass loss (2,000 tasks lost at once, 500 repaired a run):\n');
  console.log(sweepPlanTable(2_000));
}
