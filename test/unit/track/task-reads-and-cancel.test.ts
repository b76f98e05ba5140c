import 'aws-sdk-client-mock-jest';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { SFNServiceException, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { finalizeExecution } from '../../../lambda/finalizer/finalizer';
import { request } from '../../support/events';
import { mockedHandler, NOW } from '../../support/mocked-handler';
import { activeItem, STORED_ID, STORED_KEY, TEST_KEYS } from '../../support/stored-items';

const ID = STORED_ID;
const KEY = STORED_KEY;
const ACTIVE = activeItem('2026-11-28T11:00:00.000Z', {
  updated_at: '2026-11-28T11:00:01.000Z',
  started_at: '2026-11-28T11:00:01.000Z',
});
const FINAL = {
  ...ACTIVE,
  pk: `TASK#${ID}`,
  item_type: 'final',
  status: 'completed',
  finished_at: '2026-11-28T11:00:03.000Z',
  result: '{"score":1}',
  expires_at: 2_100_000_000,
};

describe('GET /api/v1/track/{task_id}', () => {
  test('an active task: one strongly consistent read of the active item its id leads to', async () => {
    const { handle, ddb } = mockedHandler();
    ddb.on(GetCommand, { Key: { pk: KEY } }).resolves({ Item: ACTIVE });

    const res = await handle(request('GET', `/api/v1/track/${ID}?tenant_id=tenant1`));

    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body as string)).toEqual({
      task_id: ID,
      tenant_id: 'tenant1',
      video_filename: 'test.mp4',
      status: 'running',
      created_at: ACTIVE.created_at,
      updated_at: ACTIVE.updated_at,
      started_at: ACTIVE.started_at,
    });
  });

  test('a finished task: no active item at its key, then its final record, result parsed', async () => {
    const { handle, ddb } = mockedHandler();
    ddb.on(GetCommand, { Key: { pk: KEY } }).resolves({});
    ddb.on(GetCommand, { Key: { pk: `TASK#${ID}` } }).resolves({ Item: FINAL });
    const res = await handle(request('GET', `/api/v1/track/${ID}?tenant_id=tenant1`));
    expect(JSON.parse(res.body as string)).toMatchObject({
      status: 'completed',
      result: { score: 1 },
      finished_at: FINAL.finished_at,
    });
  });

  test("the active item at the key holds another task (the video was tracked again): the id's final record answers", async () => {
    const { handle, ddb } = mockedHandler();
    ddb
      .on(GetCommand, { Key: { pk: KEY } })
      .resolves({ Item: { ...ACTIVE, task_id: TEST_KEYS.newTaskId('tenant1', 'test.mp4') } });
    ddb.on(GetCommand, { Key: { pk: `TASK#${ID}` } }).resolves({ Item: FINAL });
    const res = await handle(request('GET', `/api/v1/track/${ID}?tenant_id=tenant1`));
    expect(JSON.parse(res.body as string)).toMatchObject({ task_id: ID, status: 'completed' });
  });

  test("another tenant's task is 404, like an unknown one: its id leads to another key, and the final record's tenant is checked", async () => {
    const { handle, ddb } = mockedHandler();
    ddb.on(GetCommand, { Key: { pk: KEY } }).resolves({ Item: ACTIVE });
    ddb.on(GetCommand, { Key: { pk: TEST_KEYS.activeKeyOfId('tenant2', ID) } }).resolves({});
    ddb.on(GetCommand, { Key: { pk: `TASK#${ID}` } }).resolves({ Item: FINAL });
    const res = await handle(request('GET', `/api/v1/track/${ID}?tenant_id=tenant2`));
    expect(res.statusCode).toBe(404);
    expect(res.body).not.toContain('tenant1');
  });

  test('a malformed id is 404 without any AWS call; a missing tenant is 400', async () => {
    const { handle, ddb } = mockedHandler();
    expect((await handle(request('GET', '/api/v1/track/abc?tenant_id=t'))).statusCode).toBe(404);
    expect(
      (await handle(request('GET', '/api/v1/track/5f0c3a52-8d0e-4c4b-a0f7-0e6f0d6f7b11?tenant_id=t'))).statusCode,
    ).toBe(404);
    expect((await handle(request('DELETE', `/api/v1/track/${ID.slice(0, 42)}+?tenant_id=t`))).statusCode).toBe(404);
    expect((await handle(request('GET', '/api/v1/track/%E0%A4%A?tenant_id=t'))).statusCode).toBe(404);
    const missing = await handle(request('GET', `/api/v1/track/${ID}`));
    expect(missing.statusCode).toBe(400);
    expect(JSON.parse(missing.body as string).detail).toBe('tenant_id is required');
    expect(ddb.calls()).toHaveLength(0);
  });
});

