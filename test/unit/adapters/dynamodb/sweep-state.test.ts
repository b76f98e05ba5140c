import 'aws-sdk-client-mock-jest';
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { fromActiveItem } from '../../../../lambda/adapters/dynamodb/items';
import { DynamoDbSweepState, SWEEP_STATE_KEY } from '../../../../lambda/adapters/dynamodb/sweep-state';
import { createDocumentClient, TableClient } from '../../../../lambda/adapters/dynamodb/table-client';
import { DynamoDbTaskStore } from '../../../../lambda/adapters/dynamodb/task-store';
import type { DuePage, SweepCheckpoint } from '../../../../lambda/core/ports';
import { SWEEP_SHARDS } from '../../../../lambda/shared/table';
import { activeItem, TEST_KEYS } from '../../../support/stored-items';

const TABLE = 'Tasks';
const ddb = mockClient(DynamoDBDocumentClient);
const doc = createDocumentClient(new DynamoDBClient({ region: 'eu-west-1' }));
const state = new DynamoDbSweepState(new TableClient(doc, TABLE));
beforeEach(() => ddb.reset());

const NOW = 1_800_000_000_000;
const UNTIL = NOW + 660_000;
const CHECKPOINT: SweepCheckpoint = {
  cutoff: '2026-11-28T11:59:50.000Z',
  position: '{"shard":3}',
  passStartedAt: '2026-11-28T12:00:00.000Z',
  runs: 2,
};
const conditionFailed = () => new ConditionalCheckFailedException({ message: 'failed', $metadata: {} });

describe('acquire: the lease item, taken only when free or expired', () => {
  test('one conditional UpdateItem of the lease item; the checkpoint comes back with it', async () => {
    // GIVEN a free lease item holding a checkpoint
    ddb.on(UpdateCommand).resolves({
      Attributes: {
        pk: SWEEP_STATE_KEY,
        holder: 'run-1',
        held_until: UNTIL,
        pass_cutoff: CHECKPOINT.cutoff,
        pass_position: CHECKPOINT.position,
        pass_started_at: CHECKPOINT.passStartedAt,
        pass_runs: 2,
      },
    });

    // WHEN
    const taken = await state.acquire('run-1', NOW, UNTIL);

    // THEN
    expect(taken).toEqual({ checkpoint: CHECKPOINT });
    expect(ddb).toHaveReceivedCommandTimes(UpdateCommand, 1);
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: TABLE,
      Key: { pk: 'SWEEP#lease' },
      UpdateExpression: 'SET #holder = :holder, #held_until = :until',
      ConditionExpression: 'attribute_not_exists(#holder) OR #held_until < :now',
      ExpressionAttributeNames: { '#holder': 'holder', '#held_until': 'held_until' },
      ExpressionAttributeValues: { ':holder': 'run-1', ':until': UNTIL, ':now': NOW },
      ReturnValues: 'ALL_NEW',
    });
  });

  test('a new item (no checkpoint): taken, with no checkpoint', async () => {
    ddb.on(UpdateCommand).resolves({ Attributes: { pk: SWEEP_STATE_KEY, holder: 'run-1', held_until: UNTIL } });

    await expect(state.acquire('run-1', NOW, UNTIL)).resolves.toEqual({ checkpoint: undefined });
  });

  test('held by another run: the condition fails and the answer is undefined, not an error', async () => {
    ddb.on(UpdateCommand).rejects(conditionFailed());

    await expect(state.acquire('run-2', NOW, UNTIL)).resolves.toBeUndefined();
  });

  test('a throttled write is an error (the run fails; the next tick tries again)', async () => {
    ddb
      .on(UpdateCommand)
      .rejects(Object.assign(new Error('slow down'), { name: 'ProvisionedThroughputExceededException' }));

    await expect(state.acquire('run-2', NOW, UNTIL)).rejects.toThrow();
  });
});

describe('renew: extends the lease, only while holding it', () => {
  test('one UpdateItem of held_until, conditional on the holder', async () => {
    ddb.on(UpdateCommand).resolves({});

    await expect(state.renew('run-1', UNTIL)).resolves.toBe(true);

    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: TABLE,
      Key: { pk: 'SWEEP#lease' },
      UpdateExpression: 'SET #held_until = :until',
      ConditionExpression: '#holder = :holder',
      ExpressionAttributeNames: { '#holder': 'holder', '#held_until': 'held_until' },
      ExpressionAttributeValues: { ':holder': 'run-1', ':until': UNTIL },
    });
  });

  test('taken over by another run: false, the run stops', async () => {
    ddb.on(UpdateCommand).rejects(conditionFailed());

    await expect(state.renew('run-1', UNTIL)).resolves.toBe(false);
  });
});

