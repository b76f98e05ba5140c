import 'aws-sdk-client-mock-jest';
import {
  ConditionalCheckFailedException,
  ProvisionedThroughputExceededException,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { GetCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { SFNServiceException, StartExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { marshall } from '@aws-sdk/util-dynamodb';
import { postTrack, request } from '../../support/events';
import { mockedHandler, NOW, STATE_MACHINE_ARN, TABLE, TASK_ID } from '../../support/mocked-handler';
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
    expect(ddb.commandCalls(PutItemCommand)[0].args[0].input).toEqual({
      TableName: TABLE,
      // Attribute values: the claim is sent as a low-level PutItem (no started_at before the task has started).
      Item: {
        pk: { S: KEY },
        item_type: { S: 'active' },
        task_id: { S: TASK_ID },
        tenant_id: { S: 'tenant1' },
        video_filename: { S: 'test.mp4' },
        status: { S: 'not_started' },
        created_at: { S: NOW.toISOString() },
        updated_at: { S: NOW.toISOString() },
        lease_expires_at: { N: String(EPOCH + 3600 + 300) },
        // workflow timeout + lease margin + retention: the workflow's records live the retention past their end
        retain_until: { N: String(EPOCH + 3600 + 300 + 30 * 86400) },
        sweep_shard: { N: expect.stringMatching(/^\d+$/) },
      },
      ConditionExpression: 'attribute_not_exists(pk)',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
    // The new task takes a slot under its tenant's limit (default 100): one conditional increment, nothing else.
    expect(ddb).toHaveReceivedNthCommandWith(2, UpdateCommand, {
      Key: { pk: 'TENANT#7#tenant1' },
      UpdateExpression: expect.stringMatching(/^ADD #count :delta, #version :one SET /),
      ConditionExpression: 'attribute_not_exists(#count) OR #count < :limit',
      ExpressionAttributeValues: expect.objectContaining({ ':delta': 1, ':limit': 100 }),
    });
    expect(ddb.calls()).toHaveLength(2);
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, {
      stateMachineArn: STATE_MACHINE_ARN,
      name: TASK_ID,
      input: JSON.stringify({
        task_id: TASK_ID,
        tenant_id: 'tenant1',
        video_filename: 'test.mp4',
        created_at: NOW.toISOString(),
        retain_until: EPOCH + 3600 + 300 + 30 * 86400,
        task_key: KEY,
        tenant_key: 'TENANT#7#tenant1',
        storage_key: 'tenants/tenant1/test.mp4',
      }),
    });
  });

  test('a duplicate is answered from the failed put (ALL_OLD): one DynamoDB call, no GetItem, no StartExecution', async () => {
    const { handle, ddb, sfn } = mockedHandler();
    ddb.on(PutItemCommand).rejects(conditionFailed(WINNER));

    const res = await handle(postTrack(body));

    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body as string)).toEqual({
      task_id: WINNER.task_id,
      status: 'running',
      message: 'Analysis already in progress',
    });
    expect(ddb.calls()).toHaveLength(1);
    expect(ddb).not.toHaveReceivedCommand(GetCommand);
    expect(sfn.calls()).toHaveLength(0);
  });

  test('a racing duplicate of a task that is not started yet writes nothing more: its one failed put is its only call', async () => {
    const { handle, ddb, sfn } = mockedHandler();
    ddb
      .on(PutItemCommand)
      .rejectsOnce(conditionFailed({ ...WINNER, status: 'not_started', created_at: NOW.toISOString() }))
      .resolves({});

    const res = await handle(postTrack(body));

    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body as string)).toMatchObject({ task_id: WINNER.task_id, status: 'not_started' });
    expect(ddb.calls()).toHaveLength(1);
    expect(sfn.calls()).toHaveLength(0);
  });

  test('a not_started task re-driven within the grace period by someone else is left to that re-drive: no second lease, no StartExecution', async () => {
    const { handle, ddb, sfn } = mockedHandler();
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
    expect(ddb).not.toHaveReceivedCommand(UpdateCommand);
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
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
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      ConditionExpression: '#task_id = :task_id AND #status = :not_started AND #lease = :read_lease',
      ExpressionAttributeValues: {
        ':lease': EPOCH + 3600 + 300,
        ':task_id': WINNER.task_id,
        ':not_started': 'not_started',
        ':read_lease': stranded.lease_expires_at,
      },
    });
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, {
      name: WINNER.task_id,
      input: JSON.stringify({
        task_id: WINNER.task_id,
        tenant_id: 'tenant1',
        video_filename: 'test.mp4',
        created_at: stranded.created_at,
        retain_until: WINNER.retain_until,
        task_key: KEY,
        tenant_key: 'TENANT#7#tenant1',
        storage_key: 'tenants/tenant1/test.mp4',
      }),
    });
  });

  test('an active task past its lease is replaced and recorded failed in one transaction, and its execution stopped', async () => {
    const { handle, ddb, sfn } = mockedHandler();
    const expired = { ...WINNER, lease_expires_at: EPOCH - 1 };
    ddb.on(PutItemCommand).rejectsOnce(conditionFailed(expired)).resolves({});
    ddb.on(TransactWriteCommand).resolves({});
    sfn.onAnyCommand().resolves({});

    const res = await handle(postTrack(body));

    expect(res.statusCode).toBe(201);
    const [replace, record] = ddb.commandCalls(TransactWriteCommand)[0].args[0].input.TransactItems!;
    expect(replace.Put).toMatchObject({
      Item: { pk: KEY, task_id: TASK_ID, status: 'not_started' },
      ConditionExpression: '#task_id = :expired_id AND #lease < :now',
      ExpressionAttributeValues: { ':expired_id': WINNER.task_id, ':now': EPOCH },
    });
    expect(record.Put).toMatchObject({
      Item: { pk: `TASK#${WINNER.task_id}`, status: 'failed', error: { error: 'LeaseExpired' } },
      ConditionExpression: 'attribute_not_exists(#status)',
    });
    expect(sfn).toHaveReceivedCommandWith(StopExecutionCommand, {
      executionArn: expect.stringMatching(new RegExp(`:execution:analysis:${WINNER.task_id}$`)),
    });
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, { name: TASK_ID });
  });

  test('a claim that meets a conflicting transaction is tried again', async () => {
    const { handle, ddb, sfn } = mockedHandler();
    ddb
      .on(PutItemCommand)
      .rejectsOnce(
        Object.assign(new Error('Transaction is ongoing for the item'), {
          name: 'TransactionConflictException',
          $metadata: { httpStatusCode: 400 },
        }),
      )
      .resolves({});
    sfn.on(StartExecutionCommand).resolves({});
    const res = await handle(postTrack(body));
    expect(res.statusCode).toBe(201);
  });

  test('without Item on the failure (some emulators) it falls back to one strongly consistent GetItem', async () => {
    const { handle, ddb, sfn } = mockedHandler();
    ddb.on(PutItemCommand).rejects(conditionFailed());
    ddb.on(GetCommand).resolves({ Item: WINNER });

    const res = await handle(postTrack(body));

    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body as string).task_id).toBe(WINNER.task_id);
    expect(ddb).toHaveReceivedCommandTimes(GetCommand, 1);
    expect(ddb).toHaveReceivedCommandWith(GetCommand, { TableName: TABLE, Key: { pk: KEY }, ConsistentRead: true });
    expect(sfn.calls()).toHaveLength(0);
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
    expect(res.headers['Retry-After']).toBe('2');
    expect(res.headers['Content-Type']).toBe('application/problem+json');
    expect(JSON.parse(res.body as string)).toMatchObject({ status: 503, type: '/problems/service-unavailable' });
    expect(sfn.calls()).toHaveLength(0);
  });

  test('StartExecution failing: the task is marked failed and its key freed in one transaction (conditional on task id), then 503', async () => {
    const { handle, ddb, sfn } = mockedHandler();
    ddb.on(PutItemCommand).resolves({});
    ddb.on(TransactWriteCommand).resolves({});
    sfn
      .on(StartExecutionCommand)
      .rejects(
        new SFNServiceException({
          name: 'ServiceUnavailable',
          $fault: 'server',
          $metadata: { httpStatusCode: 503 },
          message: 'down',
        }),
      );

    const res = await handle(postTrack(body));

    expect(res.statusCode).toBe(503);
    expect(res.headers['Retry-After']).toBe('2');
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
    const tx = ddb.commandCalls(TransactWriteCommand)[0].args[0].input.TransactItems!;
    expect(tx[0].Put).toMatchObject({
      Item: { pk: `TASK#${TASK_ID}`, item_type: 'final', status: 'failed', error: { error: 'WorkflowNotStarted' } },
      ConditionExpression: 'attribute_not_exists(#status)',
    });
    expect(tx[1].Delete).toEqual({
      TableName: TABLE,
      Key: { pk: KEY },
      ConditionExpression: '#task_id = :task_id AND #status = :expected',
      ExpressionAttributeNames: { '#task_id': 'task_id', '#status': 'status' },
      ExpressionAttributeValues: { ':task_id': TASK_ID, ':expected': 'not_started' },
    });
  });

  test('StartExecution and the compensation both failing: 503, task left not_started for the next POST to re-drive', async () => {
    const { handle, ddb, sfn, lines } = mockedHandler();
    ddb.on(PutItemCommand).resolves({});
    ddb
      .on(TransactWriteCommand)
      .rejects(
        new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: { httpStatusCode: 400 } }),
      );
    sfn
      .on(StartExecutionCommand)
      .rejects(
        new SFNServiceException({
          name: 'ThrottlingException',
          $fault: 'client',
          $metadata: { httpStatusCode: 400 },
          message: 'throttled',
        }),
      );

    const res = await handle(postTrack(body));

    expect(res.statusCode).toBe(503);
    expect(res.headers['Retry-After']).toBe('11');
    expect(lines.some((l) => l.level === 'error' && /left for re-drive/.test(l.message))).toBe(true);
    // The handler's own lines name the task the failed POST created, so one task_id query finds them all.
    expect(lines.find((l) => l.message === 'request failed')?.extra.task_id).toBe(TASK_ID);
    expect(lines.find((l) => l.message === 'request')?.extra).toMatchObject({ status: 503, task_id: TASK_ID });
  });

  test('an unexpected error is a 500 problem without internals', async () => {
    const { handle, ddb } = mockedHandler();
    ddb
      .on(PutItemCommand)
      .rejects(
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