describe('DELETE /api/v1/track/{task_id}', () => {
  test("cancels: one transaction conditional on the status read, then StopExecution of the task's execution", async () => {
    const { handle, ddb, sfn } = mockedHandler();
    ddb.on(GetCommand, { Key: { pk: KEY } }).resolves({ Item: ACTIVE });
    ddb.on(TransactWriteCommand).resolves({});
    sfn.on(StopExecutionCommand).resolves({ stopDate: NOW });

    const res = await handle(request('DELETE', `/api/v1/track/${ID}?tenant_id=tenant1`));

    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body as string)).toMatchObject({
      status: 'cancelled',
      finished_at: NOW.toISOString(),
      started_at: ACTIVE.started_at,
    });
    // The transaction and StopExecution requests: test/unit/adapters (task-store, sfn-workflow).
    expect(sfn).toHaveReceivedCommandTimes(StopExecutionCommand, 1);
  });

  test('StopExecution failing does not undo the cancel: 200 and a warning', async () => {
    const { handle, ddb, sfn, lines } = mockedHandler();
    ddb.on(GetCommand, { Key: { pk: KEY } }).resolves({ Item: ACTIVE });
    ddb.on(TransactWriteCommand).resolves({});
    sfn.on(StopExecutionCommand).rejects(
      new SFNServiceException({
        name: 'ServiceUnavailable',
        $fault: 'server',
        $metadata: { httpStatusCode: 503 },
        message: 'x',
      }),
    );
    const res = await handle(request('DELETE', `/api/v1/track/${ID}?tenant_id=tenant1`));
    expect(res.statusCode).toBe(200);
    expect(lines.some((l) => l.level === 'warn' && /could not stop/.test(l.message))).toBe(true);
  });

  test('a task that completes between the read and the cancel: the transaction is refused, re-read, 409', async () => {
    const { handle, ddb, sfn } = mockedHandler();
    ddb
      .on(GetCommand, { Key: { pk: KEY } })
      .resolvesOnce({ Item: ACTIVE })
      .resolves({});
    ddb.on(GetCommand, { Key: { pk: `TASK#${ID}` } }).resolves({ Item: FINAL });
    ddb.on(TransactWriteCommand).rejects(
      new TransactionCanceledException({
        message: 'cancelled',
        $metadata: {},
        CancellationReasons: [{ Code: 'None' }, { Code: 'ConditionalCheckFailed' }],
      }),
    );

    const res = await handle(request('DELETE', `/api/v1/track/${ID}?tenant_id=tenant1`));

    expect(res.statusCode).toBe(409);
    expect(JSON.parse(res.body as string)).toMatchObject({ task_id: ID, task_status: 'completed' });
    expect(sfn.calls()).toHaveLength(0);
  });

  test('a cancel transaction refused for throttling is a 503, not a conflict', async () => {
    const { handle, ddb, sfn } = mockedHandler();
    ddb.on(GetCommand, { Key: { pk: KEY } }).resolves({ Item: ACTIVE });
    ddb.on(TransactWriteCommand).rejects(
      new TransactionCanceledException({
        message: 'throttled',
        $metadata: {},
        CancellationReasons: [{ Code: 'ThrottlingError' }, { Code: 'None' }],
      }),
    );
    const res = await handle(request('DELETE', `/api/v1/track/${ID}?tenant_id=tenant1`));
    expect(res.statusCode).toBe(503);
    expect(res.headers['Retry-After']).toMatch(/^[234]$/);
    expect(sfn.calls()).toHaveLength(0);
  });

  test('a cancel whose transaction landed but whose answer was lost still stops the execution', async () => {
    const { handle, ddb, sfn } = mockedHandler();
    ddb
      .on(GetCommand, { Key: { pk: KEY } })
      .resolvesOnce({ Item: ACTIVE })
      .resolves({});
    ddb.on(GetCommand, { Key: { pk: `TASK#${ID}` } }).resolves({ Item: { ...FINAL, status: 'cancelled' } });
    // The SDK's retry of a committed transaction is refused by its own conditions.
    ddb.on(TransactWriteCommand).rejects(
      new TransactionCanceledException({
        message: 'x',
        $metadata: {},
        CancellationReasons: [{ Code: 'ConditionalCheckFailed' }, { Code: 'ConditionalCheckFailed' }],
      }),
    );
    sfn.on(StopExecutionCommand).resolves({});
    const res = await handle(request('DELETE', `/api/v1/track/${ID}?tenant_id=tenant1`));
    expect(res.statusCode).toBe(200);
    expect(sfn).toHaveReceivedCommandTimes(StopExecutionCommand, 1);
  });

  test('cancelling a cancelled task answers 200 with it, and writes nothing', async () => {
    const { handle, ddb } = mockedHandler();
    ddb.on(GetCommand, { Key: { pk: KEY } }).resolves({});
    ddb.on(GetCommand, { Key: { pk: `TASK#${ID}` } }).resolves({ Item: { ...FINAL, status: 'cancelled' } });
    const res = await handle(request('DELETE', `/api/v1/track/${ID}?tenant_id=tenant1`));
    expect(res.statusCode).toBe(200);
    expect(ddb).not.toHaveReceivedCommand(TransactWriteCommand);
  });
});

describe('finalizer event mapping', () => {
  const event = (status: string, error: string | null = null) => ({
    detail: {
      executionArn: 'arn',
      status,
      error,
      cause: 'c',
      input: JSON.stringify({
        task_id: ID,
        tenant_id: 'tenant1',
        video_filename: 'test.mp4',
        created_at: ACTIVE.created_at,
        retain_until: 1,
        task_key: KEY,
      }),
    },
  });

  test.each([
    ['TIMED_OUT', null, 'failed', 'States.Timeout'],
    ['FAILED', 'States.Runtime', 'failed', 'States.Runtime'],
    ['ABORTED', null, 'cancelled', 'ExecutionAborted'],
  ])('%s ends the task %s', async (status, error, expected, errorName) => {
    const { service, ddb } = mockedHandler();
    ddb.on(GetCommand, { Key: { pk: KEY } }).resolves({ Item: ACTIVE });
    ddb.on(TransactWriteCommand).resolves({});
    const result = await finalizeExecution(service.recovery, event(status, error));
    expect(result).toMatchObject({ outcome: 'finalized', task: { status: expected, error: { error: errorName } } });
  });

  test('SUCCEEDED needs no repair and reads nothing', async () => {
    const { service, ddb } = mockedHandler();
    expect(await finalizeExecution(service.recovery, event('SUCCEEDED'))).toMatchObject({ outcome: 'ignored' });
    expect(ddb.calls()).toHaveLength(0);
  });
});
