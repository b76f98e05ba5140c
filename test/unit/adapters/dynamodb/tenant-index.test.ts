import 'aws-sdk-client-mock-jest';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { createDocumentClient, TableClient } from '../../../../lambda/adapters/dynamodb/table-client';
import { listByTenant } from '../../../../lambda/adapters/dynamodb/tenant-index';
import { ListStatus } from '../../../../lambda/core/task';
import { activeItem, finalItem, STORED_ID } from '../../../support/stored-items';

const ddb = mockClient(DynamoDBDocumentClient);
const table = new TableClient(createDocumentClient(new DynamoDBClient({ region: 'eu-west-1' })), 'tasks');
const ACTIVE = activeItem('2026-11-28T11:00:00.000Z');
const FINAL = finalItem(ACTIVE);
/** A position in the by-tenant index: the table key and the index key of an item. */
const positionOf = (item: typeof ACTIVE) => ({ pk: item.pk, tenant: item.tenant_id, created: item.created_at });
const queries = () => ddb.commandCalls(QueryCommand).map((c) => c.args[0].input);

beforeEach(() => ddb.reset());

describe('listByTenant: the by-tenant index, newest first', () => {
  test('one Query of both kinds of task item, one item more than the page; tasks without store attributes', async () => {
    ddb.on(QueryCommand).resolves({ Items: [ACTIVE, FINAL] });

    const page = await listByTenant(table, { tenantId: 'tenant1', limit: 5 });

    expect(page).toEqual({
      tasks: [
        {
          taskId: STORED_ID,
          tenantId: 'tenant1',
          videoFilename: 'test.mp4',
          status: 'running',
          createdAt: ACTIVE.created_at,
          updatedAt: ACTIVE.updated_at,
          startedAt: undefined,
        },
        expect.objectContaining({
          taskId: FINAL.task_id,
          status: 'failed',
          error: expect.objectContaining({ error: 'States.Timeout' }),
        }),
      ],
    });
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 1);
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      TableName: 'tasks',
      IndexName: 'by-tenant',
      KeyConditionExpression: '#tenant = :tenant',
      FilterExpression: '#type = :type0 OR #type = :type1',
      ExpressionAttributeNames: { '#tenant': 'tenant_id', '#type': 'item_type' },
      ExpressionAttributeValues: { ':tenant': 'tenant1', ':type0': 'active', ':type1': 'final' },
      ScanIndexForward: false,
      Limit: 6,
    });
  });

  test('a full page with a successor ends at its last task; that position starts the next Query there', async () => {
    ddb
      .on(QueryCommand)
      .resolvesOnce({ Items: [ACTIVE, FINAL], LastEvaluatedKey: { pk: FINAL.pk } })
      .resolves({ Items: [FINAL] });

    const first = await listByTenant(table, { tenantId: 'tenant1', limit: 1 });
    expect(first.tasks.map((t) => t.taskId)).toEqual([STORED_ID]);
    expect(first.next).toEqual(positionOf(ACTIVE));

    const second = await listByTenant(table, { tenantId: 'tenant1', limit: 1, after: first.next });
    expect(second.next).toBeUndefined();
    expect(queries()[1]?.ExclusiveStartKey).toEqual({
      pk: ACTIVE.pk,
      tenant_id: 'tenant1',
      created_at: ACTIVE.created_at,
    });
  });

  test("a position of another tenant's partition is refused before any Query", async () => {
    const error = await listByTenant(table, { tenantId: 'tenant2', limit: 1, after: positionOf(ACTIVE) }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ name: 'InvalidRequest', field: 'cursor' });
    expect(ddb.calls()).toHaveLength(0);
  });

  test("a position in the caller's partition but not shaped as a listed item's keys is refused before any Query", async () => {
    // A cursor of the old format is signed with the public stack UUID: whatever it holds must be a 400, never a
    // key DynamoDB refuses (a ValidationException, a 500).
    for (const after of [
      { pk: '', tenant: 'tenant1', created: '' },
      { pk: ACTIVE.pk, tenant: 'tenant1', created: '' },
      { pk: 'OTHER#x', tenant: 'tenant1', created: ACTIVE.created_at },
      { pk: ACTIVE.pk, tenant: 'tenant1', created: 'yesterday' },
    ]) {
      const error = await listByTenant(table, { tenantId: 'tenant1', limit: 1, after }).catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'InvalidRequest', field: 'cursor' });
    }
    expect(ddb.calls()).toHaveLength(0);
  });

  test('status=finished reads final records only, 100 at a time; a filtered short page queries on from where DynamoDB stopped', async () => {
    ddb
      .on(QueryCommand)
      .resolvesOnce({
        Items: [],
        LastEvaluatedKey: { pk: ACTIVE.pk, tenant_id: 'tenant1', created_at: ACTIVE.created_at },
      })
      .resolves({ Items: [FINAL] });

    const page = await listByTenant(table, { tenantId: 'tenant1', limit: 2, status: ListStatus.Finished });

    expect(page).toEqual({ tasks: [expect.objectContaining({ taskId: FINAL.task_id })] });
    const [first, second] = queries();
    expect(first).toMatchObject({
      FilterExpression: '#type = :type0',
      ExpressionAttributeValues: { ':type0': 'final' },
      Limit: 100,
    });
    expect(second).toMatchObject({ ExclusiveStartKey: { pk: ACTIVE.pk }, Limit: 100 });
  });

  test('status=active reads active items only', async () => {
    ddb.on(QueryCommand).resolves({ Items: [ACTIVE] });
    await listByTenant(table, { tenantId: 'tenant1', limit: 2, status: ListStatus.Active });
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      FilterExpression: '#type = :type0',
      ExpressionAttributeValues: { ':tenant': 'tenant1', ':type0': 'active' },
    });
  });

  test('a filter that keeps dropping everything stops after 4 Queries with a position to go on from', async () => {
    ddb.on(QueryCommand).resolves({ Items: [], LastEvaluatedKey: ACTIVE });
    const page = await listByTenant(table, { tenantId: 'tenant1', limit: 2, status: ListStatus.Finished });
    expect(page).toEqual({ tasks: [], next: positionOf(ACTIVE) });
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 4);
  });
});