describe('release: gives the lease up and leaves the checkpoint, only while holding it', () => {
  const NAMES = {
    '#holder': 'holder',
    '#held_until': 'held_until',
    '#cutoff': 'pass_cutoff',
    '#position': 'pass_position',
    '#started': 'pass_started_at',
    '#runs': 'pass_runs',
  };

  test('with a checkpoint: REMOVE the lease, SET the checkpoint, conditional on the holder', async () => {
    ddb.on(UpdateCommand).resolves({});

    await expect(state.release('run-1', CHECKPOINT)).resolves.toBe(true);

    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: TABLE,
      Key: { pk: 'SWEEP#lease' },
      UpdateExpression:
        'REMOVE #holder, #held_until SET #cutoff = :cutoff, #started = :started, #runs = :runs, #position = :position',
      ConditionExpression: '#holder = :holder',
      ExpressionAttributeNames: NAMES,
      ExpressionAttributeValues: {
        ':holder': 'run-1',
        ':cutoff': CHECKPOINT.cutoff,
        ':started': CHECKPOINT.passStartedAt,
        ':runs': 2,
        ':position': CHECKPOINT.position,
      },
    });
  });

  test('a checkpoint with no position yet (stopped on its first page): the old position is removed', async () => {
    ddb.on(UpdateCommand).resolves({});

    await state.release('run-1', { ...CHECKPOINT, position: undefined });

    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      UpdateExpression:
        'REMOVE #holder, #held_until, #position SET #cutoff = :cutoff, #started = :started, #runs = :runs',
      ExpressionAttributeNames: NAMES,
    });
  });

  test('a complete pass: the lease and the whole checkpoint are removed', async () => {
    ddb.on(UpdateCommand).resolves({});

    await state.release('run-1', undefined);

    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      UpdateExpression: 'REMOVE #holder, #held_until, #cutoff, #position, #started, #runs',
      ConditionExpression: '#holder = :holder',
      ExpressionAttributeNames: NAMES,
      ExpressionAttributeValues: { ':holder': 'run-1' },
    });
  });

  test('the lease expired and another run took it: false, nothing written', async () => {
    ddb.on(UpdateCommand).rejects(conditionFailed());

    await expect(state.release('run-1', CHECKPOINT)).resolves.toBe(false);
  });
});

describe('activeCreatedBeforeFrom: the due tasks with a position to resume at', () => {
  const store = new DynamoDbTaskStore(doc, TABLE, TEST_KEYS);
  const BEFORE = '2026-11-28T11:59:50.000Z';
  const ITEM = activeItem('2026-11-28T11:59:00.000Z');
  const key = (n: number) => ({ pk: `p${n}`, sweep_shard: 3, created_at: `c${n}` });
  const shardOf = (c: { args: [{ input: { ExpressionAttributeValues?: Record<string, unknown> } }] }) =>
    c.args[0].input.ExpressionAttributeValues?.[':shard'];

  async function read(from?: string): Promise<DuePage[]> {
    const pages: DuePage[] = [];
    for await (const page of store.activeCreatedBeforeFrom(BEFORE, from)) pages.push(page);
    return pages;
  }

  test('each page carries the shard and LastEvaluatedKey after it; the last page none', async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    ddb
      .on(QueryCommand, { ExpressionAttributeValues: { ':shard': 3 } })
      .resolvesOnce({ Items: [ITEM], LastEvaluatedKey: key(1) })
      .resolvesOnce({ Items: [ITEM] });
    ddb.on(QueryCommand, { ExpressionAttributeValues: { ':shard': SWEEP_SHARDS - 1 } }).resolves({ Items: [ITEM] });

    const pages = await read();

    expect(pages).toEqual([
      { tasks: [fromActiveItem(ITEM)], next: JSON.stringify({ shard: 3, key: key(1) }) },
      { tasks: [fromActiveItem(ITEM)], next: JSON.stringify({ shard: 4 }) },
      { tasks: [fromActiveItem(ITEM)], next: undefined },
    ]);
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      TableName: TABLE,
      IndexName: 'active-by-age',
      KeyConditionExpression: '#shard = :shard AND #created_at < :before',
      ExpressionAttributeNames: { '#shard': 'sweep_shard', '#created_at': 'created_at' },
      ExpressionAttributeValues: { ':shard': 0, ':before': BEFORE },
    });
  });

  test('resumed at a position: from its shard, after its key; the shards before it are not read', async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });

    await read(JSON.stringify({ shard: 3, key: key(1) }));

    const calls = ddb.commandCalls(QueryCommand);
    expect(calls.map(shardOf)).toEqual(Array.from({ length: SWEEP_SHARDS - 3 }, (_, i) => i + 3));
    expect(calls[0]?.args[0].input.ExclusiveStartKey).toEqual(key(1));
    expect(calls[1]?.args[0].input.ExclusiveStartKey).toBeUndefined();
  });

  test('a position it cannot read: from the first shard, as a new pass', async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });

    await read('not a position');

    expect(ddb.commandCalls(QueryCommand).map(shardOf)).toEqual(Array.from({ length: SWEEP_SHARDS }, (_, i) => i));
  });
});
