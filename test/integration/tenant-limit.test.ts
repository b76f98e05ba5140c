import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import type { TenantCount } from '../../lambda/core/ports';
import { type ActiveTask, TaskStatus } from '../../lambda/core/task';
import { SILENT_LOG } from '../../lambda/core/task-recovery';
import { TenantTally, reconcileTenantCounts } from '../../lambda/core/tenant-counts';
import { buildTrackHandler } from '../../lambda/track/index';
import { tenantCounterKey } from '../../lambda/shared/table';
import { type LocalApi, startLocalApi } from '../../local/api-gateway/local-api';
import { clearFaults, injectFault, withFaultInjection } from '../../local/local-only/fault-injection';
import {
  call,
  doc,
  eventually,
  executionsOf,
  holdExecutions,
  injectStateFault,
  itemsOf,
  localStore as store,
  pool,
  releaseExecutions,
  taskReaches,
  uniqueTenant,
  present,
} from './support';

// The limit is decided by DynamoDB Local's conditional increment, not by a mock: an API front end of its own runs the
// handler with TENANT_ACTIVE_TASK_LIMIT=5, on the shared table and state machine.
const LIMIT = 5;
let api: LocalApi;

beforeAll(async () => {
  const handler = buildTrackHandler(
    { ...process.env, TENANT_ACTIVE_TASK_LIMIT: String(LIMIT) },
    { wrapClient: withFaultInjection },
  );
  api = await startLocalApi({ auth: 'none', port: 0, handler, log: () => undefined });
});
afterAll(async () => api.close());

const post = (tenant: string, video: string) =>
  call('POST', `${api.url}/api/v1/track`, { tenant_id: tenant, video_filename: video });
const cancel = (tenant: string, id: string) => call('DELETE', `${api.url}/api/v1/track/${id}?tenant_id=${tenant}`);

async function counter(tenant: string): Promise<Record<string, any> | undefined> {
  return (
    await doc.send(
      new GetCommand({
        TableName: process.env.TABLE_NAME!,
        Key: { pk: tenantCounterKey(tenant) },
        ConsistentRead: true,
      }),
    )
  ).Item;
}

/** The tenant's count, once it equals its active items (the invariant); returns it. */
async function countMatchesActive(tenant: string, expected: number): Promise<void> {
  await eventually(
    async () => {
      const active = (await itemsOf(tenant)).filter((i) => i.item_type === 'active').length;
      return active === expected && (await counter(tenant))?.active_count === expected ? true : undefined;
    },
    30_000,
    `${tenant}: ${expected} active tasks, counted`,
  );
}

