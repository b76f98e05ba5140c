import 'aws-sdk-client-mock-jest';
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  ProvisionedThroughputExceededException,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { createHash } from 'node:crypto';
import { createDocumentClient } from '../../../../lambda/adapters/dynamodb/table-client';
import { DynamoDbTaskStore } from '../../../../lambda/adapters/dynamodb/task-store';
import { DependencyUnavailable } from '../../../../lambda/core/errors';
import { TaskStatus } from '../../../../lambda/core/task';
import { TEST_KEYS } from '../../../support/stored-items';

const TABLE = 'tasks';
const ddb = mockClient(DynamoDBDocumentClient);
const store = new DynamoDbTaskStore(
  createDocumentClient(new DynamoDBClient({ region: 'eu-west-1' })),
  TABLE,
  TEST_KEYS,
);
const DIGEST = createHash('sha256').update('key-1').digest('base64url');
const PK = `IDEM#7#tenant1#${DIGEST}`;
const RESERVATION = {
  tenantId: 'tenant1',
  key: 'key-1',
  taskId: 'task-1',
  requestHash: 'hash-1',
  now: 1_000_000,
  expiresAt: 1_086_400,
};

function conditionFailed(item?: Record<string, { S: string } | { N: string }>) {
  return new ConditionalCheckFailedException({ message: 'failed', $metadata: {}, Item: item });
}

beforeEach(() => ddb.reset());

describe('reserveIdempotencyKey: one conditional put of the key item', () => {
  test('a low-level PutItem of the key item only (no tenant_id, created_at or sweep_shard: in no index), free when absent or expired', async () => {
    ddb.on(PutItemCommand).resolves({});
    expect(await store.reserveIdempotencyKey(RESERVATION)).toEqual({ reserved: true });
    expect(ddb).toHaveReceivedCommandTimes(PutItemCommand, 1);
    expect(ddb).toHaveReceivedCommandWith(PutItemCommand, {
      TableName: TABLE,
      Item: {
        pk: { S: PK },
        item_type: { S: 'idempotency_key' },
        task_id: { S: 'task-1' },
        request_hash: { S: 'hash-1' },
        expires_at: { N: '1086400' },
      },
      ConditionExpression: 'attribute_not_exists(pk) OR #expires < :now',
      ExpressionAttributeNames: { '#expires': 'expires_at' },
      ExpressionAttributeValues: { ':now': { N: '1000000' } },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
  });

  test('a held key answers with what ALL_OLD holds, no read', async () => {
    ddb.on(PutItemCommand).rejects(
      conditionFailed({
        pk: { S: PK },
        task_id: { S: 'task-0' },
        request_hash: { S: 'hash-0' },
        expires_at: { N: '1' },
      }),
    );
    expect(await store.reserveIdempotencyKey(RESERVATION)).toEqual({
      reserved: false,
      existing: { taskId: 'task-0', requestHash: 'hash-0' },
    });
    expect(ddb).toHaveReceivedCommandTimes(GetCommand, 0);
  });

  test('without ALL_OLD (some emulators) one consistent read of the key', async () => {
    ddb.on(PutItemCommand).rejects(conditionFailed());
    ddb.on(GetCommand).resolves({ Item: { pk: PK, task_id: 'task-0', request_hash: 'hash-0' } });
    expect(await store.reserveIdempotencyKey(RESERVATION)).toMatchObject({ existing: { taskId: 'task-0' } });
    expect(ddb).toHaveReceivedCommandWith(GetCommand, { Key: { pk: PK }, ConsistentRead: true });
  });

  test('a throttled put is DependencyUnavailable', async () => {
    ddb.on(PutItemCommand).rejects(new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: {} }));
    await expect(store.reserveIdempotencyKey(RESERVATION)).rejects.toBeInstanceOf(DependencyUnavailable);
  });

  test('keys are per tenant and bounded: the tenant is length-prefixed, the key hashed', async () => {
    ddb.on(PutItemCommand).resolves({});
    await store.reserveIdempotencyKey({ ...RESERVATION, tenantId: 'tenant1#x', key: 'k'.repeat(255) });
    const sent = ddb.commandCalls(PutItemCommand)[0]!.args[0].input.Item!.pk!.S!;
    expect(sent).toMatch(/^IDEM#9#tenant1#x#[A-Za-z0-9_-]{43}$/);
  });
});

describe('repointIdempotencyKey', () => {
  test('an UpdateItem conditional on the task the key points at', async () => {
    ddb.on(UpdateCommand).resolves({});
    expect(await store.repointIdempotencyKey('tenant1', 'key-1', 'task-1', 'task-2')).toBe(true);
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: TABLE,
      Key: { pk: PK },
      UpdateExpression: 'SET #task_id = :to',
      ConditionExpression: '#task_id = :from',
      ExpressionAttributeNames: { '#task_id': 'task_id' },
      ExpressionAttributeValues: { ':from': 'task-1', ':to': 'task-2' },
    });
  });

  test('moved by another request: false', async () => {
    ddb.on(UpdateCommand).rejects(conditionFailed());
    expect(await store.repointIdempotencyKey('tenant1', 'key-1', 'task-1', 'task-2')).toBe(false);
  });
});

describe('getFinal', () => {
  test('one consistent GetItem of TASK#<id>', async () => {
    ddb.on(GetCommand).resolves({
      Item: {
        pk: 'TASK#task-1',
        task_id: 'task-1',
        tenant_id: 'tenant1',
        video_filename: 'a.mp4',
        status: 'completed',
        created_at: 'c',
        updated_at: 'u',
        finished_at: 'f',
        result: '{"labels":1}',
      },
    });
    expect(await store.getFinal('task-1')).toMatchObject({ status: TaskStatus.Completed, result: { labels: 1 } });
    expect(ddb).toHaveReceivedCommandTimes(GetCommand, 1);
    expect(ddb).toHaveReceivedCommandWith(GetCommand, { Key: { pk: 'TASK#task-1' }, ConsistentRead: true });
  });
});
