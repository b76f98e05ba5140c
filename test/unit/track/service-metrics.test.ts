import {
  ConditionalCheckFailedException,
  ProvisionedThroughputExceededException,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { SFNServiceException, StartExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { GetCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { ServiceEvent } from '../../../lambda/core/ports';
import { finalizeExecution } from '../../../lambda/finalizer/finalizer';
import { postTrack, request } from '../../support/events';
import { mockedHandler, NOW } from '../../support/mocked-handler';
import { activeItem, STORED_ID, STORED_KEY } from '../../support/stored-items';

const ID = STORED_ID;
const KEY = STORED_KEY;
const EPOCH = Math.floor(NOW.getTime() / 1000);
const ACTIVE = activeItem('2026-11-28T11:59:00.000Z', {
  updated_at: '2026-11-28T11:59:01.000Z',
  lease_expires_at: EPOCH + 3900,
  retain_until: EPOCH + 3600 + 30 * 86400,
});
const body = { tenant_id: 'tenant1', video_filename: 'test.mp4' };
const conditionFailed = (item: Record<string, unknown>) =>
  new ConditionalCheckFailedException({
    message: 'The conditional request failed',
    $metadata: { httpStatusCode: 400 },
    Item: marshall(item),
  });
const throttled = () =>
  new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: { httpStatusCode: 400 } });
const sfnDown = () =>
  new SFNServiceException({
    name: 'ServiceUnavailable',
    $fault: 'server',
    $metadata: { httpStatusCode: 503 },
    message: 'down',
  });

describe('what was only logged is counted (metrics port)', () => {
  test('a new task and a plain duplicate count nothing: the request outcome says it all', async () => {
    // GIVEN a new task, then a duplicate of a running one
    const { handle, ddb, sfn, counted } = mockedHandler();
    ddb.on(PutItemCommand).resolvesOnce({}).rejects(conditionFailed(ACTIVE));
    sfn.on(StartExecutionCommand).resolves({});
    // WHEN both are posted
    expect((await handle(postTrack(body))).statusCode).toBe(201);
    expect((await handle(postTrack(body))).statusCode).toBe(200);
    // THEN no service event was counted
    expect(counted).toEqual([]);
  });

  test('a re-drive is counted once', async () => {
    // GIVEN a not_started task past the grace period
    const { handle, ddb, sfn, counted } = mockedHandler();
    const stranded = {
      ...ACTIVE,
      status: 'not_started',
      created_at: new Date(NOW.getTime() - 11_000).toISOString(),
      lease_expires_at: EPOCH - 11 + 3900,
    };
    ddb.on(PutItemCommand).rejectsOnce(conditionFailed(stranded)).resolves({});
    ddb.on(UpdateCommand).resolves({});
    sfn.on(StartExecutionCommand).resolves({});
    // WHEN a duplicate arrives
    await handle(postTrack(body));
    // THEN
    expect(counted).toEqual([ServiceEvent.Redriven]);
  });

  test('a re-drive that finds the execution ended counts the re-drive and the repair', async () => {
    // GIVEN a stranded not_started task whose execution name is taken by a closed execution
    const { handle, ddb, sfn, counted } = mockedHandler();
    const stranded = {
      ...ACTIVE,
      status: 'not_started',
      created_at: new Date(NOW.getTime() - 11_000).toISOString(),
      lease_expires_at: EPOCH - 11 + 3900,
    };
    ddb.on(PutItemCommand).rejectsOnce(conditionFailed(stranded)).resolves({});
    ddb.on(UpdateCommand).resolves({});
    ddb.on(TransactWriteCommand).resolves({});
    sfn
      .on(StartExecutionCommand)
      .rejectsOnce(Object.assign(new Error('exists'), { name: 'ExecutionAlreadyExists' }))
      .resolves({});
    // WHEN a duplicate arrives
    const res = await handle(postTrack(body));
    // THEN the video was freed and claimed again, and both events were counted
    expect(res.statusCode).toBe(201);
    expect(counted).toEqual([ServiceEvent.Redriven, ServiceEvent.RedriveFoundEnded]);
  });

  test('a lease takeover counts the takeover and the stop of the replaced execution', async () => {
    // GIVEN an active task past its lease
    const { handle, ddb, sfn, counted } = mockedHandler();
    ddb
      .on(PutItemCommand)
      .rejectsOnce(conditionFailed({ ...ACTIVE, lease_expires_at: EPOCH - 1 }))
      .resolves({});
    ddb.on(TransactWriteCommand).resolves({});
    sfn.onAnyCommand().resolves({});
    // WHEN a new POST claims the video
    await handle(postTrack(body));
    // THEN
    expect(counted).toEqual([ServiceEvent.LeaseTakeover, ServiceEvent.ExecutionStopped]);
  });

  // aws-sdk-client-mock mocks the client classes, not instances: each case below is set up and run before the next.
  test('a compensation is counted; a failed compensation is counted apart', async () => {
    // GIVEN StartExecution unavailable and a compensation that works
    const ok = mockedHandler();
    ok.ddb.on(PutItemCommand).resolves({});
    ok.ddb.on(TransactWriteCommand).resolves({});
    ok.sfn.on(StartExecutionCommand).rejects(sfnDown());
    // WHEN / THEN
    expect((await ok.handle(postTrack(body))).statusCode).toBe(503);
    expect(ok.counted).toEqual([ServiceEvent.Compensated]);

    // GIVEN a compensation that is throttled too
    const failing = mockedHandler();
    failing.ddb.on(PutItemCommand).resolves({});
    // (the admission under the tenant limit lands; the compensation's transaction is throttled)
    failing.ddb.on(TransactWriteCommand).resolvesOnce({}).rejects(throttled());
    failing.sfn.on(StartExecutionCommand).rejects(sfnDown());
    // WHEN / THEN
    expect((await failing.handle(postTrack(body))).statusCode).toBe(503);
    expect(failing.counted).toEqual([ServiceEvent.CompensationFailed]);
  });

  test.each([
    ['a working', true],
    ['a failing', false],
  ])('a cancel with %s StopExecution counts the stop only if it worked', async (_, stopWorks) => {
    // GIVEN a running task
    const { handle, ddb, sfn, counted } = mockedHandler();
    ddb.on(GetCommand, { Key: { pk: KEY } }).resolves({ Item: ACTIVE });
    ddb.on(TransactWriteCommand).resolves({});
    if (stopWorks) sfn.on(StopExecutionCommand).resolves({});
    else sfn.on(StopExecutionCommand).rejects(sfnDown());
    // WHEN it is cancelled
    expect((await handle(request('DELETE', `/api/v1/track/${ID}?tenant_id=tenant1`))).statusCode).toBe(200);
    // THEN
    expect(counted).toEqual(stopWorks ? [ServiceEvent.ExecutionStopped] : []);
  });

  test('the finalizer counts what it recorded, not the events that found the task already ended', async () => {
    // GIVEN a TIMED_OUT event for an active task, and the same event once the task has ended
    const event = {
      detail: {
        executionArn: 'arn',
        status: 'TIMED_OUT',
        input: JSON.stringify({
          task_id: ID,
          tenant_id: 'tenant1',
          video_filename: 'test.mp4',
          created_at: ACTIVE.created_at,
          retain_until: 1,
          task_key: KEY,
        }),
      },
    };
    const active = mockedHandler();
    active.ddb.on(GetCommand, { Key: { pk: KEY } }).resolves({ Item: ACTIVE });
    active.ddb.on(TransactWriteCommand).resolves({});
    // WHEN the finalizer handles it while the task is active
    expect(await finalizeExecution(active.service.recovery, event)).toMatchObject({ outcome: 'finalized' });
    // THEN its write is counted
    expect(active.counted).toEqual([ServiceEvent.FinalizerRecorded]);

    // WHEN it handles it again once the task has ended
    const ended = mockedHandler();
    ended.ddb.on(GetCommand, { Key: { pk: KEY } }).resolves({});
    ended.ddb
      .on(GetCommand, { Key: { pk: `TASK#${ID}` } })
      .resolves({ Item: { ...ACTIVE, pk: `TASK#${ID}`, item_type: 'final', status: 'failed' } });
    const ignored = await finalizeExecution(ended.service.recovery, event);
    // THEN nothing is counted by the core, and the ignored outcome still names its task, for the log line
    expect(ended.counted).toEqual([]);
    expect(ignored).toEqual({ outcome: 'ignored', reason: 'the task is no longer active', taskId: ID });
  });
});