describe('per-tenant active-task limit against DynamoDB Local', () => {
  test('50 concurrent POSTs of distinct videos with a limit of 5: exactly 5 tasks; the rest 429, recorded refused and unlisted', async () => {
    const tenant = uniqueTenant('burst');
    await holdExecutions(tenant);
    try {
      const videos = Array.from({ length: 50 }, (_, i) => `video-${i}.mp4`);
      const answers = await pool(videos, 50, (video) => post(tenant, video).then((a) => ({ video, ...a })));

      const created = answers.filter((a) => a.status === 201);
      const refused = answers.filter((a) => a.status === 429);
      expect(created).toHaveLength(LIMIT);
      expect(refused).toHaveLength(50 - LIMIT);
      for (const a of refused) {
        expect(a.headers.get('content-type')).toBe('application/problem+json');
        expect(a.body).toMatchObject({
          type: '/problems/tenant-quota-exceeded',
          status: 429,
          limit: LIMIT,
          active_count: LIMIT,
        });
      }
      const items = await itemsOf(tenant);
      expect(
        items
          .filter((i) => i.item_type === 'active')
          .map((i) => i.task_id)
          .sort(),
      ).toEqual(created.map((a) => a.body.task_id).sort());
      // Each refused claim is recorded failed (its id, if a racing answer handed it out, resolves), unlisted.
      const finals = items.filter((i) => i.item_type === 'final');
      expect(finals).toHaveLength(50 - LIMIT);
      for (const f of finals) {
        expect(f).toMatchObject({ status: 'failed', error: { error: 'TenantQuotaExceeded' } });
        expect(f).not.toHaveProperty('created_at');
      }
      const listed = await call('GET', `${api.url}/api/v1/track?tenant_id=${tenant}&limit=100`);
      expect(listed.body.tasks.map((t: { task_id: string }) => t.task_id).sort()).toEqual(
        created.map((a) => a.body.task_id).sort(),
      );
      expect(await executionsOf(tenant)).toHaveLength(LIMIT);
      expect(await counter(tenant)).toMatchObject({ active_count: LIMIT, version: LIMIT });

      // Duplicates of the active tasks are answered as before, at the limit; another tenant is unaffected.
      for (const a of created)
        expect(await post(tenant, a.video)).toMatchObject({ status: 200, body: { task_id: a.body.task_id } });
      const other = uniqueTenant('other');
      await holdExecutions(other);
      expect((await post(other, 'video-0.mp4')).status).toBe(201);
      await releaseExecutions(other);
      expect(await counter(tenant)).toMatchObject({ active_count: LIMIT, version: LIMIT });
    } finally {
      await releaseExecutions(tenant);
    }
    // Every task completes and gives its slot back; a refused video can be analysed now.
    await countMatchesActive(tenant, 0);
    expect((await post(tenant, 'video-49.mp4')).status).toBe(201);
  }, 90_000);

  test('exactly one slot back per ended task: completed (its finish retried after faults), failed, cancelled', async () => {
    const tenant = uniqueTenant('ends');
    await holdExecutions(tenant);
    // The workflow's MarkCompleted is cancelled twice and retried: its slot is still given back once.
    await injectStateFault(tenant, 'MarkCompleted', 'DynamoDb.TransactionCanceledException', 2);
    const ids: Record<string, string> = {};
    for (const video of ['completed.mp4', 'fail-analysis.mp4', 'cancelled.mp4']) {
      const created = await post(tenant, video);
      expect(created.status).toBe(201);
      ids[video] = created.body.task_id;
    }
    await countMatchesActive(tenant, 3);

    expect((await cancel(tenant, present(ids['cancelled.mp4'], 'the cancelled task'))).body.status).toBe('cancelled');
    await countMatchesActive(tenant, 2);
    await releaseExecutions(tenant);

    await taskReaches(tenant, present(ids['completed.mp4'], 'the completed task'), 'completed', 30_000);
    await taskReaches(tenant, present(ids['fail-analysis.mp4'], 'the failing task'), 'failed', 30_000);
    await countMatchesActive(tenant, 0);
    // Version: three increments, three ends.
    expect(await counter(tenant)).toMatchObject({ active_count: 0, version: 6 });
  }, 90_000);

  test('the finalizer: MarkFailed failing past its retries, the execution fails and the finalizer gives the slot back', async () => {
    const tenant = uniqueTenant('finalizer');
    // Not a throttle or a 5xx (those are retried until the timeout): MarkFailed fails past its retries.
    await injectStateFault(tenant, 'MarkFailed', 'DynamoDb.ValidationException', 10);
    const created = await post(tenant, 'fail-finalizer.mp4');
    expect(created.status).toBe(201);
    const failed = await taskReaches(tenant, created.body.task_id, 'failed', 40_000);
    // Recorded by the finalizer, not by MarkFailed (which would have stored AnalysisRejected).
    expect(failed.error.error).not.toBe('AnalysisRejected');
    await countMatchesActive(tenant, 0);
    expect(await counter(tenant)).toMatchObject({ active_count: 0, version: 2 });
  }, 60_000);

  test('a fault on the admission: 503 past the grace period, the claim left pending, nothing started or counted', async () => {
    const tenant = uniqueTenant('incr-fault');
    await holdExecutions(tenant);
    try {
      injectFault({
        command: 'TransactWriteItemsCommand',
        error: 'ProvisionedThroughputExceededException',
        match: tenantCounterKey(tenant),
        times: 10,
      });
      const failed = await post(tenant, 'a.mp4');
      clearFaults(tenant);
      expect(failed.status).toBe(503);
      expect(Number(failed.headers.get('retry-after'))).toBeGreaterThan(
        Number(process.env.REDRIVE_GRACE_SECONDS ?? 10),
      );
      const items = await itemsOf(tenant);
      expect(items.map((i) => [i.item_type, i.status, i.admission])).toEqual([['active', 'not_started', 'pending']]);
      expect(await executionsOf(tenant)).toHaveLength(0);
      expect((await counter(tenant))?.active_count ?? 0).toBe(0);

      // A retry within the grace period is told it is in progress, with the same id (a re-drive decides it later).
      expect(await post(tenant, 'a.mp4')).toMatchObject({ status: 200, body: { task_id: items[0]?.task_id } });
    } finally {
      clearFaults(tenant);
      await releaseExecutions(tenant);
    }
  }, 60_000);

  test('lease takeover: the replaced task ends and the new one keeps its slot (one transaction, net 0)', async () => {
    const tenant = uniqueTenant('takeover');
    const now = new Date();
    const epoch = Math.floor(now.getTime() / 1000);
    const task = (leaseExpiresAt: number, createdAt: string): ActiveTask => ({
      taskId: randomUUID(),
      tenantId: tenant,
      videoFilename: 'a.mp4',
      status: TaskStatus.NotStarted,
      createdAt,
      updatedAt: createdAt,
      leaseExpiresAt,
      retainUntil: epoch + 86400,
    });
    const expired = task(epoch - 1, new Date(now.getTime() - 3_600_000).toISOString());
    await store.claim({ ...expired, admissionPending: true }, epoch + 86400);
    await store.admit(expired, store.keyOf(tenant, 'a.mp4'), LIMIT, expired.createdAt);

    const claim = await store.claim(task(epoch + 3900, now.toISOString()), epoch + 86400);

    expect(claim).toMatchObject({ won: true, replaced: { taskId: expired.taskId } });
    expect(await counter(tenant)).toMatchObject({ active_count: 1, version: 2 });
    const items = await itemsOf(tenant);
    expect(items.filter((i) => i.item_type === 'final').map((i) => [i.task_id, i.error.error])).toEqual([
      [expired.taskId, 'LeaseExpired'],
    ]);
  });

  test('the sweep reconciles a drifted count: set to the active tasks once the counter has been quiet past the grace period', async () => {
    const tenant = uniqueTenant('drift');
    await holdExecutions(tenant);
    try {
      await post(tenant, 'a.mp4');
      await post(tenant, 'b.mp4');
      // Drift as a lost answer to an increment leaves it: counted more than active, last written long ago.
      const seen = (await counter(tenant))!;
      await doc.send(
        new UpdateCommand({
          TableName: process.env.TABLE_NAME!,
          Key: { pk: tenantCounterKey(tenant) },
          UpdateExpression: 'SET active_count = :n, updated_at = :old, taken_at = :old',
          ExpressionAttributeValues: { ':n': 4, ':old': '2000-01-01T00:00:00.000Z' },
        }),
      );
      await new Promise((r) => setTimeout(r, 1500));
      const cutoff = new Date(Date.now() - 1000).toISOString();
      // The counters first, the tasks after, as the sweep reads them.
      const snapshot: TenantCount[] = [];
      for await (const page of store.tenantCounts()) snapshot.push(...page.filter((c) => c.tenantId === tenant));
      const tally = new TenantTally();
      for await (const page of store.activeCreatedBefore(cutoff)) tally.add(page.filter((t) => t.tenantId === tenant));

      const set = await reconcileTenantCounts(store, snapshot, tally, cutoff, new Date().toISOString(), {
        onSet: () => SILENT_LOG.info('', {}),
        onCounted: () => undefined,
      });

      expect(set).toBe(1);
      expect(await counter(tenant)).toMatchObject({ active_count: 2, version: seen.version + 1 });
    } finally {
      await releaseExecutions(tenant);
    }
    await countMatchesActive(tenant, 0);
  }, 60_000);

  test('without a limit (0): 20 concurrent new tasks are 20 x 201, each one PutItem and one StartExecution; neither they nor their cancel write a counter', async () => {
    const calls: string[] = [];
    const counting = <C extends { middlewareStack: { add: (...a: any[]) => void } }>(client: C): C => {
      client.middlewareStack.add(
        (next: any, context: any) => (args: any) => (calls.push(String(context.commandName)), next(args)),
        { step: 'initialize', name: 'countCallsNoLimit' },
      );
      return client;
    };
    const noLimit = await startLocalApi({
      auth: 'none',
      port: 0,
      handler: buildTrackHandler({ ...process.env, TENANT_ACTIVE_TASK_LIMIT: '0' }, { wrapClient: counting }),
      log: () => undefined,
    });
    const tenant = uniqueTenant('nolimit');
    await holdExecutions(tenant);
    try {
      const answers = await pool(
        Array.from({ length: 20 }, (_, i) => `v${i}.mp4`),
        20,
        (video) => call('POST', `${noLimit.url}/api/v1/track`, { tenant_id: tenant, video_filename: video }),
      );
      expect(answers.map((a) => a.status)).toEqual(Array(20).fill(201));
      expect(calls.sort()).toEqual([...Array(20).fill('PutItemCommand'), ...Array(20).fill('StartExecutionCommand')]);
      expect((await itemsOf(tenant)).filter((i) => i.item_type === 'active')).toHaveLength(20);
      // Every task cancelled before its execution runs, so no finishing step of the shared state machine (synthesized
      // with the default limit) touches this tenant either.
      const cancels = await pool(answers, 20, (a) =>
        call('DELETE', `${noLimit.url}/api/v1/track/${a.body.task_id}?tenant_id=${tenant}`),
      );
      expect(cancels.map((a) => a.status)).toEqual(Array(20).fill(200));
      expect((await itemsOf(tenant)).filter((i) => i.item_type === 'final')).toHaveLength(20);
      expect(await counter(tenant)).toBeUndefined();
    } finally {
      await releaseExecutions(tenant);
      await noLimit.close();
    }
  });
});
