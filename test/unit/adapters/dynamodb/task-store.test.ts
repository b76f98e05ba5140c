import 'aws-sdk-client-mock-jest';
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  ProvisionedThroughputExceededException,
  PutItemCommand,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { createDocumentClient } from '../../../../lambda/adapters/dynamodb/table-client';
import { DynamoDbTaskStore } from '../../../../lambda/adapters/dynamodb/task-store';
import { DependencyUnavailable, TaskNotInExpectedState } from '../../../../lambda/core/errors';
import type { FinishTask } from '../../../../lambda/core/ports';
import { type ActiveTask, TaskStatus } from '../../../../lambda/core/task';
import { taskError } from '../../../../lambda/core/task-errors';
import { sweepShard, SWEEP_SHARDS } from '../../../../lambda/shared/table';
import { activeItem, STORED_ID, STORED_KEY, TEST_KEYS } from '../../../support/stored-items';

const TABLE = 'tasks';
const NOW = '2026-11-28T12:00:00.000Z';
const EPOCH = Math.floor(Date.parse(NOW) / 1000);
const NEW_ID = TEST_KEYS.newTaskId('tenant1', 'test.mp4', Buffer.alloc(16, 9));
const ddb = mockClient(DynamoDBDocumentClient);
const doc = createDocumentClient(new DynamoDBClient({ region: 'eu-west-1' }));
const store = new DynamoDbTaskStore(doc, TABLE, TEST_KEYS);

/** A new task of tenant1's test.mp4, as the service builds it at NOW. */
const NEW_TASK: ActiveTask = {
  taskId: NEW_ID,
  tenantId: 'tenant1',
  videoFilename: 'test.mp4',
  status: TaskStatus.NotStarted,
  createdAt: NOW,
  updatedAt: NOW,
  leaseExpiresAt: EPOCH + 3900,
  retainUntil: EPOCH + 3900 + 30 * 86400,
};
/** The task already holding the video: running, its lease not expired. */
const WINNER = activeItem('2026-11-28T11:59:59.000Z', {
  updated_at: '2026-11-28T11:59:59.500Z',
  started_at: '2026-11-28T11:59:59.500Z',
  lease_expires_at: EPOCH + 3900,
  retain_until: EPOCH + 3600 + 30 * 86400,
});
/** The winner as the store hands it to the core. */
const WINNER_TASK: ActiveTask = {
  taskId: STORED_ID,
  tenantId: 'tenant1',
  videoFilename: 'test.mp4',
  status: TaskStatus.Running,
  createdAt: WINNER.created_at,
  updatedAt: WINNER.updated_at,
  startedAt: WINNER.started_at,
  leaseExpiresAt: WINNER.lease_expires_at,
  retainUntil: WINNER.retain_until,
};

function conditionFailed(item?: Record<string, unknown>) {
  return new ConditionalCheckFailedException({
    message: 'The conditional request failed',
    $metadata: { httpStatusCode: 400 },
    Item: item ? marshall(item, { removeUndefinedValues: true }) : undefined,
  });
}
function cancelled(...codes: string[]) {
  return new TransactionCanceledException({
    message: 'Transaction cancelled',
    $metadata: {},
    CancellationReasons: codes.map((Code) => ({ Code })),
  });
}
const conflict = () =>
  Object.assign(new Error('Transaction is ongoing for the item'), {
    name: 'TransactionConflictException',
    $metadata: { httpStatusCode: 400 },
  });
/** The TransactItems of the n-th TransactWriteItems sent. */
function transactItems(n = 0) {
  const call = ddb.commandCalls(TransactWriteCommand)[n];
  if (!call) throw new Error(`no TransactWriteItems #${n}`);
  return call.args[0].input.TransactItems ?? [];
}

beforeEach(() => ddb.reset());

