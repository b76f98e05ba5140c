import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { executionArn, toExecutionInput } from '../../lambda/adapters/sfn-workflow';
import { type ActiveTask, TaskStatus } from '../../lambda/core/task';
import { env, eventually, localStore as store, newTask, uniqueTenant } from './support';
import { workflowInput } from '../../lambda/core/task-recovery';
import { TEST_KEYS } from '../support/stored-items';

// The synthesized definition's Catch clauses name errors as Step Functions does on AWS: "DynamoDB.*" for the
// optimized integration (MarkRunning), "DynamoDb.*" for the AWS SDK integration (MarkCompleted/MarkFailed).
const sfn = new SFNClient({ endpoint: env.sfnEndpoint });

async function start(task: ActiveTask) {
  const input = toExecutionInput(workflowInput(task, TEST_KEYS.activeKey(task.tenantId, task.videoFilename)));
  const res = await sfn.send(
    new StartExecutionCommand({
      stateMachineArn: env.stateMachineArn,
      name: task.taskId,
      input: JSON.stringify(input),
    }),
  );
  expect(res.executionArn).toBe(executionArn(env.stateMachineArn, task.taskId));
  return res.executionArn!;
}

async function ended(arn: string) {
  return eventually(
    async () => {
      const d = await sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
      return d.status === 'RUNNING' ? undefined : d;
    },
    20_000,
    'execution end',
  );
}

describe('error names of the local DynamoDB integrations', () => {
  test('MarkRunning on a task that is not there: DynamoDB.ConditionalCheckFailedException is caught into NoLongerActive', async () => {
    const arn = await start(newTask(uniqueTenant('ghost'), 'ghost.mp4'));
    const done = await ended(arn);
    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.parse(done.output!).error.Error).toBe('DynamoDB.ConditionalCheckFailedException');
  });

  test('MarkFailed after the task was cancelled: DynamoDb.TransactionCanceledException is caught into AlreadyFinished, nothing overwritten', async () => {
    const tenant = uniqueTenant('late');
    const task = newTask(tenant, 'fail-late.mp4');
    const taskKey = store.keyOf(task.tenantId, task.videoFilename);
    expect(await store.claim(task, task.retainUntil)).toEqual({ won: true, taskKey });
    const arn = await start(task);
    const running = await eventually(async () => {
      const found = await store.getById(tenant, task.taskId);
      return found?.task.status === TaskStatus.Running ? found : undefined;
    });
    // Cancelled behind the execution's back (no StopExecution): its MarkFailed must lose.
    await store.finish({
      task: running.task as ActiveTask,
      taskKey,
      status: TaskStatus.Cancelled,
      expected: TaskStatus.Running,
      at: new Date().toISOString(),
      retainUntil: task.retainUntil,
    });

    const done = await ended(arn);

    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.parse(done.output!).error.Error).toBe('DynamoDb.TransactionCanceledException');
    expect((await store.getById(tenant, task.taskId))?.task.status).toBe(TaskStatus.Cancelled);
  });

  test('execution names: same name and input while running is the same execution; a different input is ExecutionAlreadyExists', async () => {
    const task = newTask(uniqueTenant('names'), 'n.mp4');
    await store.claim(task, task.retainUntil);
    const first = await start(task);
    const again = await start(task);
    expect(again).toBe(first);
    const other = toExecutionInput(workflowInput({ ...task, videoFilename: 'other.mp4' }, 'x'));
    await expect(
      sfn.send(
        new StartExecutionCommand({
          stateMachineArn: env.stateMachineArn,
          name: task.taskId,
          input: JSON.stringify(other),
        }),
      ),
    ).rejects.toMatchObject({
      name: 'ExecutionAlreadyExists',
    });
    await ended(first);
  });
});
