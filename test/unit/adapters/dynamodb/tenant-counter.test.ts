import 'aws-sdk-client-mock-jest';
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import {
  createDocumentClient,
  MAX_CONFLICT_ATTEMPTS,
  TableClient,
} from '../../../../lambda/adapters/dynamodb/table-client';
import { takeSlot } from '../../../../lambda/adapters/dynamodb/tenant-counter';
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

describe('takeSlot: the tenant counter increment', () => {
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
    ddb
      .on(UpdateCommand)
      .rejects(
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