describe('claim: the conditional put that decides the race', () => {
  test('one low-level PutItem of the active item as attribute values, conditional on no item, ALL_OLD on refusal', async () => {
    ddb.on(PutItemCommand).resolves({});

    expect(await store.claim(NEW_TASK, EPOCH + 30 * 86400)).toEqual({ won: true, taskKey: STORED_KEY });

    expect(ddb).toHaveReceivedCommandTimes(PutItemCommand, 1);
    expect(ddb.calls()).toHaveLength(1);
    expect(ddb).toHaveReceivedCommandWith(PutItemCommand, {
      TableName: TABLE,
      // No started_at before the task has started: undefined attributes are left out.
      Item: {
        pk: { S: STORED_KEY },
        item_type: { S: 'active' },
        task_id: { S: NEW_ID },
        tenant_id: { S: 'tenant1' },
        video_filename: { S: 'test.mp4' },
        status: { S: 'not_started' },
        created_at: { S: NOW },
        updated_at: { S: NOW },
        lease_expires_at: { N: String(EPOCH + 3900) },
        retain_until: { N: String(EPOCH + 3900 + 30 * 86400) },
        sweep_shard: { N: String(sweepShard(NEW_ID)) },
      },
      ConditionExpression: 'attribute_not_exists(pk)',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
  });

  test('refused: the winner is read from the failed write (ALL_OLD), one call, no GetItem', async () => {
    ddb.on(PutItemCommand).rejects(conditionFailed(WINNER));

    expect(await store.claim(NEW_TASK, 0)).toEqual({ won: false, existing: WINNER_TASK });

    expect(ddb.calls()).toHaveLength(1);
    expect(ddb).not.toHaveReceivedCommand(GetCommand);
  });

  test('refused by a not_started winner: still one call, nothing else written', async () => {
    const young = { ...WINNER, status: 'not_started', started_at: undefined, created_at: NOW };
    ddb.on(PutItemCommand).rejects(conditionFailed(young));

    const result = await store.claim(NEW_TASK, 0);

    expect(result).toMatchObject({ won: false, existing: { taskId: STORED_ID, status: 'not_started' } });
    expect(ddb.calls()).toHaveLength(1);
  });

  test('refused without Item (some emulators): one strongly consistent GetItem of the key reads the winner', async () => {
    ddb.on(PutItemCommand).rejects(conditionFailed());
    ddb.on(GetCommand).resolves({ Item: WINNER });

    expect(await store.claim(NEW_TASK, 0)).toEqual({ won: false, existing: WINNER_TASK });

    expect(ddb).toHaveReceivedCommandTimes(GetCommand, 1);
    expect(ddb).toHaveReceivedCommandWith(GetCommand, {
      TableName: TABLE,
      Key: { pk: STORED_KEY },
      ConsistentRead: true,
    });
  });

  test('refused by its own earlier attempt (the SDK retried a put that landed): the task itself comes back', async () => {
    ddb.on(PutItemCommand).rejects(conditionFailed({ ...WINNER, task_id: NEW_ID }));
    const result = await store.claim(NEW_TASK, 0);
    expect(result).toMatchObject({ won: false, existing: { taskId: NEW_ID } });
    expect(ddb).not.toHaveReceivedCommand(TransactWriteCommand);
  });

  test('a conflicting transaction on the item: the put is sent again and wins', async () => {
    ddb.on(PutItemCommand).rejectsOnce(conflict()).resolves({});
    expect(await store.claim(NEW_TASK, 0)).toEqual({ won: true, taskKey: STORED_KEY });
    expect(ddb).toHaveReceivedCommandTimes(PutItemCommand, 2);
  });

  test('throttled after the SDK retries: DependencyUnavailable naming PutItem', async () => {
    ddb
      .on(PutItemCommand)
      .rejects(
        new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: { httpStatusCode: 400 } }),
      );
    const error = await store.claim(NEW_TASK, 0).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyUnavailable);
    expect(error).toMatchObject({ dependency: 'dynamodb', operation: 'PutItem' });
  });
});

