import 'aws-sdk-client-mock-jest';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { request } from '../../support/events';
import { mockedHandler } from '../../support/mocked-handler';
import { activeItem, finalItem, STORED_ID } from '../../support/stored-items';

const ACTIVE = activeItem('2026-11-28T11:00:00.000Z');
const FINAL = finalItem(ACTIVE);
const body = (res: { body?: string }) => JSON.parse(res.body as string);

describe('GET /api/v1/track without video_filename: the listing', () => {
  test('one Query of the by-tenant index, newest first, one item more than the page; tasks in the public shape', async () => {
    const { handle, ddb } = mockedHandler();
    ddb.on(QueryCommand).resolves({ Items: [ACTIVE, FINAL] });

    const res = await handle(request('GET', '/api/v1/track?tenant_id=tenant1&limit=5'));

    expect(res.statusCode).toBe(200);
    expect(body(res)).toEqual({
      tasks: [
        {
          task_id: STORED_ID,
          tenant_id: 'tenant1',
          video_filename: 'test.mp4',
          status: 'running',
          created_at: ACTIVE.created_at,
          updated_at: ACTIVE.updated_at,
        },
        expect.objectContaining({
          task_id: FINAL.task_id,
          status: 'failed',
          error: { error: 'States.Timeout', message: 'The analysis did not finish within the workflow timeout.' },
        }),
      ],
      next_cursor: null,
    });
    // The Query's shape: test/unit/adapters/dynamodb/tenant-index.test.ts.
  });

  test('a page with a successor ends with a cursor at its last task; the cursor starts the next Query there', async () => {
    const { handle, ddb } = mockedHandler();
    ddb.on(QueryCommand).resolvesOnce({
      Items: [ACTIVE, FINAL],
      LastEvaluatedKey: { pk: FINAL.pk, tenant_id: 'tenant1', created_at: FINAL.created_at },
    });
    const first = body(await handle(request('GET', '/api/v1/track?tenant_id=tenant1&limit=1')));
    expect(first.tasks.map((t: { task_id: string }) => t.task_id)).toEqual([STORED_ID]);
    expect(first.next_cursor).toEqual(expect.any(String));

    ddb.on(QueryCommand).resolves({ Items: [FINAL] });
    const second = await handle(
      request('GET', `/api/v1/track?tenant_id=tenant1&limit=1&cursor=${encodeURIComponent(first.next_cursor)}`),
    );
    expect(body(second).next_cursor).toBeNull();

    const foreign = await handle(
      request('GET', `/api/v1/track?tenant_id=tenant2&cursor=${encodeURIComponent(first.next_cursor)}`),
    );
    expect(foreign.statusCode).toBe(400);
    expect(body(foreign)).toMatchObject({ type: '/problems/invalid-request', field: 'cursor' });
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 2);
  });

  test('status=finished reads final records only; a filtered short page queries on from where DynamoDB stopped', async () => {
    const { handle, ddb } = mockedHandler();
    ddb
      .on(QueryCommand)
      .resolvesOnce({
        Items: [],
        LastEvaluatedKey: { pk: ACTIVE.pk, tenant_id: 'tenant1', created_at: ACTIVE.created_at },
      })
      .resolves({ Items: [FINAL] });
    const res = body(await handle(request('GET', '/api/v1/track?tenant_id=tenant1&status=finished&limit=2')));
    expect(res).toEqual({ tasks: [expect.objectContaining({ task_id: FINAL.task_id })], next_cursor: null });
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 2);
  });

  test.each([
    ['limit=0', 'limit'],
    ['limit=101', 'limit'],
    ['limit=1.5', 'limit'],
    ['status=running', 'status'],
    ['cursor=', 'cursor'],
    ['video_filename=a.mp4&limit=5', 'limit'],
    ['video_filename=a.mp4&status=active', 'status'],
  ])('%s is 400 naming %s, without any read', async (query, field) => {
    const { handle, ddb } = mockedHandler();
    const res = await handle(request('GET', `/api/v1/track?tenant_id=tenant1&${query}`));
    expect(res.statusCode).toBe(400);
    expect(body(res)).toMatchObject({ type: '/problems/invalid-request', field });
    expect(ddb.calls()).toHaveLength(0);
  });
});
