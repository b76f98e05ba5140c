import { ConditionalCheckFailedException, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDbTaskStore } from '../../lambda/adapters/dynamodb/task-store';
import { TaskStatus } from '../../lambda/core/task';
import { newTestId, TEST_KEYS } from '../support/stored-items';
import {
  doc,
  dynamodb,
  env,
  executionsOf,
  holdExecutions,
  itemsOf,
  pool,
  post,
  releaseExecutions,
  uniqueTenant,
} from './support';

// The race is decided by DynamoDB Local's conditional write, not by a mock. Executions of each test's tenant are
// held before their first state, so no task can finish mid-burst and the counts below are exact.
describe('concurrent POSTs against DynamoDB Local', () => {
  test('300 concurrent POSTs for one video: one 201, one task, one execution, one task_id for all', async () => {
    // GIVEN
    const tenant = uniqueTenant('race');
    await holdExecutions(tenant);
    try {
      // WHEN
      const answers = await pool(Array.from({ length: 300 }), 300, () => post(tenant, 'test.mp4'));

      // THEN
      const created = answers.filter((a) => a.status === 201);
      expect(created).toHaveLength(1);
      expect(answers.filter((a) => a.status === 200)).toHaveLength(299);
      const id = created[0]?.body.task_id;
      expect(new Set(answers.map((a) => a.body.task_id))).toEqual(new Set([id]));
      for (const a of answers.filter((x) => x.status === 200))
        expect(a.body.message).toBe('Analysis already in progress');

      const items = await itemsOf(tenant);
      // One item in all: the active task (no link item, no final record yet).
      expect(items.map((i) => [i.item_type, i.task_id])).toEqual([['active', id]]);
      const executions = await executionsOf(tenant);
      expect(executions.map((e) => e.name)).toEqual([id]);
    } finally {
      await releaseExecutions(tenant);
    }
  });

  test('20 videos x 15 concurrent POSTs, interleaved: one 201 and one task per video', async () => {
    const tenant = uniqueTenant('many');
    await holdExecutions(tenant);
    try {
      const videos = Array.from({ length: 20 }, (_, i) => `video-${i}.mp4`);
      const requests = Array.from({ length: 15 }).flatMap(() => videos);
      const answers = await pool(requests, 100, (video) => post(tenant, video).then((a) => ({ video, ...a })));

      expect(answers.every((a) => a.status === 200 || a.status === 201)).toBe(true);
      for (const video of videos) {
        const mine = answers.filter((a) => a.video === video);
        expect(mine.filter((a) => a.status === 201)).toHaveLength(1);
        expect(new Set(mine.map((a) => a.body.task_id)).size).toBe(1);
      }
      const active = (await itemsOf(tenant)).filter((i) => i.item_type === 'active');
      expect(active.map((i) => i.video_filename).sort()).toEqual([...videos].sort());
      expect(await executionsOf(tenant)).toHaveLength(20);
    } finally {
      await releaseExecutions(tenant);
    }
  });

  test('one video under two tenants: two tasks', async () => {
    const [a, b] = [uniqueTenant('two-a'), uniqueTenant('two-b')];
    await Promise.all([holdExecutions(a), holdExecutions(b)]);
    try {
      const answers = await Promise.all([
        post(a, 'same.mp4'),
        post(b, 'same.mp4'),
        post(a, 'same.mp4'),
        post(b, 'same.mp4'),
      ]);
      const created = answers.filter((x) => x.status === 201);
      expect(created).toHaveLength(2);
      expect(created[0]?.body.task_id).not.toBe(created[1]?.body.task_id);
      expect(new Set(created.map((c) => c.body.tenant_id))).toEqual(new Set([a, b]));
    } finally {
      await Promise.all([releaseExecutions(a), releaseExecutions(b)]);
    }
  });

  test('NFC and NFD spellings of one name race as one video', async () => {
    const tenant = uniqueTenant('nfc');
    await holdExecutions(tenant);
    try {
      const answers = await Promise.all([
        post(tenant, 'cafe\u0301.mp4'),
        post(tenant, 'caf\u00e9.mp4'),
        post(tenant, 'cafe\u0301.mp4'),
      ]);
      expect(answers.filter((x) => x.status === 201)).toHaveLength(1);
      expect(new Set(answers.map((x) => x.body.task_id)).size).toBe(1);
    } finally {
      await releaseExecutions(tenant);
    }
  });
});

describe('the one-round-trip duplicate path, for real', () => {
  test("DynamoDB Local returns the winner in the failed condition's Item", async () => {
    const key = `ACTIVE#probe#${uniqueTenant('probe')}`;
    await dynamodb.send(
      new PutItemCommand({ TableName: env.tableName, Item: { pk: { S: key }, task_id: { S: 'winner' } } }),
    );
    const error = await dynamodb
      .send(
        new PutItemCommand({
          TableName: env.tableName,
          Item: { pk: { S: key }, task_id: { S: 'loser' } },
          ConditionExpression: 'attribute_not_exists(pk)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConditionalCheckFailedException);
    expect((error as ConditionalCheckFailedException).Item?.task_id).toEqual({ S: 'winner' });
  });

  test('the store answers a duplicate from that Item: one PutItem, no GetItem', async () => {
    const tenant = uniqueTenant('one-trip');
    const sent: string[] = [];
    const counting = {
      send: (command: any) => (sent.push(command.constructor.name), doc.send(command)),
    } as unknown as typeof doc;
    const store = new DynamoDbTaskStore(counting, env.tableName, TEST_KEYS);
    const task = (taskId: string) => ({
      taskId,
      tenantId: tenant,
      videoFilename: 'x.mp4',
      status: TaskStatus.NotStarted,
      createdAt: new Date().toISOString(),
      updatedAt: new Date().toISOString(),
      leaseExpiresAt: Math.floor(Date.now() / 1000) + 3600,
      retainUntil: Math.floor(Date.now() / 1000) + 86400,
    });
    const winner = newTestId(tenant, 'x.mp4');
    await store.claim(task(winner), 0);
    sent.length = 0;

    const duplicate = await store.claim(task(newTestId(tenant, 'x.mp4')), 0);

    expect(duplicate).toMatchObject({
      won: false,
      existing: { taskId: winner, tenantId: tenant, videoFilename: 'x.mp4', status: TaskStatus.NotStarted },
    });
    expect(sent).toEqual(['PutItemCommand']);
    expect(sent).not.toContain(GetCommand.name);
  });
});