describe('claim over an expired lease: the takeover transaction', () => {
  const expired = { ...WINNER, lease_expires_at: EPOCH - 1 };

  test('replaces the active item (conditional on the expired id and lease), records it failed, hands the slot on', async () => {
    ddb.on(PutItemCommand).rejects(conditionFailed(expired));
    ddb.on(TransactWriteCommand).resolves({});

    const result = await store.claim(NEW_TASK, EPOCH + 30 * 86400);

    expect(result).toEqual({
      won: true,
      taskKey: STORED_KEY,
      replaced: { ...WINNER_TASK, leaseExpiresAt: EPOCH - 1 },
    });
    const [replace, record, counter, ...rest] = transactItems();
    expect(rest).toEqual([]);
    expect(replace?.Put).toMatchObject({
      TableName: TABLE,
      Item: { pk: STORED_KEY, task_id: NEW_ID, status: 'not_started' },
      // A claim pending admission is never taken over: it holds no slot to hand on.
      ConditionExpression: '#task_id = :expired_id AND #lease < :now AND attribute_not_exists(#admission)',
      ExpressionAttributeNames: { '#task_id': 'task_id', '#lease': 'lease_expires_at', '#admission': 'admission' },
      ExpressionAttributeValues: { ':expired_id': STORED_ID, ':now': EPOCH },
    });
    expect(record?.Put).toMatchObject({
      TableName: TABLE,
      Item: {
        pk: `TASK#${STORED_ID}`,
        item_type: 'final',
        status: 'failed',
        error: { error: 'LeaseExpired' },
        finished_at: NOW,
        expires_at: EPOCH + 30 * 86400,
      },
      ConditionExpression: 'attribute_not_exists(#status)',
      ExpressionAttributeNames: { '#status': 'status' },
    });
    // The count stays (delta 0): the replaced task's slot passes to the new one.
    expect(counter?.Update).toMatchObject({
      Key: { pk: 'TENANT#7#tenant1' },
      ExpressionAttributeValues: expect.objectContaining({ ':delta': 0, ':at': NOW }),
    });
  });

  test('without counting tenants the transaction has no counter update', async () => {
    const uncounted = new DynamoDbTaskStore(doc, TABLE, TEST_KEYS, { countsTenantTasks: false });
    ddb.on(PutItemCommand).rejects(conditionFailed(expired));
    ddb.on(TransactWriteCommand).resolves({});
    await uncounted.claim(NEW_TASK, 0);
    expect(transactItems().map((i) => Object.keys(i))).toEqual([['Put'], ['Put']]);
  });

  test('the item changed meanwhile (transaction refused): the claim looks again', async () => {
    ddb.on(PutItemCommand).rejectsOnce(conditionFailed(expired)).rejectsOnce(conditionFailed(WINNER));
    ddb.on(TransactWriteCommand).rejects(cancelled('ConditionalCheckFailed', 'None', 'None'));
    expect(await store.claim(NEW_TASK, 0)).toEqual({ won: false, existing: WINNER_TASK });
    expect(ddb).toHaveReceivedCommandTimes(PutItemCommand, 2);
  });
});

