import 'aws-sdk-client-mock-jest';
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import {
  createDocumentClient,
  MAX_CONFLICT_ATTEMPTS,
  TableClient,
} from '../../../../lambda/adapters/dynamodb/table-client';
import { admit, setCount, tenantCounts } from '../../../../lambda/adapters/dynamodb/tenant-counter';
import { type ActiveTask, TaskStatus } from '../../../../lambda/core/task';
import type { TenantCount } from '../../../../lambda/core/ports';
import { COUNTER_SHARDS, counterShard, counterShards } from '../../../../lambda/shared/table';
import { DependencyUnavailable } from '../../../../lambda/core/errors';

const ddb = mockClient(DynamoDBDocumentClient);
const table = new TableClient(createDocumentClient(new DynamoDBClient({ region: 'eu-west-1' })), 'Tasks');
beforeEach(() => ddb.reset());

const AT = '2026-01-01T00:00:00.000Z';

const CLAIM: ActiveTask = {
  taskId: 'task-1',
  tenantId: 'tenant1',
  videoFilename: 'a.mp4',
  status: TaskStatus.NotStarted,
  createdAt: AT,
  updatedAt: AT,
  leaseExpiresAt: 1,
  retainUntil: 2,
  admissionPending: true,
};
const CLAIM_KEY = 'ACTIVE#7#tenant1#digest';

/** A transaction cancelled with these reason codes (the counter's first, the claim's second), as DynamoDB sends it. */
const cancelled = (counter: string, claim: string, counterItem?: Record<string, unknown>) =>
  Object.assign(new Error('Transaction cancelled'), {
    name: 'TransactionCanceledException',
    $metadata: { httpStatusCode: 400 },
    CancellationReasons: [{ Code: counter, ...(counterItem ? { Item: marshall(counterItem) } : {}) }, { Code: claim }],
  });

describe("admit: the counter's increment and the claim's admission in one transaction", () => {
  test('below the limit: one transaction, the increment conditional on the limit, the claim on being pending', async () => {
    // GIVEN
    ddb.on(TransactWriteCommand).resolves({});
    // WHEN
    await expect(admit(table, CLAIM, CLAIM_KEY, 100, AT)).resolves.toEqual({ outcome: 'admitted' });
    // THEN
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
    expect(ddb).toHaveReceivedCommandWith(TransactWriteCommand, {
      TransactItems: [
        {
          Update: expect.objectContaining({
            TableName: 'Tasks',
            Key: { pk: 'TENANT#7#tenant1' },
            UpdateExpression: expect.stringMatching(/^ADD #count :delta, #version :one SET .*#taken_at = :at$/),
            ConditionExpression: 'attribute_not_exists(#count) OR #count < :limit',
            ExpressionAttributeValues: expect.objectContaining({
              ':delta': 1,
              ':one': 1,
              ':at': AT,
              ':limit': 100,
              // The tenant's own counter partition of the sweep index, not one shared by every tenant.
              ':counter_shard': counterShard('tenant1'),
            }),
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        },
        {
          Update: {
            TableName: 'Tasks',
            Key: { pk: CLAIM_KEY },
            UpdateExpression: 'REMOVE #admission',
            ConditionExpression: '#task_id = :task_id AND #admission = :pending',
            ExpressionAttributeNames: { '#task_id': 'task_id', '#admission': 'admission' },
            ExpressionAttributeValues: { ':task_id': 'task-1', ':pending': 'pending' },
          },
        },
      ],
    });
  });

  test('held by a transaction of the same tenant: sent again after a short backoff, and admitted', async () => {
    ddb
      .on(TransactWriteCommand)
      .rejectsOnce(cancelled('TransactionConflict', 'None'))
      .rejectsOnce(cancelled('None', 'TransactionConflict'))
      .resolves({});
    await expect(admit(table, CLAIM, CLAIM_KEY, 5, AT)).resolves.toEqual({ outcome: 'admitted' });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 3);
  });

  test(`a conflict on every one of ${MAX_CONFLICT_ATTEMPTS} attempts: DependencyUnavailable (503), no more attempts`, async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled('TransactionConflict', 'None'));
    const error = await admit(table, CLAIM, CLAIM_KEY, 5, AT).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyUnavailable);
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, MAX_CONFLICT_ATTEMPTS);
  });

  test('at the limit: refused at once with the count read from the failed condition, never sent again', async () => {
    ddb
      .on(TransactWriteCommand)
      .rejects(cancelled('ConditionalCheckFailed', 'None', { pk: 'TENANT#7#tenant1', active_count: 5 }));
    await expect(admit(table, CLAIM, CLAIM_KEY, 5, AT)).resolves.toEqual({ outcome: 'refused', activeCount: 5 });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
  });

  test('the claim is no longer pending (decided elsewhere): moved-on, whatever the counter said', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled('ConditionalCheckFailed', 'ConditionalCheckFailed'));
    await expect(admit(table, CLAIM, CLAIM_KEY, 5, AT)).resolves.toEqual({ outcome: 'moved-on' });
    ddb.reset();
    ddb.on(TransactWriteCommand).rejects(cancelled('None', 'ConditionalCheckFailed'));
    await expect(admit(table, CLAIM, CLAIM_KEY, 5, AT)).resolves.toEqual({ outcome: 'moved-on' });
  });

  test('throttled: DependencyUnavailable, the claim left as it was', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled('ThrottlingError', 'None'));
    await expect(admit(table, CLAIM, CLAIM_KEY, 5, AT)).rejects.toBeInstanceOf(DependencyUnavailable);
  });
});

