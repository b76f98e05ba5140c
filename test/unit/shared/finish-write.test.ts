import {
  counterOf,
  counterUpdate,
  finishTransactItems,
  plainValues,
  refusalTransactItems,
  type FinishWrite,
} from '../../../lambda/shared/finish-write';
import { TaskStatus } from '../../../lambda/core/task';
import { COUNTER_SHARDS, counterShard, SWEEP_SHARDS } from '../../../lambda/shared/table';

const AT = '2026-01-01T00:00:00.000Z';

describe('counterUpdate: the counter update inside a finishing or takeover transaction', () => {
  test("the same update as the increment, by delta, unconditional, in the tenant's counter partition", () => {
    // WHEN
    const item = counterUpdate(plainValues, 'Tasks', counterOf('tenant1'), -1, AT);
    // THEN
    expect(item.Update).toMatchObject({
      TableName: 'Tasks',
      Key: { pk: 'TENANT#7#tenant1' },
      UpdateExpression: expect.stringMatching(/^ADD #count :delta, #version :one SET .*#shard = :counter_shard/),
      ExpressionAttributeNames: expect.objectContaining({ '#shard': 'sweep_shard' }),
      ExpressionAttributeValues: expect.objectContaining({
        ':delta': -1,
        ':at': AT,
        ':counter_shard': counterShard('tenant1'),
      }),
    });
    const shard = item.Update.ExpressionAttributeValues[':counter_shard'] as number;
    expect(shard).toBeGreaterThanOrEqual(SWEEP_SHARDS);
    expect(shard).toBeLessThan(SWEEP_SHARDS + COUNTER_SHARDS);
    expect(item.Update).not.toHaveProperty('ConditionExpression');
  });
});

describe('finishTransactItems: the finishing transaction', () => {
  const write: FinishWrite<unknown> = {
    tableName: 'Tasks',
    taskKey: 'ACTIVE#key',
    expected: [TaskStatus.Running],
    record: {
      key: 'TASK#id',
      taskId: 'id',
      tenantId: 'tenant1',
      videoFilename: 'a.mp4',
      status: TaskStatus.Failed,
      createdAt: AT,
      updatedAt: AT,
      finishedAt: AT,
      expiresAt: 1_800_000_000,
      errorName: 'AnalysisFailed',
    },
  };

  test('the final record, the active item delete on (task, status), no counter update without a counter', () => {
    // WHEN
    const items = finishTransactItems(plainValues, write);
    // THEN
    expect(items).toHaveLength(2);
    expect(items[0]).toEqual({
      Put: expect.objectContaining({ ConditionExpression: 'attribute_not_exists(#status)' }),
    });
    expect(items[0]).toMatchObject({ Put: { Item: { status: 'failed', error: { error: 'AnalysisFailed' } } } });
    expect(items[1]).toEqual({
      Delete: {
        TableName: 'Tasks',
        Key: { pk: 'ACTIVE#key' },
        ConditionExpression: '#task_id = :task_id AND #status = :expected',
        ExpressionAttributeNames: { '#task_id': 'task_id', '#status': 'status' },
        ExpressionAttributeValues: { ':task_id': 'id', ':expected': 'running' },
      },
    });
  });

  test('several expected statuses are compared with IN; a counter adds the -1 update', () => {
    // WHEN
    const items = finishTransactItems(plainValues, {
      ...write,
      expected: [TaskStatus.NotStarted, TaskStatus.Running],
      counter: counterOf('tenant1'),
    });
    // THEN
    expect(items).toHaveLength(3);
    expect(items[1]).toMatchObject({
      Delete: {
        // Counted: only an admitted task (no `admission` mark) ends this way and gives its slot back.
        ConditionExpression:
          '#task_id = :task_id AND #status IN (:expected0, :expected1) AND attribute_not_exists(#admission)',
        ExpressionAttributeValues: { ':expected0': 'not_started', ':expected1': 'running' },
      },
    });
    expect(items[2]).toMatchObject({ Update: { ExpressionAttributeValues: { ':delta': -1, ':at': AT } } });
  });
});

describe('refusalTransactItems: a pending claim refused by the tenant limit', () => {
  test('an unlisted failed record with the quota error, and the delete of the claim only while it is pending', () => {
    // WHEN
    const [put, del] = refusalTransactItems(plainValues, 'Tasks', 'ACTIVE#key', {
      key: 'TASK#id',
      taskId: 'id',
      tenantId: 'tenant1',
      videoFilename: 'a.mp4',
      createdAt: AT,
      updatedAt: AT,
      finishedAt: AT,
      expiresAt: 1_800_000_000,
    });
    // THEN
    expect(put?.Put.Item).toMatchObject({ status: 'failed', error: { error: 'TenantQuotaExceeded' }, claimed_at: AT });
    expect(put?.Put.Item).not.toHaveProperty('created_at');
    expect(del).toMatchObject({
      Delete: {
        ConditionExpression: '#task_id = :task_id AND #status = :expected AND #admission = :pending',
        ExpressionAttributeValues: { ':task_id': 'id', ':expected': 'not_started', ':pending': 'pending' },
      },
    });
  });
});
