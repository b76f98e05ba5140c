import 'aws-sdk-client-mock-jest';
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import {
  createDocumentClient,
  MAX_CONFLICT_ATTEMPTS,
  TableClient,
} from '../../../../lambda/adapters/dynamodb/table-client';
import { setCount, takeSlot, tenantCounts } from '../../../../lambda/adapters/dynamodb/tenant-counter';
import type { TenantCount } from '../../../../lambda/core/ports';
import { COUNTER_SHARD } from '../../../../lambda/shared/table';
import { DependencyUnavailable } from '../../../../lambda/core/errors';

const ddb = mockClient(DynamoDBDocumentClient);
const table = new TableClient(createDocumentClient(new DynamoDBClient({ region: 'eu-west-1' })), 'Tasks');
/** What DynamoDB answers a single-item write while a transaction holds the item: nothing was written. */
const conflict = () =>
  Object.assign(new Error('Transaction is ongoing for the item'), {
    name: 'TransactionConflictException',
    $metadata: { httpStatusCode: 400 },
  });

beforeEach(() => ddb.reset());

const AT = '2026-01-01T00:00:00.000Z';

describe('takeSlot: the tenant counter increment', () => {
  test("one conditional increment of the tenant's counter, below the limit, ALL_OLD on refusal", async () => {
    ddb.on(UpdateCommand).resolves({});
    await expect(takeSlot(table, 'tenant1', 100, AT)).resolves.toEqual({ taken: true });
    expect(ddb).toHaveReceivedCommandTimes(UpdateCommand, 1);
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: 'Tasks',
      Key: { pk: 'TENANT#7#tenant1' },
      UpdateExpression: expect.stringMatching(/^ADD #count :delta, #version :one SET /),
      ConditionExpression: 'attribute_not_exists(#count) OR #count < :limit',
      ExpressionAttributeValues: expect.objectContaining({ ':delta': 1, ':one': 1, ':at': AT, ':limit': 100 }),
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
  });

  test('held by a finishing transaction of the same tenant: sent again after a short backoff, and counted', async () => {
    ddb.on(UpdateCommand).rejectsOnce(conflict()).rejectsOnce(conflict()).resolves({});
    await expect(takeSlot(table, 'tenant1', 5, '2026-01-01T00:00:00.000Z')).resolves.toEqual({ taken: true });
    expect(ddb).toHaveReceivedCommandTimes(UpdateCommand, 3);
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      ConditionExpression: 'attribute_not_exists(#count) OR #count < :limit',
      ExpressionAttributeValues: expect.objectContaining({ ':limit': 5, ':delta': 1 }),
    });
  });

  test(`a conflict on every one of ${MAX_CONFLICT_ATTEMPTS} attempts: DependencyUnavailable (503), no more attempts`, async () => {
    ddb.on(UpdateCommand).rejects(conflict());
    const error = await takeSlot(table, 'tenant1', 5, '2026-01-01T00:00:00.000Z').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyUnavailable);
    expect(ddb).toHaveReceivedCommandTimes(UpdateCommand, MAX_CONFLICT_ATTEMPTS);
  });

  test('at the limit: refused at once with the count, never sent again', async () => {
    ddb.on(UpdateCommand).rejects(
      new ConditionalCheckFailedException({
        message: 'no',
        $metadata: {},
        Item: marshall({ pk: 'TENANT#7#tenant1', active_count: 5 }),
      }),
    );
    await expect(takeSlot(table, 'tenant1', 5, '2026-01-01T00:00:00.000Z')).resolves.toEqual({
      taken: false,
      activeCount: 5,
    });
    expect(ddb).toHaveReceivedCommandTimes(UpdateCommand, 1);
  });
});

describe('setCount and tenantCounts: the sweep reconciliation', () => {
  const seen: TenantCount = { tenantId: 'tenant1', activeCount: 3, version: 7, updatedAt: AT };

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

  test("tenantCounts: the counters' own partition of the sweep index, paged, other items left out", async () => {
    ddb
      .on(QueryCommand)
      .resolvesOnce({
        Items: [{ pk: 'TENANT#7#tenant1', active_count: 2, version: 5, updated_at: AT }, { pk: 'not-a-counter' }],
        LastEvaluatedKey: { pk: 'TENANT#7#tenant1' },
      })
      .resolvesOnce({ Items: [{ pk: 'TENANT#7#tenant2', updated_at: AT }] });

    const pages: (readonly TenantCount[])[] = [];
    for await (const page of tenantCounts(table)) pages.push(page);

    expect(pages).toEqual([
      [{ tenantId: 'tenant1', activeCount: 2, version: 5, updatedAt: AT }],
      [{ tenantId: 'tenant2', activeCount: 0, version: 0, updatedAt: AT }],
    ]);
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      TableName: 'Tasks',
      IndexName: 'active-by-age',
      KeyConditionExpression: '#shard = :shard',
      ExpressionAttributeValues: { ':shard': COUNTER_SHARD },
    });
    expect(ddb.commandCalls(QueryCommand).map((c) => c.args[0].input.ExclusiveStartKey)).toEqual([
      undefined,
      { pk: 'TENANT#7#tenant1' },
    ]);
  });
});
