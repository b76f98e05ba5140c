import 'aws-sdk-client-mock-jest';
import { DescribeExecutionCommand, ExecutionDoesNotExist, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { GetCommand, PutCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { sweepShard, SWEEP_SHARDS } from '../../lambda/adapters/dynamodb-task-store';
import { RepairSweep } from '../../lambda/core/repair-sweep';
import { mockedHandler, NOW, STATE_MACHINE_ARN, TABLE } from '../support/mocked-handler';

const ID = '5f0c3a52-8d0e-4c4b-a0f7-0e6f0d6f7b11';
const KEY = 'ACTIVE#7#tenant1#test.mp4';
const CREATED = new Date(NOW.getTime() - 60_000).toISOString();
const ACTIVE = {
  pk: KEY,
  item_type: 'active',
  task_id: ID,
  tenant_id: 'tenant1',
  video_filename: 'test.mp4',
  status: 'running',
  created_at: CREATED,
  updated_at: CREATED,
  started_at: CREATED,
  lease_expires_at: 2_000_000_000,
  retain_until: 2_100_000_000,
  sweep_shard: sweepShard(ID),
};
const LINK = { pk: `TASK#${ID}`, item_type: 'link', task_id: ID, tenant_id: 'tenant1', video_filename: 'test.mp4', created_at: CREATED, task_key: KEY };
const notFound = () => new ExecutionDoesNotExist({ message: 'Execution Does Not Exist', $metadata: {} });

/** The real service and adapters with mocked clients; the index answers `items` in their shards. */
function sweeper(items: Record<string, unknown>[], maxTasks = 500) {
  const mocked = mockedHandler();
  const { ddb } = mocked;
  ddb.on(QueryCommand).callsFake((input) => ({
    Items: items.filter((i) => i.sweep_shard === input.ExpressionAttributeValues[':shard'] && String(i.created_at) >= input.ExpressionAttributeValues[':from']),
  }));
  ddb.on(GetCommand, { Key: { pk: `TASK#${ID}` } }).resolves({ Item: LINK });
  ddb.on(GetCommand, { Key: { pk: KEY } }).resolves({ Item: items[0] });
  ddb.on(TransactWriteCommand).resolves({});
  ddb.on(UpdateCommand).resolves({});
  ddb.on(PutCommand).resolves({});
  const repaired: string[] = [];
  const store = (mocked.service as unknown as { store: ConstructorParameters<typeof RepairSweep>[1] }).store;
  const sweep = new RepairSweep(mocked.service, store, { now: () => NOW }, { graceSeconds: 10, maxTasks, concurrency: 4 }, { info() {}, warn() {}, error() {} }, (o) => repaired.push(o));
  return { ...mocked, sweep, repaired };
}

describe('repair sweep', () => {
  test('finds candidates through the sparse index, one query per shard, only tasks older than the grace period', async () => {
    // GIVEN no active task
    const { sweep, ddb, sfn } = sweeper([]);

    // WHEN a sweep runs
    const report = await sweep.run();

    // THEN it asked the index of each shard for tasks created before now - grace, and nothing else
    expect(report.candidates).toBe(0);
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, SWEEP_SHARDS);
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      TableName: TABLE,
      IndexName: 'active-by-age',
      KeyConditionExpression: '#shard = :shard AND #created_at BETWEEN :from AND :before',
      ExpressionAttributeValues: { ':shard': 0, ':from': '0', ':before': new Date(NOW.getTime() - 10_000).toISOString() },
    });
    expect(ddb).not.toHaveReceivedCommand(TransactWriteCommand);
    expect(sfn.calls()).toHaveLength(0);
  });

  test('a running execution: the task is left alone', async () => {
    const { sweep, ddb, sfn, repaired } = sweeper([ACTIVE]);
    sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' });

    const report = await sweep.run();

    expect(report).toMatchObject({ candidates: 1, live: 1 });
    expect(sfn).toHaveReceivedCommandWith(DescribeExecutionCommand, { executionArn: `${STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:${ID}` });
    expect(ddb).not.toHaveReceivedCommand(TransactWriteCommand);
    expect(repaired).toEqual([]);
  });

  test('a lost start: a not_started task with no execution gets its lease renewed, its link, and the same execution started', async () => {
    const stranded = { ...ACTIVE, status: 'not_started', started_at: undefined };
    const { sweep, ddb, sfn, repaired } = sweeper([stranded]);
    sfn.on(DescribeExecutionCommand).rejects(notFound());
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn' });

    const report = await sweep.run();

    expect(report).toMatchObject({ started: 1 });
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, { ConditionExpression: '#task_id = :task_id AND #status = :not_started' });
    expect(ddb).toHaveReceivedCommandWith(PutCommand, { Item: expect.objectContaining({ pk: `TASK#${ID}`, item_type: 'link' }) });
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, {
      name: ID,
      input: JSON.stringify({ task_id: ID, tenant_id: 'tenant1', video_filename: 'test.mp4', created_at: CREATED, retain_until: ACTIVE.retain_until, task_key: KEY }),
    });
    expect(repaired).toEqual(['started']);
  });

  test('a lost execution: a running task whose execution does not exist ends failed (ExecutionLost) and frees the video', async () => {
    const { sweep, ddb, sfn, repaired } = sweeper([ACTIVE]);
    sfn.on(DescribeExecutionCommand).rejects(notFound());

    await sweep.run();

    const [put, del] = ddb.commandCalls(TransactWriteCommand)[0].args[0].input.TransactItems!;
    expect(put.Put!.Item).toMatchObject({ pk: `TASK#${ID}`, status: 'failed', error: { error: 'ExecutionLost' }, started_at: CREATED });
    expect(put.Put!.Item!.expires_at).toBe(Math.floor(NOW.getTime() / 1000) + 30 * 86400);
    expect(del.Delete!.ExpressionAttributeValues).toEqual({ ':task_id': ID, ':expected': 'running' });
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
    expect(repaired).toEqual(['ended']);
  });

  test.each([
    ['FAILED', 'FinishNotRecorded', 'failed', 'FinishNotRecorded'],
    ['TIMED_OUT', undefined, 'failed', 'States.Timeout'],
    ['ABORTED', undefined, 'cancelled', 'ExecutionAborted'],
    ['SUCCEEDED', undefined, 'failed', 'ExecutionEnded'],
  ])('a lost end: execution %s (its event lost) ends the task %s, as the finalizer would', async (status, error, expected, errorName) => {
    const { sweep, ddb, sfn, repaired } = sweeper([ACTIVE]);
    sfn.on(DescribeExecutionCommand).resolves({ status: status as 'FAILED', error, cause: 'c' });

    await sweep.run();

    const [put] = ddb.commandCalls(TransactWriteCommand)[0].args[0].input.TransactItems!;
    expect(put.Put!.Item).toMatchObject({ status: expected, error: { error: errorName } });
    expect(repaired).toEqual(['ended']);
  });

  test('a task younger than the grace period is left to its creator: no DescribeExecution', async () => {
    const young = { ...ACTIVE, status: 'not_started', created_at: new Date(NOW.getTime() - 5_000).toISOString() };
    const { service, sfn, ddb } = sweeper([young]);
    const outcome = await service.repair({ taskId: ID, tenantId: 'tenant1', videoFilename: 'test.mp4', status: 'not_started', createdAt: young.created_at, updatedAt: young.created_at, leaseExpiresAt: 1, retainUntil: 1 });
    expect(outcome).toBe('young');
    expect(sfn.calls()).toHaveLength(0);
    expect(ddb.calls()).toHaveLength(0);
  });

  test('a failure on one task is counted and the others are still repaired', async () => {
    const other = '6a1d4b63-9e1f-4d5c-b1a8-1f7e1e7c8c22';
    const second = { ...ACTIVE, pk: 'ACTIVE#7#tenant1#other.mp4', task_id: other, video_filename: 'other.mp4', sweep_shard: sweepShard(other) };
    const { sweep, sfn } = sweeper([ACTIVE, second]);
    sfn.on(DescribeExecutionCommand).callsFake((input) => {
      if (input.executionArn.endsWith(ID)) throw Object.assign(new Error('boom'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });
      return { status: 'RUNNING' };
    });

    const report = await sweep.run();

    expect(report).toMatchObject({ candidates: 2, errors: 1, live: 1 });
  });

  test('more candidates than one run may check: the next run continues after the last one checked', async () => {
    const ids = ['11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222', '33333333-3333-4333-8333-333333333333'];
    const items = ids.map((id, i) => ({ ...ACTIVE, pk: `ACTIVE#7#tenant1#${i}.mp4`, task_id: id, created_at: new Date(NOW.getTime() - 60_000 + i).toISOString(), sweep_shard: sweepShard(id) }));
    const { sweep, sfn } = sweeper(items, 2);
    sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' });

    await sweep.run();
    await sweep.run();

    const described = sfn.commandCalls(DescribeExecutionCommand).map((c) => c.args[0].input.executionArn!.split(':').pop());
    expect(described.slice(0, 2)).toEqual(ids.slice(0, 2));
    expect(described.slice(2)).toContain(ids[2]);
  });
});
