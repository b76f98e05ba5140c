import 'aws-sdk-client-mock-jest';
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  ProvisionedThroughputExceededException,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import {
  createDocumentClient,
  isConditionFailure,
  isRefused,
  isTransactionLost,
  TableClient,
} from '../../../../lambda/adapters/dynamodb/table-client';
import { DependencyUnavailable } from '../../../../lambda/core/errors';

const ddb = mockClient(DynamoDBDocumentClient);
const table = new TableClient(createDocumentClient(new DynamoDBClient({ region: 'eu-west-1' })), 'Tasks');
const throttled = () => new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: {} });

beforeEach(() => ddb.reset());

describe('TableClient: the one send of the DynamoDB adapter', () => {
  test('a retryable failure leaves as DependencyUnavailable naming the DynamoDB operation', async () => {
    ddb.on(GetCommand).rejects(throttled());
    ddb.on(QueryCommand).rejects(throttled());
    const get = await table.send(new GetCommand({ TableName: 'Tasks', Key: { pk: 'x' } })).catch((e: unknown) => e);
    const query = await table
      .send(new QueryCommand({ TableName: 'Tasks', KeyConditionExpression: 'x' }))
      .catch((e: unknown) => e);
    expect(get).toBeInstanceOf(DependencyUnavailable);
    expect(get).toMatchObject({ dependency: 'dynamodb', operation: 'GetItem' });
    expect(query).toMatchObject({ operation: 'Query' });
  });

  test('an expected failure comes back refused; an unexpected one is thrown as the SDK threw it', async () => {
    const condition = new ConditionalCheckFailedException({ message: 'no', $metadata: {} });
    ddb.on(PutCommand).rejectsOnce(condition).rejectsOnce(new Error('ValidationException'));
    const put = () => new PutCommand({ TableName: 'Tasks', Item: { pk: 'x' } });
    const refused = await table.attempt(put(), isConditionFailure);
    expect(isRefused(refused) && refused.refused).toBe(condition);
    await expect(table.attempt(put(), isConditionFailure)).rejects.toThrow('ValidationException');
  });

  test('a cancelled transaction is lost (read again) only for a condition or a conflict', () => {
    const cancelled = (...codes: string[]) =>
      Object.assign(new Error('cancelled'), {
        name: 'TransactionCanceledException',
        CancellationReasons: codes.map((Code) => ({ Code })),
      });
    expect(isTransactionLost(cancelled('None', 'ConditionalCheckFailed'))).toBe(true);
    expect(isTransactionLost(cancelled('TransactionConflict'))).toBe(true);
    expect(isTransactionLost(cancelled('ThrottlingError'))).toBe(false);
    expect(isTransactionLost(new Error('other'))).toBe(false);
  });
});