describe('renewLease and releaseClaim', () => {
  const stranded: ActiveTask = { ...WINNER_TASK, status: TaskStatus.NotStarted, startedAt: undefined };

  test('renewLease: one update of the lease, conditional on the id, not_started and the lease just read', async () => {
    ddb.on(UpdateCommand).resolves({});

    expect(await store.renewLease(stranded, EPOCH + 3900)).toBe(true);

    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: TABLE,
      Key: { pk: STORED_KEY },
      UpdateExpression: 'SET #lease = :lease',
      ConditionExpression: '#task_id = :task_id AND #status = :not_started AND #lease = :read_lease',
      ExpressionAttributeValues: {
        ':lease': EPOCH + 3900,
        ':task_id': STORED_ID,
        ':not_started': 'not_started',
        ':read_lease': WINNER.lease_expires_at,
      },
    });
  });

  test('renewLease refused (another re-drive renewed it first): false', async () => {
    ddb.on(UpdateCommand).rejects(conditionFailed());
    expect(await store.renewLease(stranded, EPOCH + 3900)).toBe(false);
  });

  test('refuse: the final record (failed, TenantQuotaExceeded, unlisted) and the delete of the pending claim', async () => {
    // GIVEN
    ddb.on(TransactWriteCommand).resolves({});
    const claim = { ...NEW_TASK, admissionPending: true };
    // WHEN
    const refused = await store.refuse(claim, STORED_KEY, '2026-01-01T00:00:01.000Z', 1_900_000_000);
    // THEN
    expect(refused).toMatchObject({ status: 'failed', error: { error: 'TenantQuotaExceeded' } });
    expect(refused).not.toHaveProperty('admissionPending');
    const items = ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems ?? [];
    expect(items).toHaveLength(2);
    expect(items[0]?.Put?.Item).toMatchObject({
      status: 'failed',
      error: { error: 'TenantQuotaExceeded' },
      claimed_at: NEW_TASK.createdAt,
      expires_at: 1_900_000_000,
    });
    // No created_at: the by-tenant index (tenant_id, created_at) leaves the record out of the listing.
    expect(items[0]?.Put?.Item).not.toHaveProperty('created_at');
    expect(items[1]?.Delete).toEqual({
      TableName: TABLE,
      Key: { pk: STORED_KEY },
      ConditionExpression: '#task_id = :task_id AND #status = :expected AND #admission = :pending',
      ExpressionAttributeNames: { '#task_id': 'task_id', '#status': 'status', '#admission': 'admission' },
      ExpressionAttributeValues: { ':task_id': NEW_ID, ':expected': 'not_started', ':pending': 'pending' },
    });
  });

  test('refuse: a claim decided meanwhile (condition failed) is TaskNotInExpectedState', async () => {
    ddb.on(TransactWriteCommand).rejects(
      Object.assign(new Error('cancelled'), {
        name: 'TransactionCanceledException',
        $metadata: {},
        CancellationReasons: [{ Code: 'None' }, { Code: 'ConditionalCheckFailed' }],
      }),
    );
    await expect(
      store.refuse({ ...NEW_TASK, admissionPending: true }, STORED_KEY, NEW_TASK.createdAt, 1),
    ).rejects.toBeInstanceOf(TaskNotInExpectedState);
  });
});

