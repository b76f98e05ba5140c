import { ServiceEvent } from '../../../lambda/core/ports';
import { RepairSweep } from '../../../lambda/core/repair-sweep';
import { TaskStatus } from '../../../lambda/core/task';
import { coreOnDoubles } from '../../support/doubles';
import { taskError } from '../../../lambda/core/task-errors';
import { workflowInput } from '../../../lambda/core/task-recovery';

const REQUEST = { tenantId: 'tenant1', videoFilename: 'a.mp4' };

/** A task created now whose execution runs (the state machine marked it running). */
async function runningTask(core: ReturnType<typeof coreOnDoubles>) {
  const { task } = await core.service.track(REQUEST);
  core.store.markRunning(task.taskId, core.clock.now().toISOString());
  return (await core.store.getActive('tenant1', 'a.mp4'))!;
}

describe('TaskRecovery on in-memory ports', () => {
  test('an execution that failed with a raw cause (stack trace, role ARN): the task records the name and a fixed message, the log keeps the cause', async () => {
    // GIVEN a running task whose execution failed outside the Catch, its end event lost
    const core = coreOnDoubles();
    const task = await runningTask(core);
    const cause = JSON.stringify({
      errorType: 'AccessDeniedException',
      errorMessage: 'User: arn:aws:sts::123456789012:assumed-role/R/f is not authorized',
      trace: ['at x (/var/task/index.js:1:1)'],
    });
    core.workflow.end(task.taskId, 'failed', 'AccessDeniedException', cause);
    core.clock.advance(60);

    // WHEN the sweep repairs it
    expect(await core.recovery.repair(task)).toBe('ended');

    // THEN
    const ended = (await core.store.getById(task.tenantId, task.taskId))!.task;
    expect(ended.error).toEqual({
      error: 'AccessDeniedException',
      message: 'The analysis failed; the operator has the details.',
    });
    expect(JSON.stringify(ended)).not.toMatch(/123456789012|arn:|\/var\/task/);
    expect(
      core.logged.some((l) => l.startsWith('info execution ended outside its Catch') && l.includes('123456789012')),
    ).toBe(true);
  });

  test('finalizeExecution records the end once; a late duplicate event changes nothing', async () => {
    const core = coreOnDoubles();
    const task = await runningTask(core);
    const input = workflowInput(task, core.store.keyOf('tenant1', 'a.mp4'));
    const ended = await core.recovery.finalizeExecution(input, TaskStatus.Failed, taskError('States.Timeout'));
    expect(ended).toMatchObject({ status: TaskStatus.Failed, error: { error: 'States.Timeout' } });
    expect(
      await core.recovery.finalizeExecution(input, TaskStatus.Cancelled, taskError('ExecutionAborted')),
    ).toBeUndefined();
    expect(core.counted).toEqual([ServiceEvent.FinalizerRecorded]);
  });

  test('repair leaves a young task and a live execution alone', async () => {
    const core = coreOnDoubles({ config: { redriveGraceSeconds: 10 } });
    const task = await runningTask(core);
    expect(await core.recovery.repair(task)).toBe('young');
    core.clock.advance(11);
    expect(await core.recovery.repair(task)).toBe('live');
  });

  test('repair records the end of an execution that timed out outside the Catch', async () => {
    const core = coreOnDoubles({ config: { redriveGraceSeconds: 10 } });
    const task = await runningTask(core);
    core.workflow.end(task.taskId, 'timed_out');
    core.clock.advance(11);
    expect(await core.recovery.repair(task)).toBe('ended');
    expect(core.store.finals.get(task.taskId)).toMatchObject({
      status: TaskStatus.Failed,
      error: { error: 'States.Timeout' },
    });
  });

  test('repair ends a running task whose execution is gone, unless it was marked running within the grace period', async () => {
    const core = coreOnDoubles({ config: { redriveGraceSeconds: 10 } });
    const task = await runningTask(core);
    core.workflow.executions.delete(task.taskId);
    core.clock.advance(11);
    // Marked running just now by a late re-drive: DescribeExecution may not show it yet.
    core.store.markRunning(task.taskId, core.clock.now().toISOString());
    const fresh = (await core.store.getActive('tenant1', 'a.mp4'))!;
    expect(await core.recovery.repair(fresh)).toBe('live');
    core.clock.advance(11);
    expect(await core.recovery.repair(fresh)).toBe('ended');
    expect(core.store.finals.get(task.taskId)).toMatchObject({ error: { error: 'ExecutionLost' } });
  });

  test('repair records a not_started task whose execution ended without recording it as failed', async () => {
    const core = coreOnDoubles({ config: { redriveGraceSeconds: 10 } });
    const { task } = await core.service.track(REQUEST);
    core.workflow.end(task.taskId, 'succeeded');
    core.clock.advance(11);
    expect(await core.recovery.repair((await core.store.getActive('tenant1', 'a.mp4'))!)).toBe('ended');
    expect(core.store.finals.get(task.taskId)).toMatchObject({
      status: TaskStatus.Failed,
      error: { error: 'ExecutionEnded' },
    });
  });

  test('a duplicate whose re-drive finds the execution ended frees the video and gets a new task', async () => {
    // GIVEN a not_started task past the grace period whose execution (same name) has closed
    const core = coreOnDoubles({ config: { redriveGraceSeconds: 10 } });
    const { task } = await core.service.track(REQUEST);
    core.workflow.end(task.taskId, 'failed');
    core.clock.advance(11);
    // WHEN a duplicate arrives
    const outcome = await core.service.track(REQUEST);
    // THEN the stranded task is recorded failed and the duplicate creates the next one
    expect(outcome.kind).toBe('created');
    expect(outcome.task.taskId).not.toBe(task.taskId);
    expect(core.store.finals.get(task.taskId)).toMatchObject({
      status: TaskStatus.Failed,
      error: { error: 'ExecutionEnded' },
    });
    expect(core.counted).toEqual([ServiceEvent.Redriven, ServiceEvent.RedriveFoundEnded]);
  });

  test('the sweep repairs through the recovery: due tasks from the store, live ones skipped by the listing', async () => {
    // GIVEN one live task and one whose execution was lost, both past the grace period, and a threshold of 0
    const core = coreOnDoubles({ config: { redriveGraceSeconds: 10 } });
    const live = await runningTask(core);
    const { task: lost } = await core.service.track({ tenantId: 'tenant1', videoFilename: 'b.mp4' });
    core.workflow.executions.delete(lost.taskId);
    core.clock.advance(11);
    const repaired: string[] = [];
    const sweep = new RepairSweep({
      recovery: core.recovery,
      options: { graceSeconds: 10, maxTasks: 10, concurrency: 2, listThreshold: 0 },
      log: { info() {}, warn() {}, error() {} },
      recordRepair: (o) => repaired.push(o),
    });
    // WHEN it runs
    const report = await sweep.run();
    // THEN only the lost one was described and started again
    expect(report).toMatchObject({ candidates: 2, listed: 1, skipped: 1, started: 1, errors: 0 });
    expect(repaired).toEqual(['started']);
    expect(core.workflow.executions.get(lost.taskId)?.status).toBe('running');
    expect(core.workflow.executions.get(live.taskId)?.status).toBe('running');
  });
});
