import 'aws-sdk-client-mock-jest';
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  ListExecutionsCommand,
  SFNClient,
  SFNServiceException,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { StepFunctionsWorkflow } from '../../../lambda/adapters/sfn-workflow';
import { DependencyUnavailable, WorkflowAlreadyStarted } from '../../../lambda/core/errors';
import type { WorkflowInput } from '../../../lambda/core/task';
import { STORED_ID, STORED_KEY } from '../../support/stored-items';

const STATE_MACHINE_ARN = 'arn:aws:states:eu-west-1:123456789012:stateMachine:analysis';
const EXECUTION_ARN = `arn:aws:states:eu-west-1:123456789012:execution:analysis:${STORED_ID}`;
const sfn = mockClient(SFNClient);
const workflow = new StepFunctionsWorkflow(new SFNClient({ region: 'eu-west-1' }), STATE_MACHINE_ARN);
const INPUT: WorkflowInput = {
  taskId: STORED_ID,
  tenantId: 'tenant1',
  videoFilename: 'test.mp4',
  createdAt: '2026-11-28T12:00:00.000Z',
  retainUntil: 1_800_000_000,
  taskKey: STORED_KEY,
  storageKey: 'tenants/tenant1/test.mp4',
};
const notFound = () => new ExecutionDoesNotExist({ message: 'Execution Does Not Exist', $metadata: {} });
const throttled = () =>
  new SFNServiceException({
    name: 'ThrottlingException',
    $fault: 'client',
    $metadata: { httpStatusCode: 400 },
    message: 'Rate exceeded',
  });

beforeEach(() => sfn.reset());

describe('StepFunctionsWorkflow.start', () => {
  test('one StartExecution named after the task, its input as the state machine reads it (snake_case, tenant key and counter shard)', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: EXECUTION_ARN, startDate: new Date() });

    await workflow.start(INPUT);

    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, {
      stateMachineArn: STATE_MACHINE_ARN,
      name: STORED_ID,
      input: JSON.stringify({
        task_id: STORED_ID,
        tenant_id: 'tenant1',
        video_filename: 'test.mp4',
        created_at: INPUT.createdAt,
        retain_until: INPUT.retainUntil,
        task_key: STORED_KEY,
        tenant_key: 'TENANT#7#tenant1',
        // counterShard('tenant1'): the state machine cannot hash, so the shard travels with the key.
        counter_shard: 28,
        storage_key: 'tenants/tenant1/test.mp4',
      }),
    });
  });

  test('ExecutionAlreadyExists (the name is taken by an execution with another input or a closed one) is WorkflowAlreadyStarted', async () => {
    sfn
      .on(StartExecutionCommand)
      .rejects(new ExecutionAlreadyExists({ message: 'Execution Already Exists', $metadata: {} }));
    await expect(workflow.start(INPUT)).rejects.toBeInstanceOf(WorkflowAlreadyStarted);
  });

  test('an unavailable service is DependencyUnavailable (503) naming StartExecution', async () => {
    sfn.on(StartExecutionCommand).rejects(
      new SFNServiceException({
        name: 'ServiceUnavailable',
        $fault: 'server',
        $metadata: { httpStatusCode: 503 },
        message: 'down',
      }),
    );
    const error = await workflow.start(INPUT).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyUnavailable);
    expect(error).toMatchObject({ dependency: 'stepfunctions', operation: 'StartExecution' });
  });
});

describe('StepFunctionsWorkflow.stop', () => {
  test("StopExecution of the task's execution (its ARN built from the state machine's), with the cause", async () => {
    sfn.on(StopExecutionCommand).resolves({ stopDate: new Date() });
    await workflow.stop(STORED_ID, 'cancelled');
    expect(sfn).toHaveReceivedCommandWith(StopExecutionCommand, { executionArn: EXECUTION_ARN, cause: 'cancelled' });
  });

  test('an execution that does not exist is already stopped; any other failure is translated', async () => {
    sfn.on(StopExecutionCommand).rejectsOnce(notFound()).rejectsOnce(throttled());
    await expect(workflow.stop(STORED_ID, 'x')).resolves.toBeUndefined();
    await expect(workflow.stop(STORED_ID, 'x')).rejects.toMatchObject({
      name: 'DependencyUnavailable',
      operation: 'StopExecution',
    });
  });
});

describe('StepFunctionsWorkflow.describe: what the sweep decides on', () => {
  test("DescribeExecution of the task's execution ARN; RUNNING is running", async () => {
    sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' });
    expect(await workflow.describe(STORED_ID)).toEqual({ status: 'running' });
    expect(sfn).toHaveReceivedCommandWith(DescribeExecutionCommand, { executionArn: EXECUTION_ARN });
  });

  test.each([
    ['FAILED', 'failed'],
    ['TIMED_OUT', 'timed_out'],
    ['ABORTED', 'aborted'],
    ['SUCCEEDED', 'succeeded'],
  ] as const)('%s is the end %s, with its error and cause', async (status, end) => {
    sfn.on(DescribeExecutionCommand).resolves({ status, error: 'E', cause: 'c' });
    expect(await workflow.describe(STORED_ID)).toEqual({ status: end, error: 'E', cause: 'c' });
  });

  test('no such execution is none; a throttled describe is DependencyUnavailable naming DescribeExecution', async () => {
    sfn.on(DescribeExecutionCommand).rejectsOnce(notFound()).rejectsOnce(throttled());
    expect(await workflow.describe(STORED_ID)).toEqual({ status: 'none' });
    await expect(workflow.describe(STORED_ID)).rejects.toMatchObject({
      name: 'DependencyUnavailable',
      dependency: 'stepfunctions',
      operation: 'DescribeExecution',
    });
  });
});

describe('StepFunctionsWorkflow.running: the list the sweep filters with', () => {
  test('ListExecutions(RUNNING) of this state machine, 1,000 a page, paged by nextToken to the end', async () => {
    const execution = (name: string) => ({
      name,
      executionArn: `arn:x:${name}`,
      stateMachineArn: STATE_MACHINE_ARN,
      status: 'RUNNING' as const,
      startDate: new Date(),
    });
    sfn
      .on(ListExecutionsCommand)
      .resolvesOnce({ executions: [execution('a'), execution('b')], nextToken: 't1' })
      .resolvesOnce({ executions: [execution('c')] });

    const pages: (readonly string[])[] = [];
    for await (const page of workflow.running()) pages.push(page);

    expect(pages).toEqual([['a', 'b'], ['c']]);
    expect(sfn.commandCalls(ListExecutionsCommand).map((c) => c.args[0].input)).toEqual([
      { stateMachineArn: STATE_MACHINE_ARN, statusFilter: 'RUNNING', maxResults: 1000, nextToken: undefined },
      { stateMachineArn: STATE_MACHINE_ARN, statusFilter: 'RUNNING', maxResults: 1000, nextToken: 't1' },
    ]);
  });

  test('ListExecutions throttled past its retries: DependencyUnavailable naming ListExecutions', async () => {
    sfn.on(ListExecutionsCommand).rejects(throttled());
    await expect(workflow.running()[Symbol.asyncIterator]().next()).rejects.toMatchObject({
      name: 'DependencyUnavailable',
      dependency: 'stepfunctions',
      operation: 'ListExecutions',
    });
  });
});