describe('finish: the final record and the end of the active item in one transaction', () => {
  const finish = (overrides: Partial<FinishTask> = {}): FinishTask => ({
    task: NEW_TASK,
    taskKey: STORED_KEY,
    status: TaskStatus.Failed,
    expected: TaskStatus.NotStarted,
    error: taskError('WorkflowNotStarted'),
    at: NOW,
    retainUntil: EPOCH + 30 * 86400,
    ...overrides,
  });

  test('puts the final record (never over another), deletes the active item if id and status hold, gives the slot back', async () => {
    ddb.on(TransactWriteCommand).resolves({});

    const final = await store.finish(finish());

    expect(final).toMatchObject({ taskId: NEW_ID, status: 'failed', finishedAt: NOW, updatedAt: NOW });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
    const [put, del, counter, ...rest] = transactItems();
    expect(rest).toEqual([]);
    expect(put?.Put).toMatchObject({
      TableName: TABLE,
      Item: {
        pk: `TASK#${NEW_ID}`,
        item_type: 'final',
        status: 'failed',
        error: { error: 'WorkflowNotStarted' },
        // Retention counted from the end, not from the task's creation.
        expires_at: EPOCH + 30 * 86400,
      },
      ConditionExpression: 'attribute_not_exists(#status)',
      ExpressionAttributeNames: { '#status': 'status' },
    });
    expect(del?.Delete).toEqual({
      TableName: TABLE,
      Key: { pk: STORED_KEY },
      // Counted: only an admitted task gives a slot back.
      ConditionExpression: '#task_id = :task_id AND #status = :expected AND attribute_not_exists(#admission)',
      ExpressionAttributeNames: { '#task_id': 'task_id', '#status': 'status', '#admission': 'admission' },
      ExpressionAttributeValues: { ':task_id': NEW_ID, ':expected': 'not_started' },
    });
    expect(counter?.Update).toMatchObject({
      TableName: TABLE,
      Key: { pk: 'TENANT#7#tenant1' },
      ExpressionAttributeValues: expect.objectContaining({ ':delta': -1, ':at': NOW }),
    });
  });

  test('a cancel of a running task: the final record keeps started_at, the delete expects running', async () => {
    ddb.on(TransactWriteCommand).resolves({});
    await store.finish(
      finish({
        task: WINNER_TASK,
        status: TaskStatus.Cancelled,
        expected: TaskStatus.Running,
        error: taskError('Cancelled'),
      }),
    );
    const [put, del] = transactItems();
    expect(put?.Put?.Item).toMatchObject({
      pk: `TASK#${STORED_ID}`,
      status: 'cancelled',
      started_at: WINNER.started_at,
      expires_at: EPOCH + 30 * 86400,
    });
    expect(del?.Delete?.ExpressionAttributeValues).toEqual({ ':task_id': STORED_ID, ':expected': 'running' });
  });

  test('refused by a condition or a conflict: TaskNotInExpectedState (the caller reads again)', async () => {
    ddb
      .on(TransactWriteCommand)
      .rejectsOnce(cancelled('None', 'ConditionalCheckFailed'))
      .rejectsOnce(cancelled('TransactionConflict', 'None'));
    await expect(store.finish(finish())).rejects.toBeInstanceOf(TaskNotInExpectedState);
    await expect(store.finish(finish())).rejects.toBeInstanceOf(TaskNotInExpectedState);
  });

  test('cancelled for throttling: DependencyUnavailable (503), not a conflict, sent once', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled('ThrottlingError', 'None'));
    const error = await store.finish(finish()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyUnavailable);
    expect(error).toMatchObject({ dependency: 'dynamodb', operation: 'TransactWriteItems' });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
  });
});

