import 'aws-sdk-client-mock-jest';
import { PutItemCommand, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  ListExecutionsCommand,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { GetCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { sweepShard, SWEEP_SHARDS } from '../../../lambda/shared/table';
import { RepairSweep } from '../../../lambda/core/repair-sweep';
import { mockedHandler, NOW, STATE_MACHINE_ARN, TABLE } from '../../support/mocked-handler';
import { activeItem, STORED_ID, STORED_KEY, TEST_KEYS } from '../../support/stored-items';

const ID = STORED_ID;
const KEY = STORED_KEY;
const CREATED = new Date(NOW.getTime() - 60_000).toISOString();
const ACTIVE = activeItem(CREATED, { started_at: CREATED, sweep_shard: sweepShard(ID) });
const notFound = () => new ExecutionDoesNotExist({ message: 'Execution Does Not Exist', $metadata: {} });

/** A due task of its own (running, a minute old), in its shard. */
function task(id: string, video: string, extra: Record<string, unknown> = {}) {
  return {
    ...ACTIVE,
    pk: TEST_KEYS.activeKey('tenant1', video),
    task_id: id,
    video_filename: video,
    sweep_shard: sweepShard(id),
    ...extra,
  };
}
/** n task ids, the i-th of tenant1's video `${i}.mp4`. */
const ids = (n: number) => Array.from({ length: n }, (_, i) => TEST_KEYS.newTaskId('tenant1', `${i}.mp4`));
const idOf = (arn: string | undefined) => arn!.split(':').pop();

/**
 * The real service and adapters with mocked clients; the index answers `items` in their shards, `pageSize` a page
 * (paged by ExclusiveStartKey, as DynamoDB pages at 1 MB); GetItem finds each active item at its key.
 */
function sweeper(
  items: Record<string, any>[],
  options: { maxTasks?: number; listThreshold?: number; pageSize?: number; clock?: () => Date } = {},
) {
  const mocked = mockedHandler();
  const { ddb } = mocked;
  const pageSize = options.pageSize ?? 1000;
  ddb.on(QueryCommand).callsFake((input) => {
    const values = input.ExpressionAttributeValues;
    const shard = items.filter((i) => i.sweep_shard === values[':shard'] && String(i.created_at) < values[':before']);
    const from = input.ExclusiveStartKey?.at ?? 0;
    return {
      Items: shard.slice(from, from + pageSize),
      LastEvaluatedKey: from + pageSize < shard.length ? { at: from + pageSize } : undefined,
    };
  });
  ddb.on(GetCommand).callsFake((input) => {
    const item = items.find((i) => i.pk === input.Key.pk);
    return item ? { Item: item } : {};
  });
  ddb.on(TransactWriteCommand).resolves({});
  ddb.on(UpdateCommand).resolves({});
  ddb.on(PutItemCommand).resolves({});
  const repaired: string[] = [];
  const clock = options.clock;
  // The sweep's own clock may run ahead of the service's (a run that outlives its deadline).
  const recovery = clock
    ? Object.assign(Object.create(mocked.service.recovery), { now: clock })
    : mocked.service.recovery;
  const sweep = new RepairSweep({
    recovery,
    options: {
      graceSeconds: 10,
      maxTasks: options.maxTasks ?? 500,
      concurrency: 4,
      listThreshold: options.listThreshold ?? 100,
    },
    log: { info() {}, warn() {}, error() {} },
    recordRepair: (o) => repaired.push(o),
  });
  return { ...mocked, sweep, repaired };
}

/** ListExecutions(RUNNING) answering `names`, `pageSize` a page, paged by nextToken. */
function listing(sfn: ReturnType<typeof mockedHandler>['sfn'], names: () => string[], pageSize = 1000) {
  sfn.on(ListExecutionsCommand).callsFake((input) => {
    const all = names();
    const from = input.nextToken ? Number(input.nextToken) : 0;
    const page = all
      .slice(from, from + pageSize)
      .map((name) => ({
        name,
        executionArn: `arn:x:${name}`,
        stateMachineArn: STATE_MACHINE_ARN,
        status: 'RUNNING',
        startDate: NOW,
      }));
    return { executions: page, nextToken: from + pageSize < all.length ? String(from + pageSize) : undefined };
  });
}

describe('repair sweep', () => {
  test('finds candidates through the sparse index, one query per shard, only tasks older than the grace period', async () => {
    // GIVEN no active task
    const { sweep, ddb, sfn } = sweeper([]);

    // WHEN a sweep runs
    const report = await sweep.run();

    // THEN it asked the index of each shard for tasks created before now - grace, and the counters' partition once
    expect(report.candidates).toBe(0);
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, SWEEP_SHARDS + 1);
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      IndexName: 'active-by-age',
      ExpressionAttributeValues: { ':shard': SWEEP_SHARDS },
    });
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      TableName: TABLE,
      IndexName: 'active-by-age',
      KeyConditionExpression: '#shard = :shard AND #created_at < :before',
      ExpressionAttributeValues: { ':shard': 0, ':before': new Date(NOW.getTime() - 10_000).toISOString() },
    });
    expect(ddb).not.toHaveReceivedCommand(TransactWriteCommand);
    expect(sfn.calls()).toHaveLength(0);
  });

  test('a running execution: the task is left alone', async () => {
    const { sweep, ddb, sfn, repaired } = sweeper([ACTIVE]);
    sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' });

    const report = await sweep.run();

    expect(report).toMatchObject({ candidates: 1, live: 1 });
    expect(sfn).toHaveReceivedCommandWith(DescribeExecutionCommand, {
      executionArn: `${STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:${ID}`,
    });
    expect(ddb).not.toHaveReceivedCommand(TransactWriteCommand);
    expect(repaired).toEqual([]);
  });

  test('a lost start: a not_started task with no execution gets its lease renewed and the same execution started', async () => {
    const stranded = { ...ACTIVE, status: 'not_started', started_at: undefined };
    const { sweep, ddb, sfn, repaired } = sweeper([stranded]);
    sfn.on(DescribeExecutionCommand).rejects(notFound());
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn' });

    const report = await sweep.run();

    expect(report).toMatchObject({ started: 1 });
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      ConditionExpression: '#task_id = :task_id AND #status = :not_started AND #lease = :read_lease',
      ExpressionAttributeValues: expect.objectContaining({ ':read_lease': ACTIVE.lease_expires_at }),
    });
    expect(ddb).not.toHaveReceivedCommand(PutItemCommand);
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, {
      name: ID,
      input: JSON.stringify({
        task_id: ID,
        tenant_id: 'tenant1',
        video_filename: 'test.mp4',
        created_at: CREATED,
        retain_until: ACTIVE.retain_until,
        task_key: KEY,
        tenant_key: 'TENANT#7#tenant1',
        storage_key: 'tenants/tenant1/test.mp4',
      }),
    });
    expect(repaired).toEqual(['started']);
  });

  test('a lost execution: a running task whose execution does not exist ends failed (ExecutionLost) and frees the video', async () => {
    const { sweep, ddb, sfn, repaired } = sweeper([ACTIVE]);
    sfn.on(DescribeExecutionCommand).rejects(notFound());

    await sweep.run();

    const [put, del] = ddb.commandCalls(TransactWriteCommand)[0].args[0].input.TransactItems!;
    expect(put.Put!.Item).toMatchObject({
      pk: `TASK#${ID}`,
      status: 'failed',
      error: { error: 'ExecutionLost' },
      started_at: CREATED,
    });
    expect(put.Put!.Item!.expires_at).toBe(Math.floor(NOW.getTime() / 1000) + 30 * 86400);
    expect(del.Delete!.ExpressionAttributeValues).toEqual({ ':task_id': ID, ':expected': 'running' });
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
    expect(repaired).toEqual(['ended']);
  });

  test('a re-drive that finds another start already ran the task is not counted as a repair', async () => {
    // GIVEN a not_started task the index still shows, whose execution another start has run to its end meanwhile
    const { sweep, ddb, sfn, repaired } = sweeper([
      task(ID, 'test.mp4', { status: 'not_started', started_at: undefined }),
    ]);
    sfn.on(DescribeExecutionCommand).rejects(notFound());
    sfn
      .on(StartExecutionCommand)
      .rejects(new ExecutionAlreadyExists({ message: 'Execution Already Exists', $metadata: {} }));
    // WHEN recording it failed finds it no longer not_started
    ddb
      .on(TransactWriteCommand)
      .rejects(
        new TransactionCanceledException({
          message: 'cancelled',
          $metadata: {},
          CancellationReasons: [{ Code: 'None' }, { Code: 'ConditionalCheckFailed' }],
        }),
      );

    const report = await sweep.run();

    // THEN nothing was repaired here: no TaskRepaired, the task is left to the start that ran it
    expect(repaired).toEqual([]);
    expect(report['moved-on']).toBe(1);
  });

  test('a task marked running within the grace period is left alone though DescribeExecution does not know its execution yet', async () => {
    // GIVEN a task created a minute ago whose (late, re-driven) execution marked it running 2 s ago
    const startedJustNow = new Date(NOW.getTime() - 2_000).toISOString();
    const { sweep, ddb, sfn, repaired } = sweeper([
      task(ID, 'test.mp4', { started_at: startedJustNow, updated_at: startedJustNow }),
    ]);
    // WHEN DescribeExecution (eventually consistent) does not show the new execution yet
    sfn.on(DescribeExecutionCommand).rejects(notFound());

    const report = await sweep.run();

    // THEN nothing is written: the next run decides
    expect(ddb).not.toHaveReceivedCommand(TransactWriteCommand);
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
    expect(repaired).toEqual([]);
    expect(report.live).toBe(1);
  });

  test.each([
    ['FAILED', 'FinishNotRecorded', 'failed', 'FinishNotRecorded'],
    ['TIMED_OUT', undefined, 'failed', 'States.Timeout'],
    ['ABORTED', undefined, 'cancelled', 'ExecutionAborted'],
    ['SUCCEEDED', undefined, 'failed', 'ExecutionEnded'],
  ])(
    'a lost end: execution %s (error %s, its event lost) ends the task %s (%s), as the finalizer would',
    async (status, error, expected, errorName) => {
      const { sweep, ddb, sfn, repaired } = sweeper([ACTIVE]);
      sfn.on(DescribeExecutionCommand).resolves({ status: status as 'FAILED', error, cause: 'c' });

      await sweep.run();

      const [put] = ddb.commandCalls(TransactWriteCommand)[0].args[0].input.TransactItems!;
      expect(put.Put!.Item).toMatchObject({ status: expected, error: { error: errorName } });
      expect(repaired).toEqual(['ended']);
    },
  );

  test('a task younger than the grace period is left to its creator: no DescribeExecution', async () => {
    const young = { ...ACTIVE, status: 'not_started', created_at: new Date(NOW.getTime() - 5_000).toISOString() };
    const { service, sfn, ddb } = sweeper([young]);
    const outcome = await service.recovery.repair({
      taskId: ID,
      tenantId: 'tenant1',
      videoFilename: 'test.mp4',
      status: 'not_started',
      createdAt: young.created_at,
      updatedAt: young.created_at,
      leaseExpiresAt: 1,
      retainUntil: 1,
    });
    expect(outcome).toBe('young');
    expect(sfn.calls()).toHaveLength(0);
    expect(ddb.calls()).toHaveLength(0);
  });

  test('a failure on one task is counted and the others are still repaired', async () => {
    const other = TEST_KEYS.newTaskId('tenant1', 'other.mp4');
    const second = {
      ...ACTIVE,
      pk: TEST_KEYS.activeKey('tenant1', 'other.mp4'),
      task_id: other,
      video_filename: 'other.mp4',
      sweep_shard: sweepShard(other),
    };
    const { sweep, sfn } = sweeper([ACTIVE, second]);
    sfn.on(DescribeExecutionCommand).callsFake((input) => {
      if (input.executionArn.endsWith(ID))
        throw Object.assign(new Error('boom'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });
      return { status: 'RUNNING' };
    });

    const report = await sweep.run();

    expect(report).toMatchObject({ candidates: 2, errors: 1, live: 1 });
  });

  test('few due tasks (up to the threshold): each is described, no execution is listed', async () => {
    // GIVEN as many due tasks as the threshold
    const [a, b] = ids(2);
    const { sweep, sfn } = sweeper([task(a, '0.mp4'), task(b, '1.mp4')], { listThreshold: 2 });
    sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' });

    // WHEN a sweep runs
    const report = await sweep.run();

    // THEN both were described and ListExecutions was never called
    expect(report).toMatchObject({ candidates: 2, live: 2, skipped: 0, stoppedEarly: false });
    expect(report.listed).toBeUndefined();
    expect(sfn).toHaveReceivedCommandTimes(DescribeExecutionCommand, 2);
    expect(sfn).not.toHaveReceivedCommand(ListExecutionsCommand);
  });

  test('many due tasks: one pass over the running executions (paged), then only the tasks missing from it are described and repaired', async () => {
    // GIVEN 7 due tasks over the threshold of 2, the index answering 2 items a page: 4 with a running execution
    // (listed 3 a page), a lost start, a lost execution and a lost end
    const all = ids(7);
    const live = all.slice(0, 4);
    const [lostStart, lostExecution, lostEnd] = all.slice(4);
    const items = all.map((id, i) =>
      task(id, `${i}.mp4`, id === lostStart ? { status: 'not_started', started_at: undefined } : {}),
    );
    const { sweep, sfn, ddb, repaired } = sweeper(items, { listThreshold: 2, pageSize: 2 });
    listing(sfn, () => [...live, 'an-execution-of-a-task-not-yet-due'], 3);
    sfn.on(DescribeExecutionCommand).callsFake((input) => {
      if (idOf(input.executionArn) === lostEnd) return { status: 'FAILED', error: 'FinishNotRecorded', cause: 'c' };
      throw notFound();
    });
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn' });

    // WHEN a sweep runs
    const report = await sweep.run();

    // THEN the list was read once, to its end, as RUNNING executions of this state machine, 1,000 a page
    expect(sfn.commandCalls(ListExecutionsCommand).map((c) => c.args[0].input)).toEqual([
      { stateMachineArn: STATE_MACHINE_ARN, statusFilter: 'RUNNING', maxResults: 1000, nextToken: undefined },
      { stateMachineArn: STATE_MACHINE_ARN, statusFilter: 'RUNNING', maxResults: 1000, nextToken: '3' },
    ]);
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
    expect(
      sfn
        .commandCalls(DescribeExecutionCommand)
        .map((c) => idOf(c.args[0].input.executionArn))
        .sort(),
    ).toEqual([lostStart, lostExecution, lostEnd].sort());
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, { name: lostStart });
    const ends = ddb.commandCalls(TransactWriteCommand).map((c) => c.args[0].input.TransactItems![0].Put!.Item!);
    expect(ends.map((i) => [i.task_id, i.error.error]).sort()).toEqual(
      [
        [lostEnd, 'FinishNotRecorded'],
        [lostExecution, 'ExecutionLost'],
      ].sort(),
    );
    expect(repaired.sort()).toEqual(['ended', 'ended', 'started']);
  });

  test('the index is paged: every page is read, one at a time', async () => {
    // GIVEN 5 due tasks in one shard, 2 a page, and no running execution
    const all = ids(5);
    const { sweep, sfn, ddb } = sweeper(
      all.map((id, i) => task(id, `${i}.mp4`, { sweep_shard: 3 })),
      { listThreshold: 1, pageSize: 2 },
    );
    listing(sfn, () => all);

    // WHEN a sweep runs
    const report = await sweep.run();

    // THEN that shard was queried three times, resuming after each page, and every task was skipped as running
    const shardQueries = ddb
      .commandCalls(QueryCommand)
      .filter((c) => c.args[0].input.ExpressionAttributeValues![':shard'] === 3);
    expect(shardQueries.map((c) => c.args[0].input.ExclusiveStartKey)).toEqual([undefined, { at: 2 }, { at: 4 }]);
    expect(report).toMatchObject({ candidates: 5, skipped: 5, live: 0 });
    expect(sfn).not.toHaveReceivedCommand(DescribeExecutionCommand);
  });

  test('an execution that ends after the list was read: skipped by that run, repaired by the next exactly as a describe would', async () => {
    // GIVEN 3 due tasks over the threshold of 1; all three executions are running when the first run lists them
    const all = ids(3);
    const { sweep, sfn, ddb, repaired } = sweeper(
      all.map((id, i) => task(id, `${i}.mp4`)),
      { listThreshold: 1 },
    );
    let runningNow = [...all];
    listing(sfn, () => runningNow);
    sfn
      .on(DescribeExecutionCommand)
      .callsFake((input) =>
        runningNow.includes(idOf(input.executionArn)!) ? { status: 'RUNNING' } : { status: 'TIMED_OUT' },
      );

    // WHEN the first run lists them, then one execution times out and its end event is lost
    const first = await sweep.run();
    runningNow = all.slice(1);
    const second = await sweep.run();

    // THEN the first run changed nothing (nothing is repaired on the list's word), the second recorded that one end
    expect(first).toMatchObject({ skipped: 3, ended: 0 });
    expect(second).toMatchObject({ skipped: 2, ended: 1 });
    expect(sfn.commandCalls(DescribeExecutionCommand).map((c) => idOf(c.args[0].input.executionArn))).toEqual([all[0]]);
    const [put] = ddb.commandCalls(TransactWriteCommand)[0].args[0].input.TransactItems!;
    expect(put.Put!.Item).toMatchObject({ task_id: all[0], status: 'failed', error: { error: 'States.Timeout' } });
    expect(repaired).toEqual(['ended']);
  });

  test('an execution started after the list was read: described RUNNING and left alone', async () => {
    const all = ids(3);
    const { sweep, sfn, ddb } = sweeper(
      all.map((id, i) => task(id, `${i}.mp4`)),
      { listThreshold: 1 },
    );
    listing(sfn, () => all.slice(1));
    sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' });

    const report = await sweep.run();

    expect(report).toMatchObject({ skipped: 2, live: 1, ended: 0, started: 0 });
    expect(ddb).not.toHaveReceivedCommand(TransactWriteCommand);
  });

  test('more missing tasks than one run may describe: it describes maxTasks, says it stopped early, the next run goes on', async () => {
    // GIVEN 5 lost executions, at most 2 described a run
    const all = ids(5);
    const items = all.map((id, i) => task(id, `${i}.mp4`));
    const { sweep, sfn, ddb } = sweeper(items, { listThreshold: 1, maxTasks: 2 });
    listing(sfn, () => []);
    sfn.on(DescribeExecutionCommand).rejects(notFound());
    // a repaired task leaves the index, as the finishing transaction deletes its active item
    ddb.on(TransactWriteCommand).callsFake((input) => {
      const gone = input.TransactItems[0].Put.Item.task_id;
      items.splice(
        items.findIndex((i) => i.task_id === gone),
        1,
      );
      return {};
    });

    const first = await sweep.run();
    const second = await sweep.run();
    const third = await sweep.run();

    expect(first).toMatchObject({ ended: 2, stoppedEarly: true });
    expect(second).toMatchObject({ ended: 2, stoppedEarly: true });
    expect(third).toMatchObject({ ended: 1, stoppedEarly: false });
    expect(items).toHaveLength(0);
  });

  test('a run stops itself at its deadline: past it while listing, nothing is described; the next run starts over', async () => {
    // GIVEN a clock that moves a minute per call, and a deadline 30 s from the start
    let now = NOW.getTime();
    const all = ids(3);
    const { sweep, sfn } = sweeper(
      all.map((id, i) => task(id, `${i}.mp4`)),
      { listThreshold: 1, clock: () => new Date((now += 60_000)) },
    );
    listing(sfn, () => ['other-1', 'other-2'], 1);

    // WHEN a sweep runs
    const report = await sweep.run({ deadline: NOW.getTime() + 30_000 });

    // THEN it stopped after the first page of the list, with nothing described or changed
    expect(report).toMatchObject({ listed: 1, stoppedEarly: true, ended: 0 });
    expect(sfn).toHaveReceivedCommandTimes(ListExecutionsCommand, 1);
    expect(sfn).not.toHaveReceivedCommand(DescribeExecutionCommand);
  });

  test('ListExecutions throttled past its retries: the run fails as a 503-class dependency error, nothing is repaired', async () => {
    const all = ids(3);
    const { sweep, sfn, ddb } = sweeper(
      all.map((id, i) => task(id, `${i}.mp4`)),
      { listThreshold: 1 },
    );
    sfn
      .on(ListExecutionsCommand)
      .rejects(
        Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }),
      );

    await expect(sweep.run()).rejects.toMatchObject({
      name: 'DependencyUnavailable',
      dependency: 'stepfunctions',
      operation: 'ListExecutions',
    });
    expect(sfn).not.toHaveReceivedCommand(DescribeExecutionCommand);
    expect(ddb).not.toHaveReceivedCommand(TransactWriteCommand);
  });
});
