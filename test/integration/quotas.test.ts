import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { buildTrackHandler } from '../../lambda/track/index';
import { tenantCounterKey } from '../../lambda/shared/table';
import { type LocalApi, startLocalApi } from '../../local/api-gateway/local-api';
import { clearFaults, type Fault, injectFault, withFaultInjection } from '../../local/local-only/fault-injection';
import {
  type Answer,
  call,
  doc,
  executionsOf,
  getTask,
  holdExecutions,
  itemsOf,
  releaseExecutions,
  taskReaches,
  uniqueTenant,
} from './support';

// Every quota or throttling error the API's calls can meet, injected into the handler's SDK clients (before the SDK's
// retries: one fault, one failed send) on front ends of this file's own: one without a tenant limit, one with
// TENANT_ACTIVE_TASK_LIMIT. A short grace period keeps the grace-based Retry-After (grace + 1 .. 2 × (grace + 1)) short.
const GRACE_SECONDS = 2;
const LIMIT = 5;
let plainApi: LocalApi;
let limitedApi: LocalApi;

const frontEnd = (env: Record<string, string>) =>
  startLocalApi({
    auth: 'none',
    port: 0,
    log: () => undefined,
    handler: buildTrackHandler(
      // The 503s are provoked on purpose: their error lines would only bury a failure's output.
      { ...process.env, REDRIVE_GRACE_SECONDS: String(GRACE_SECONDS), POWERTOOLS_LOG_LEVEL: 'SILENT', ...env },
      { wrapClient: withFaultInjection },
    ),
  });

beforeAll(async () => {
  plainApi = await frontEnd({ TENANT_ACTIVE_TASK_LIMIT: '0' });
  limitedApi = await frontEnd({ TENANT_ACTIVE_TASK_LIMIT: String(LIMIT) });
});
afterAll(async () => {
  await plainApi.close();
  await limitedApi.close();
});

// call() checks every answer against docs/openapi.yaml (status, headers, body).
const post = (api: LocalApi, tenant: string, video: string) =>
  call('POST', `${api.url}/api/v1/track`, { tenant_id: tenant, video_filename: video });