describe('reads: strongly consistent, the active item first', () => {
  const FINAL = {
    ...WINNER,
    pk: `TASK#${STORED_ID}`,
    item_type: 'final',
    status: 'completed',
    finished_at: '2026-11-28T12:00:03.000Z',
    result: '{"score":1}',
    expires_at: 2_100_000_000,
  };
  const keysRead = () => ddb.commandCalls(GetCommand).map((c) => c.args[0].input.Key);

  test('getById of an active task: one consistent read of the active item its id leads to', async () => {
    ddb.on(GetCommand, { Key: { pk: STORED_KEY } }).resolves({ Item: WINNER });

    expect(await store.getById('tenant1', STORED_ID)).toEqual({ task: WINNER_TASK, taskKey: STORED_KEY });

    expect(ddb).toHaveReceivedCommandTimes(GetCommand, 1);
    expect(ddb).toHaveReceivedCommandWith(GetCommand, { TableName: TABLE, ConsistentRead: true });
  });

  test('getById of a finished task: the active key, then its final record, result parsed', async () => {
    ddb.on(GetCommand, { Key: { pk: STORED_KEY } }).resolves({});
    ddb.on(GetCommand, { Key: { pk: `TASK#${STORED_ID}` } }).resolves({ Item: FINAL });

    const found = await store.getById('tenant1', STORED_ID);

    expect(found).toEqual({
      task: expect.objectContaining({ status: 'completed', result: { score: 1 }, finishedAt: FINAL.finished_at }),
    });
    expect(keysRead()).toEqual([{ pk: STORED_KEY }, { pk: `TASK#${STORED_ID}` }]);
    for (const call of ddb.commandCalls(GetCommand)) expect(call.args[0].input.ConsistentRead).toBe(true);
  });

  test("the active item at the key holds another task (the video was tracked again): the id's final record answers", async () => {
    ddb.on(GetCommand, { Key: { pk: STORED_KEY } }).resolves({ Item: { ...WINNER, task_id: NEW_ID } });
    ddb.on(GetCommand, { Key: { pk: `TASK#${STORED_ID}` } }).resolves({ Item: FINAL });
    expect(await store.getById('tenant1', STORED_ID)).toEqual({
      task: expect.objectContaining({ taskId: STORED_ID, status: 'completed' }),
    });
  });

  test("another tenant's id leads to that tenant's key, never to the task's", async () => {
    ddb.on(GetCommand).resolves({});
    expect(await store.getById('tenant2', STORED_ID)).toBeUndefined();
    expect(keysRead()).toEqual([{ pk: TEST_KEYS.activeKeyOfId('tenant2', STORED_ID) }, { pk: `TASK#${STORED_ID}` }]);
  });

  test('a malformed id reads nothing', async () => {
    expect(await store.getById('tenant1', 'abc')).toBeUndefined();
    expect(ddb.calls()).toHaveLength(0);
  });

  test('getActive: the active item at the video key', async () => {
    ddb.on(GetCommand, { Key: { pk: STORED_KEY } }).resolves({ Item: WINNER });
    expect(await store.getActive('tenant1', 'test.mp4')).toEqual(WINNER_TASK);
    expect(ddb).toHaveReceivedCommandWith(GetCommand, {
      TableName: TABLE,
      Key: { pk: STORED_KEY },
      ConsistentRead: true,
    });
  });
});

describe('activeCreatedBefore: the sweep candidates from the sparse index', () => {
  const BEFORE = '2026-11-28T11:59:50.000Z';

  test('one Query per shard of the active-by-age index, created before the cutoff', async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });

    for await (const page of store.activeCreatedBefore(BEFORE)) throw new Error(`unexpected page ${page.length}`);

    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, SWEEP_SHARDS);
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      TableName: TABLE,
      IndexName: 'active-by-age',
      KeyConditionExpression: '#shard = :shard AND #created_at < :before',
      ExpressionAttributeValues: { ':shard': 0, ':before': BEFORE },
    });
    expect(ddb.commandCalls(QueryCommand).map((c) => c.args[0].input.ExpressionAttributeValues?.[':shard'])).toEqual(
      Array.from({ length: SWEEP_SHARDS }, (_, shard) => shard),
    );
  });

  test('a shard of several pages: each resumes after the last, one page at a time, as tasks', async () => {
    const key = (n: number) => ({ pk: `p${n}` });
    ddb.on(QueryCommand).resolves({ Items: [] });
    ddb
      .on(QueryCommand, { ExpressionAttributeValues: { ':shard': 3 } })
      .resolvesOnce({ Items: [WINNER], LastEvaluatedKey: key(1) })
      .resolvesOnce({ Items: [WINNER], LastEvaluatedKey: key(2) })
      .resolvesOnce({ Items: [WINNER] });

    const pages: (readonly ActiveTask[])[] = [];
    for await (const page of store.activeCreatedBefore(BEFORE)) pages.push(page);

    expect(pages).toEqual([[WINNER_TASK], [WINNER_TASK], [WINNER_TASK]]);
    const shard3 = ddb
      .commandCalls(QueryCommand)
      .filter((c) => c.args[0].input.ExpressionAttributeValues?.[':shard'] === 3);
    expect(shard3.map((c) => c.args[0].input.ExclusiveStartKey)).toEqual([undefined, key(1), key(2)]);
  });
});