describe('setCount and tenantCounts: the sweep reconciliation', () => {
  const seen: TenantCount = { tenantId: 'tenant1', activeCount: 3, version: 7, updatedAt: AT, takenAt: AT };

  test('setCount: sets the count, conditional on the version read; a write since wins (false)', async () => {
    ddb
      .on(UpdateCommand)
      .resolvesOnce({})
      .rejects(new ConditionalCheckFailedException({ message: 'no', $metadata: {} }));
    expect(await setCount(table, seen, 1, AT)).toBe(true);
    expect(await setCount(table, seen, 1, AT)).toBe(false);
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: 'Tasks',
      Key: { pk: 'TENANT#7#tenant1' },
      UpdateExpression: 'SET #count = :count, #updated_at = :at ADD #version :one',
      ConditionExpression: '#version = :seen',
      ExpressionAttributeValues: { ':count': 1, ':at': AT, ':one': 1, ':seen': 7 },
    });
  });

  test('tenantCounts: every counter partition of the sweep index, each paged to its end, other items left out', async () => {
    // GIVEN: two pages in the first counter shard, one in the last, none in the others
    const [first, ...rest] = counterShards();
    const last = rest.at(-1)!;
    ddb.on(QueryCommand).resolves({ Items: [] });
    ddb
      .on(QueryCommand, { ExpressionAttributeValues: { ':shard': first } })
      .resolvesOnce({
        Items: [
          { pk: 'TENANT#7#tenant1', active_count: 2, version: 5, updated_at: AT, taken_at: '2025-12-31T00:00:00.000Z' },
          { pk: 'not-a-counter' },
        ],
        LastEvaluatedKey: { pk: 'TENANT#7#tenant1' },
      })
      .resolvesOnce({ Items: [{ pk: 'TENANT#7#tenant2', updated_at: AT }] });
    ddb
      .on(QueryCommand, { ExpressionAttributeValues: { ':shard': last } })
      .resolvesOnce({ Items: [{ pk: 'TENANT#7#tenant3', active_count: 1, version: 1, updated_at: AT }] });

    // WHEN
    const pages: (readonly TenantCount[])[] = [];
    for await (const page of tenantCounts(table)) pages.push(page);

    // THEN
    expect(pages).toEqual([
      [{ tenantId: 'tenant1', activeCount: 2, version: 5, updatedAt: AT, takenAt: '2025-12-31T00:00:00.000Z' }],
      // A counter written before taken_at was kept: its last write stands in.
      [{ tenantId: 'tenant2', activeCount: 0, version: 0, updatedAt: AT, takenAt: AT }],
      [{ tenantId: 'tenant3', activeCount: 1, version: 1, updatedAt: AT, takenAt: AT }],
    ]);
    const queries = ddb.commandCalls(QueryCommand).map((c) => c.args[0].input);
    // Each counter shard from its first page (no start key); the first one paged on from its LastEvaluatedKey.
    expect(queries.map((q) => [q.ExpressionAttributeValues?.[':shard'], q.ExclusiveStartKey])).toEqual([
      [first, undefined],
      [first, { pk: 'TENANT#7#tenant1' }],
      ...rest.map((shard) => [shard, undefined]),
    ]);
    expect(rest).toHaveLength(COUNTER_SHARDS - 1);
    for (const query of queries)
      expect(query).toMatchObject({
        TableName: 'Tasks',
        IndexName: 'active-by-age',
        KeyConditionExpression: '#shard = :shard',
        ExpressionAttributeNames: { '#shard': 'sweep_shard' },
      });
  });
});