const cancel = (api: LocalApi, tenant: string, id: string) =>
  call('DELETE', `${api.url}/api/v1/track/${id}?tenant_id=${tenant}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A 503 service-unavailable whose Retry-After was drawn from base..2×base; returns the seconds. */
function unavailable(answer: Answer, base: number): number {
  expect(answer).toMatchObject({ status: 503, body: { type: '/problems/service-unavailable' } });
  const seconds = Number(answer.headers.get('retry-after'));
  expect(seconds).toBeGreaterThanOrEqual(base);
  expect(seconds).toBeLessThanOrEqual(2 * base);
  return seconds;
}

/** Waits what the answer asked for, as a client honouring Retry-After does. */
const honour = (seconds: number) => sleep(seconds * 1000);

async function activeCount(tenant: string): Promise<number> {
  const counter = await doc.send(
    new GetCommand({ TableName: process.env.TABLE_NAME!, Key: { pk: tenantCounterKey(tenant) }, ConsistentRead: true }),
  );
  return (counter.Item?.active_count as number | undefined) ?? 0;
}

describe('every quota ends in a 503 with a jittered Retry-After, and the retry after it succeeds', () => {
  afterEach(() => clearFaults());

  test.each([
    ['ExecutionLimitExceeded', 'the open executions quota (1,000,000)'],
    ['ThrottlingException', 'the StartExecution rate'],
  ])(
    'StartExecution %s (%s): compensated, 503, the slot given back; the retry starts it',
    async (error) => {
      const tenant = uniqueTenant('sfn-quota');
      injectFault({ command: 'StartExecutionCommand', error, match: tenant, times: 1 });

      const failed = await post(limitedApi, tenant, 'a.mp4');

      const wait = unavailable(failed, 2);
      // Nothing lost: the claim that could not start is recorded failed under its id, its video free, its slot back.
      const items = await itemsOf(tenant);
      const recorded = items.filter((i) => i.item_type !== 'tenant_counter');
      expect(recorded.map((i) => [i.item_type, i.status, i.error?.error])).toEqual([
        ['final', 'failed', 'WorkflowNotStarted'],
      ]);
      expect((await getTask(tenant, recorded[0]!.task_id)).body).toMatchObject({ status: 'failed' });
      expect(await activeCount(tenant)).toBe(0);

      await honour(wait);
      const retried = await post(limitedApi, tenant, 'a.mp4');
      expect(retried.status).toBe(201);
      await taskReaches(tenant, retried.body.task_id, 'completed');
      expect(await activeCount(tenant)).toBe(0);
    },
    60_000,
  );

  test('StartExecution ExecutionLimitExceeded without a tenant limit: compensated, 503; the retry starts it', async () => {
    const tenant = uniqueTenant('sfn-open');
    injectFault({ command: 'StartExecutionCommand', error: 'ExecutionLimitExceeded', match: tenant, times: 1 });

    const wait = unavailable(await post(plainApi, tenant, 'a.mp4'), 2);
    expect((await itemsOf(tenant)).map((i) => [i.item_type, i.status])).toEqual([['final', 'failed']]);

    await honour(wait);
    const retried = await post(plainApi, tenant, 'a.mp4');
    expect(retried.status).toBe(201);
    await taskReaches(tenant, retried.body.task_id, 'completed');
  }, 60_000);

  test.each(['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded'])(
    'the claim (PutItem) %s: 503, nothing written; the retry claims and runs it',
    async (error) => {
      const tenant = uniqueTenant('claim-quota');
      injectFault({ command: 'PutItemCommand', error, match: tenant, times: 1 });

      const wait = unavailable(await post(limitedApi, tenant, 'a.mp4'), 2);
      expect(await itemsOf(tenant)).toEqual([]);
      expect(await executionsOf(tenant)).toEqual([]);

      await honour(wait);
      const retried = await post(limitedApi, tenant, 'a.mp4');
      expect(retried.status).toBe(201);
      await taskReaches(tenant, retried.body.task_id, 'completed');
    },
    60_000,
  );

  test.each<[string, Pick<Fault, 'error' | 'reason'>]>([
    ['ThrottlingException', { error: 'ThrottlingException' }],
    ['cancelled for ThrottlingError', { error: 'TransactionCanceledException', reason: 'ThrottlingError' }],
  ])(
    'the admission (the counter transaction) %s: 503 past the grace period, the claim pending under its id; the retry after it runs the task',
    async (_what, fault) => {
      const tenant = uniqueTenant('admit-quota');
      const counterKey = tenantCounterKey(tenant);
      // Every call on the counter fails while the POST runs: its admission and any refusal stay undecided.
      injectFault({ command: 'TransactWriteItemsCommand', ...fault, match: counterKey, times: 10 });
      const failed = await post(limitedApi, tenant, 'a.mp4');
      clearFaults(counterKey);

      const wait = unavailable(failed, GRACE_SECONDS + 1);
      const [claim, ...others] = await itemsOf(tenant);
      expect(others).toEqual([]);
      expect(claim).toMatchObject({ item_type: 'active', status: 'not_started', admission: 'pending' });
      expect(await executionsOf(tenant)).toEqual([]);
      expect(await activeCount(tenant)).toBe(0);
      // An id handed out meanwhile (a duplicate within the grace period) resolves.
      const duplicate = await post(limitedApi, tenant, 'a.mp4');
      expect(duplicate).toMatchObject({ status: 200, body: { task_id: claim!.task_id } });
      expect((await getTask(tenant, claim!.task_id)).status).toBe(200);

      // After Retry-After the grace period is over: the retry re-drives the claim (admits, starts) and answers its id.
      await honour(wait);
      const retried = await post(limitedApi, tenant, 'a.mp4');
      expect(retried).toMatchObject({ status: 200, body: { task_id: claim!.task_id } });
      await taskReaches(tenant, claim!.task_id, 'completed');
      expect(await activeCount(tenant)).toBe(0);
    },
    60_000,
  );

  test.each<[string, Pick<Fault, 'error' | 'reason'>]>([
    ['ThrottlingException', { error: 'ThrottlingException' }],
    ['cancelled for ThrottlingError', { error: 'TransactionCanceledException', reason: 'ThrottlingError' }],
  ])(
    "the cancel's finish (TransactWriteItems) %s: 503, the task untouched; the retry after it cancels",
    async (_what, fault) => {
      const tenant = uniqueTenant('cancel-quota');
      await holdExecutions(tenant);
      try {
        const created = await post(limitedApi, tenant, 'a.mp4');
        expect(created.status).toBe(201);
        const id = created.body.task_id as string;
        expect(await activeCount(tenant)).toBe(1);
        injectFault({ command: 'TransactWriteItemsCommand', ...fault, match: tenant, times: 1 });

        const wait = unavailable(await cancel(limitedApi, tenant, id), 2);
        expect((await getTask(tenant, id)).body).toMatchObject({ task_id: id, status: 'not_started' });
        expect(await activeCount(tenant)).toBe(1);

        await honour(wait);
        expect(await cancel(limitedApi, tenant, id)).toMatchObject({ status: 200, body: { status: 'cancelled' } });
        expect(await activeCount(tenant)).toBe(0);
        // The video is free again.
        expect((await post(limitedApi, tenant, 'a.mp4')).status).toBe(201);
      } finally {
        await releaseExecutions(tenant);
      }
    },
    60_000,
  );
});
