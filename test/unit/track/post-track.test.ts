import 'aws-sdk-client-mock-jest';
import {
  ConditionalCheckFailedException,
  ProvisionedThroughputExceededException,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { GetCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ExecutionLimitExceeded, SFNServiceException, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { marshall } from '@aws-sdk/util-dynamodb';
import { postTrack, request } from '../../support/events';
import { mockedHandler, NOW, TASK_ID } from '../../support/mocked-handler';
import { STORED_ID, STORED_KEY } from '../../support/stored-items';

const KEY = STORED_KEY;
const EPOCH = Math.floor(NOW.getTime() / 1000);
const WINNER = {
  pk: KEY,
  item_type: 'active',
  task_id: STORED_ID,
  tenant_id: 'tenant1',
  video_filename: 'test.mp4',
  status: 'running',
  created_at: '2026-11-28T11:59:59.000Z',
  updated_at: '2026-11-28T11:59:59.500Z',
  started_at: '2026-11-28T11:59:59.500Z',
  lease_expires_at: EPOCH + 3900,
  retain_until: EPOCH + 3600 + 30 * 86400,
};
const body = { tenant_id: 'tenant1', video_filename: 'test.mp4' };

function conditionFailed(item?: Record<string, unknown>) {
  return new ConditionalCheckFailedException({
    message: 'The conditional request failed',
    $metadata: { httpStatusCode: 400 },
    Item: item ? marshall(item) : undefined,
  });
}

describe('POST /api/v1/track', () => {
  test('a new task: one conditional put, one StartExecution named after the task; 201 with Location', async () => {
    // GIVEN
    const { handle, ddb, sfn } = mockedHandler();
    ddb.on(PutItemCommand).resolves({});
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn', startDate: NOW });

    // WHEN
    const res = await handle(postTrack(body));

    // THEN
    expect(res.statusCode).toBe(201);
    // AUTH_MODE unset (none): the tenant came from the request, so the link carries it.
    expect(res.headers.Location).toBe(`/api/v1/track/${TASK_ID}?tenant_id=tenant1`);
    expect(JSON.parse(res.body as string)).toEqual({
      task_id: TASK_ID,
      status: 'not_started',
      tenant_id: 'tenant1',
      video_filename: 'test.mp4',
      created_at: NOW.toISOString(),
    });
    // The claim, slot and StartExecution requests: test/unit/adapters (task-store, tenant-counter, sfn-workflow).
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
  });

  test('a duplicate is answered from the failed put (ALL_OLD): one DynamoDB call, no GetItem, no StartExecution', async () => {
    const { handle, ddb } = mockedHandler();
    ddb.on(PutItemCommand).rejects(conditionFailed(WINNER));

    const res = await handle(postTrack(body));

    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body as string)).toEqual({
      task_id: WINNER.task_id,
      status: 'running',
      message: 'Analysis already in progress',
    });
  });

  test('a racing duplicate of a task that is not started yet writes nothing more: its one failed put is its only call', async () => {
    const { handle, ddb } = mockedHandler();
    ddb
      .on(PutItemCommand)
      .rejectsOnce(conditionFailed({ ...WINNER, status: 'not_started', created_at: NOW.toISOString() }))
      .resolves({});

    const res = await handle(postTrack(body));

    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body as string)).toMatchObject({ task_id: WINNER.task_id, status: 'not_started' });
  });

  test('a not_started task re-driven within the grace period by someone else is left to that re-drive: no second lease, no StartExecution', async () => {
    const { handle, ddb } = mockedHandler();
    // Created a minute ago, its lease renewed 2 s ago (an overlapping sweep is starting it).
    const redriven = {
      ...WINNER,
      status: 'not_started',
      created_at: new Date(NOW.getTime() - 60_000).toISOString(),
      lease_expires_at: EPOCH - 2 + 3900,
    };
    ddb.on(PutItemCommand).rejectsOnce(conditionFailed(redriven)).resolves({});

    const res = await handle(postTrack(body));

    expect(res.statusCode).toBe(200);
  });

  test('a not_started task older than the grace period is re-driven: lease renewed, StartExecution with the same name and input', async () => {
    const { handle, ddb, sfn } = mockedHandler();
    const stranded = {
      ...WINNER,
      status: 'not_started',
      created_at: new Date(NOW.getTime() - 11_000).toISOString(),
      lease_expires_at: EPOCH - 11 + 3900,
    };
    ddb.on(PutItemCommand).rejectsOnce(conditionFailed(stranded)).resolves({});
    ddb.on(UpdateCommand).resolves({});
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn', startDate: NOW });

    const res = await handle(postTrack(body));

    expect(res.statusCode).toBe(200);
  });

  test('an active task past its lease is replaced and recorded failed in one transaction, and its execution stopped', async () => {
    const { handle, ddb, sfn } = mockedHandler();
    const expired = { ...WINNER, lease_expires_at: EPOCH - 1 };
    ddb.on(PutItemCommand).rejectsOnce(conditionFailed(expired)).resolves({});
    ddb.on(TransactWriteCommand).resolves({});
    sfn.onAnyCommand().resolves({});

    const res = await handle(postTrack(body));

    expect(res.statusCode).toBe(201);
  });

  test('without Item on the failure (some emulators) it falls back to one strongly consistent GetItem', async () => {
    const { handle, ddb } = mockedHandler();
    ddb.on(PutItemCommand).rejects(conditionFailed());
    ddb.on(GetCommand).resolves({ Item: WINNER });

    const res = await handle(postTrack(body));

    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body as string).task_id).toBe(WINNER.task_id);
  });

  test('a put retried by the SDK after its first attempt landed finds its own task and carries on as created', async () => {
    const { handle, ddb, sfn } = mockedHandler();
    ddb
      .on(PutItemCommand)
      .rejectsOnce(
        conditionFailed({ ...WINNER, task_id: TASK_ID, status: 'not_started', created_at: NOW.toISOString() }),
      )
      .resolves({});
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn', startDate: NOW });

    const res = await handle(postTrack(body));

    expect(res.statusCode).toBe(201);
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, { name: TASK_ID });
  });

  test('DynamoDB throttled after the SDK retries: 503 with Retry-After, nothing started', async () => {
    const { handle, ddb, sfn } = mockedHandler();
    ddb
      .on(PutItemCommand)
      .rejects(
        new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: { httpStatusCode: 400 } }),
      );

    const res = await handle(postTrack(body));

    expect(res.statusCode).toBe(503);
    // Jittered per answer (lambda/track/http.ts retryAfter): 2..4 whole seconds.
    expect(res.headers['Retry-After']).toMatch(/^[234]$/);
    expect(res.headers['Content-Type']).toBe('application/problem+json');
    expect(JSON.parse(res.body as string)).toMatchObject({ status: 503, type: '/problems/service-unavailable' });
    expect(sfn.calls()).toHaveLength(0);
  });

  test('StartExecution failing: the task is marked failed and its key freed in one transaction (conditional on task id), then 503', async () => {
    const { handle, ddb, sfn } = mockedHandler();
    ddb.on(PutItemCommand).resolves({});
    ddb.on(TransactWriteCommand).resolves({});
    sfn.on(StartExecutionCommand).rejects(
      new SFNServiceException({
        name: 'ServiceUnavailable',
        $fault: 'server',
        $metadata: { httpStatusCode: 503 },
        message: 'down',
      }),
    );

    const res = await handle(postTrack(body));

    expect(res.statusCode).toBe(503);
    expect(res.headers['Retry-After']).toMatch(/^[234]$/);
  });

  test('StartExecution at the open executions quota (ExecutionLimitExceeded): compensated like any start failure, 503', async () => {
    const { handle, ddb, sfn } = mockedHandler();
    ddb.on(PutItemCommand).resolves({});
    ddb.on(TransactWriteCommand).resolves({});
    sfn.on(StartExecutionCommand).rejects(
      new ExecutionLimitExceeded({
        $metadata: { httpStatusCode: 400 },
        message: 'Maximum number of running executions',
      }),
    );

    const res = await handle(postTrack(body));

    expect(res.statusCode).toBe(503);
    expect(res.headers['Retry-After']).toMatch(/^[234]$/);
    // After its admission, the task is recorded failed, its video freed and its slot given back in one transaction:
    // nothing is left blocked, and the retry claims the video afresh.
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 2);
    const compensation = JSON.stringify(ddb.commandCalls(TransactWriteCommand)[1]?.args[0].input);
    expect(compensation).toContain('"error":{"error":"WorkflowNotStarted"}');
    expect(compensation).toContain('":delta":-1');
  });

  test('StartExecution and the compensation both failing: 503, task left not_started for the next POST to re-drive', async () => {
    const { handle, ddb, sfn, lines } = mockedHandler();
    ddb.on(PutItemCommand).resolves({});
    // The admission under the tenant limit lands; the compensation's transaction is throttled.
    ddb
      .on(TransactWriteCommand)
      .resolvesOnce({})
      .rejects(
        new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: { httpStatusCode: 400 } }),
      );
    sfn.on(StartExecutionCommand).rejects(
      new SFNServiceException({
        name: 'ThrottlingException',
        $fault: 'client',
        $metadata: { httpStatusCode: 400 },
        message: 'throttled',
      }),
    );

    const res = await handle(postTrack(body));

    expect(res.statusCode).toBe(503);
    // Past the grace period (10 s) whatever the draw: 11..22.
    expect(Number(res.headers['Retry-After'])).toBeGreaterThanOrEqual(11);
    expect(Number(res.headers['Retry-After'])).toBeLessThanOrEqual(22);
    expect(lines.some((l) => l.level === 'error' && /left for re-drive/.test(l.message))).toBe(true);
    // The handler's own lines name the task the failed POST created, so one task_id query finds them all.
    expect(lines.find((l) => l.message === 'request failed')?.extra.task_id).toBe(TASK_ID);
    expect(lines.find((l) => l.message === 'request')?.extra).toMatchObject({ status: 503, task_id: TASK_ID });
  });

  test('an unexpected error is a 500 problem without internals', async () => {
    const { handle, ddb } = mockedHandler();
    ddb.on(PutItemCommand).rejects(
      Object.assign(new Error('User is not authorized to perform dynamodb:PutItem'), {
        name: 'AccessDeniedException',
      }),
    );

    const res = await handle(postTrack(body));

    expect(res.statusCode).toBe(500);
    expect(res.body).not.toMatch(/authorized|dynamodb/i);
  });
});

describe('every answer of the function is nosniff and no-store', () => {
  test('201, 400, 405, a preflight OPTIONS and a 500', async () => {
    const { handle, ddb, sfn } = mockedHandler();
    ddb.on(PutItemCommand).resolves({});
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn', startDate: NOW });
    const answers = [
      await handle(postTrack(body)),
      await handle(postTrack({ tenant_id: 'tenant1', video_filename: 'a\u202E.mp4' })),
      await handle(request('PUT', '/api/v1/track')),
      await handle(request('OPTIONS', '/api/v1/track')),
    ];
    ddb.on(PutItemCommand).rejects(new Error('boom'));
    answers.push(await handle(postTrack({ tenant_id: 'tenant1', video_filename: 'other.mp4' })));
    expect(answers.map((a) => a.statusCode)).toEqual([201, 400, 405, 204, 500]);
    for (const a of answers)
      expect(a.headers).toMatchObject({ 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store' });
  });
});
