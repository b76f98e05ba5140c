import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { createDocumentClient } from '../../lambda/adapters/dynamodb/table-client';
import { DynamoDbTaskStore } from '../../lambda/adapters/dynamodb/task-store';
import { injectFault, withFaultInjection } from '../../local/local-only/fault-injection';
import type { TaskStore } from '../../lambda/core/ports';
import { RepairSweep, type SweepReport } from '../../lambda/core/repair-sweep';
import { DEFAULT_TASK_SERVICE_CONFIG } from '../../lambda/core/task-service';
import { taskError } from '../../lambda/core/task-errors';
import {
  call,
  cancel,
  dropEndEvent,
  env,
  eventually,
  executionsOf,
  getTask,
  injectHandlerFault,
  injectStateFault,
  itemsOf,
  localControl,
  localStore as store,
  localWorkflow,
  localTaskService,
  post,
  sfn,
  strandedTask,
  taskReaches,
  uniqueTenant,
  withHangingStart,
} from './support';
import { TEST_KEYS } from '../support/stored-items';

const GRACE_SECONDS = 2;
const SWEEP_EVERY_MS = 1000;
const config = { ...DEFAULT_TASK_SERVICE_CONFIG, redriveGraceSeconds: GRACE_SECONDS };
const quiet = { info() {}, warn() {}, error() {} };

/**
 * The sweep as the sweeper Lambda runs it (same core, same adapters, DynamoDB Local and the local runner), every
 * second, but seeing only this tenant's tasks: other test files share the table and build stranded tasks on purpose.
 */
function sweepOf(
  tenant: string,
  listThreshold = 100,
): { stop: () => Promise<void>; repaired: string[]; reports: SweepReport[] } {
  const repaired: string[] = [];
  const reports: SweepReport[] = [];
  const sweep = scopedSweep(tenant, repaired, listThreshold);
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(async () => reports.push(await sweep.run()));
  }, SWEEP_EVERY_MS);
  return {
    repaired,
    reports,
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}

/** One sweeper instance that sees only this tenant's tasks; each repair outcome is pushed to `repaired`. */
function scopedSweep(tenant: string, repaired: string[], listThreshold = 100): RepairSweep {
  const scoped: TaskStore = Object.assign(Object.create(store) as DynamoDbTaskStore, {
    activeCreatedBefore: async function* (before: string) {
      for await (const page of store.activeCreatedBefore(before)) {
        const mine = page.filter((t) => t.tenantId === tenant);
        if (mine.length) yield mine;
      }
    },
    // Its tally holds this tenant's tasks only: it must not reconcile the counters of the other files' tenants.
    tenantCounts: async function* () {
      for await (const page of store.tenantCounts()) {
        const mine = page.filter((c) => c.tenantId === tenant);
        if (mine.length) yield mine;
      }
    },
  });
  const options = { graceSeconds: GRACE_SECONDS, maxTasks: 100, concurrency: 4, listThreshold };
  const { recovery } = localTaskService({ store: scoped, config, log: quiet });
  return new RepairSweep({ recovery, options, log: quiet, recordRepair: (o) => repaired.push(o) });
}

/** A creator that claimed the video and died right after its conditional put (its execution never started). */
const stranded = (tenant: string, video: string) =>
  strandedTask(localTaskService({ workflow: withHangingStart(localWorkflow), config }), tenant, video);

describe('repair with no client request', () => {
  test('a lost start: a task whose creator died after its claim is started by the sweep and completes, with no POST', async () => {
    const tenant = uniqueTenant('lost-start');
    // GIVEN a creator that died after its claim: not_started, no execution
    const active = await stranded(tenant, 'lost.mp4');
    expect(await executionsOf(tenant)).toHaveLength(0);
    const sweep = sweepOf(tenant);
    try {
      // WHEN nothing but the sweep runs (reads only)
      const started = Date.now();
      const done = await taskReaches(tenant, active.task_id, 'completed', 25_000);

      // THEN the same task was started under its own name and completed within grace + sweep interval + analysis
      expect(done.result).toBeDefined();
      expect((await executionsOf(tenant)).map((e) => e.name)).toEqual([active.task_id]);
      expect(Date.now() - started).toBeLessThan(25_000);
      expect(sweep.repaired).toEqual(['started']);
      expect((await post(tenant, 'lost.mp4')).status).toBe(201);
    } finally {
      await sweep.stop();
    }
  });

  test('a lost end: an execution that failed outside the Catch, its finalizer event lost, is recorded by the sweep', async () => {
    const tenant = uniqueTenant('lost-end');
    // GIVEN an execution that fails (the analysis rejects the video, MarkFailed cannot write) and whose end event
    // never reaches the finalizer (a write refused for good: a throttled one would be retried until the timeout)
    await dropEndEvent(tenant);
    await injectStateFault(tenant, 'Analyse', 'AnalysisRejected', 1);
    await injectStateFault(tenant, 'MarkFailed', 'DynamoDb.ValidationException', 4);
    const { body } = await post(tenant, 'end.mp4');
    const execution = await eventually(async () => {
      const [e] = await executionsOf(tenant);
      return e && e.status !== 'RUNNING' ? e : undefined;
    });
    expect(execution.status).toBe('FAILED');
    expect((await getTask(tenant, body.task_id)).body.status).toBe('running');

    // WHEN only the sweep runs
    const sweep = sweepOf(tenant);
    try {
      const ended = await taskReaches(tenant, body.task_id, 'failed', 10_000);

      // THEN the task ends failed with the execution's error, keeps its start, and its video is free
      expect(ended.error).toMatchObject({ error: 'DynamoDb.ValidationException' });
      expect(ended.started_at).toEqual(expect.any(String));
      // Repaired within the grace period plus a sweep interval of the execution's end (and some slack for the load).
      expect(Date.now() - execution.stopDate!.getTime()).toBeLessThan(10_000);
      expect(sweep.repaired).toEqual(['ended']);
      expect((await post(tenant, 'end.mp4')).status).toBe(201);
    } finally {
      await sweep.stop();
    }
  });
});

describe('overlapping sweeps (the sweeper has no reserved concurrency by default)', () => {
  test('two sweeps at once over the same lost starts: each task is re-driven once, one execution each, and completes', async () => {
    const tenant = uniqueTenant('overlap');
    // GIVEN four creators that died after their claims, past the grace period
    const videos = ['a.mp4', 'b.mp4', 'c.mp4', 'd.mp4'];
    for (const video of videos) await stranded(tenant, video);
    const actives = await eventually(async () => {
      const items = (await itemsOf(tenant)).filter((i) => i.item_type === 'active');
      return items.length === videos.length ? items : undefined;
    });
    await new Promise((resolve) => setTimeout(resolve, (GRACE_SECONDS + 0.5) * 1000));

    // WHEN two sweeper instances run at the same moment (a minute's tick while the previous run is still going)
    const first: string[] = [];
    const second: string[] = [];
    const reports = await Promise.all([scopedSweep(tenant, first).run(), scopedSweep(tenant, second).run()]);

    // THEN each task was started by exactly one of them (the re-drive's conditional lease), the other left it alone
    expect([...first, ...second].filter((o) => o === 'started')).toHaveLength(videos.length);
    expect(reports[0].started + reports[1].started).toBe(videos.length);
    for (const active of actives) await taskReaches(tenant, active.task_id, 'completed', 25_000);
    expect((await executionsOf(tenant)).map((e) => e.name).sort()).toEqual(actives.map((a) => a.task_id).sort());
  });
});

describe('repair with many due tasks: one pass over the running executions, then describe only the missing', () => {
  test('more due tasks than the threshold: a lost start and a lost end among live tasks are repaired with no request, the live ones left alone', async () => {
    const tenant = uniqueTenant('many-due');
    const liveVideos = [0, 1, 2].map((i) => `live-${i}-${tenant}.mp4`);
    // GIVEN a lost start: a creator that died after its claim
    const lostStart = (await stranded(tenant, 'lost.mp4')).task_id;
    // AND a lost end: an execution that failed outside the Catch, its end event lost
    await dropEndEvent(tenant);
    await injectStateFault(tenant, 'Analyse', 'AnalysisRejected', 1);
    await injectStateFault(tenant, 'MarkFailed', 'DynamoDb.ValidationException', 4);
    const lostEnd = (await post(tenant, 'end.mp4')).body.task_id;
    await eventually(async () => {
      const [e] = await executionsOf(tenant);
      return e && e.status !== 'RUNNING' ? e : undefined;
    });
    // AND three live tasks whose executions stay RUNNING (held before their first state)
    for (const video of liveVideos) await localControl('LocalHold', { field: 'video_filename', value: video });
    const live: string[] = [];
    try {
      for (const video of liveVideos) live.push((await post(tenant, video)).body.task_id);
      await new Promise((resolve) => setTimeout(resolve, GRACE_SECONDS * 1000 + 100));

      // WHEN only the sweep runs, with a threshold of 2 due tasks (all 5 are due)
      const sweep = sweepOf(tenant, 2);
      try {
        const started = await taskReaches(tenant, lostStart, 'completed', 25_000);
        const ended = await taskReaches(tenant, lostEnd, 'failed', 25_000);

        // THEN both were repaired by runs that listed the running executions first
        expect(started.result).toBeDefined();
        expect(ended.error).toMatchObject({ error: 'DynamoDb.ValidationException' });
        expect(sweep.repaired.sort()).toEqual(['ended', 'started']);
        expect(sweep.reports[0]).toMatchObject({ candidates: 5 });
        const repairing = sweep.reports.filter((r) => r.started + r.ended > 0);
        expect(repairing.length).toBeGreaterThan(0);
        for (const r of repairing) {
          expect(r.listed).toBeGreaterThanOrEqual(3);
          // AND the three live tasks were filtered out by the list, not described
          expect(r.skipped).toBeGreaterThanOrEqual(3);
        }
        // AND the live tasks are untouched, their executions still running
        for (const id of live) expect((await getTask(tenant, id)).body.status).toBe('not_started');
        const executions = await executionsOf(tenant);
        expect(executions.filter((e) => live.includes(e.name!)).map((e) => e.status)).toEqual([
          'RUNNING',
          'RUNNING',
          'RUNNING',
        ]);
      } finally {
        await sweep.stop();
      }
    } finally {
      for (const video of liveVideos) await localControl('LocalRelease', { field: 'video_filename', value: video });
    }
  }, 60_000);

  test('the local ListExecutions pages like the service: maxResults a page, nextToken to the end, each execution once', async () => {
    // GIVEN three executions held RUNNING
    const tenant = uniqueTenant('list-pages');
    await localControl('LocalHold', { field: 'tenant_id', value: tenant });
    try {
      const ids = [];
      for (const video of ['a.mp4', 'b.mp4', 'c.mp4']) ids.push((await post(tenant, video)).body.task_id);

      // WHEN the running executions are listed one a page
      const names: string[] = [];
      let nextToken: string | undefined;
      let pages = 0;
      do {
        const page = await sfn.send(
          new ListExecutionsCommand({
            stateMachineArn: env.stateMachineArn,
            statusFilter: 'RUNNING',
            maxResults: 1,
            nextToken,
          }),
        );
        expect(page.executions!.length).toBeLessThanOrEqual(1);
        names.push(...page.executions!.map((e) => e.name!));
        nextToken = page.nextToken;
        pages++;
      } while (nextToken);

      // THEN every page held one, no execution came twice, and this tenant's three were among them
      expect(pages).toBeGreaterThanOrEqual(3);
      expect(new Set(names).size).toBe(names.length);
      expect(names).toEqual(expect.arrayContaining(ids));
      // AND the service's limits hold: at most 1,000 a page, a token only for the listing it came from
      await expect(
        sfn.send(new ListExecutionsCommand({ stateMachineArn: env.stateMachineArn, maxResults: 1001 })),
      ).rejects.toMatchObject({ name: 'ValidationException' });
      await expect(
        sfn.send(new ListExecutionsCommand({ stateMachineArn: env.stateMachineArn, nextToken: 'not-a-token' })),
      ).rejects.toMatchObject({ name: 'InvalidToken' });
    } finally {
      await localControl('LocalRelease', { field: 'tenant_id', value: tenant });
    }
  });
});

describe('conflicts, injected (DynamoDB Local never produces them)', () => {
  test('the claim retries a TransactionConflict with backoff, then creates the task', async () => {
    const tenant = uniqueTenant('claim-conflict');
    await injectHandlerFault(tenant, 'PutItemCommand', 'TransactionConflictException', 2);
    const res = await post(tenant, 'c.mp4');
    expect(res.status).toBe(201);
    await taskReaches(tenant, res.body.task_id, 'completed');
  });

  test('a claim that keeps conflicting answers 503 with Retry-After and writes nothing', async () => {
    const tenant = uniqueTenant('claim-503');
    await injectHandlerFault(tenant, 'PutItemCommand', 'TransactionConflictException', 4);
    const res = await post(tenant, 'c.mp4');
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toMatch(/^[234]$/);
    expect(await itemsOf(tenant)).toEqual([]);
    expect((await post(tenant, 'c.mp4')).status).toBe(201);
  });

  test('a StartExecution that fails and a compensation that conflicts: 503 whose Retry-After outlasts the grace; the retry re-drives the same task', async () => {
    const tenant = uniqueTenant('retry-after');
    await injectHandlerFault(tenant, 'StartExecutionCommand', 'ServiceUnavailable', 1);
    // The compensation's transaction only (its final record of this task), not the admission before it.
    await localControl('LocalInjectFault', {
      command: 'TransactWriteItemsCommand',
      error: 'TransactionCanceledException',
      match: `"tenant_id":"${tenant}","video_filename":"r.mp4","status":"failed"`,
      times: 1,
    });
    const res = await post(tenant, 'r.mp4');
    expect(res.status).toBe(503);
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(Number(process.env.REDRIVE_GRACE_SECONDS ?? 10));
    const [active] = (await itemsOf(tenant)).filter((i) => i.item_type === 'active');
    expect(active?.status).toBe('not_started');
  });

  test('cancel: a conflicting transaction is read again and retried; three in a row answer 503 and the task is intact', async () => {
    const tenant = uniqueTenant('cancel-conflict');
    const { body } = await post(tenant, 'k.mp4');
    await taskReaches(tenant, body.task_id, 'running');

    await injectHandlerFault(tenant, 'TransactWriteItemsCommand', 'TransactionCanceledException', 3);
    const refused = await cancel(tenant, body.task_id);
    expect(refused.status).toBe(503);
    expect((await getTask(tenant, body.task_id)).body.status).toBe('running');

    await injectHandlerFault(tenant, 'TransactWriteItemsCommand', 'TransactionCanceledException', 1);
    const cancelled = await cancel(tenant, body.task_id);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');
  });

  test('MarkCompleted cancelled by conflicts past its retries: the result is not lost, it is written again', async () => {
    const tenant = uniqueTenant('complete-conflict');
    // The first attempt and its three retries conflict; the workflow checks the task, waits and writes again.
    await injectStateFault(tenant, 'MarkCompleted', 'DynamoDb.TransactionCanceledException', 4);
    const { body } = await post(tenant, 'm.mp4');
    const done = await eventually(async () => {
      const t = (await getTask(tenant, body.task_id)).body;
      // Readable at once: the first reads may still see it not_started.
      return ['not_started', 'running'].includes(t.status) ? undefined : t;
    }, 50_000);
    expect(done.status).toBe('completed');
    expect(done.result).toMatchObject({ video_filename: 'm.mp4' });
  }, 60_000);

  test('the finalizer retries after a conflicting transaction and records the end once', async () => {
    const tenant = uniqueTenant('finalizer-conflict');
    const faulty = new DynamoDbTaskStore(
      createDocumentClient(withFaultInjection(new DynamoDBClient({ endpoint: env.dynamoDbEndpoint }))),
      env.tableName,
      TEST_KEYS,
    );
    const { recovery } = localTaskService({ store: faulty, config, log: quiet });
    const { body } = await post(tenant, 'f.mp4');
    const found = await eventually(async () => {
      const f = await store.getById(tenant, body.task_id);
      return f?.task.status === 'running' ? f : undefined;
    });
    injectFault({
      command: 'TransactWriteItemsCommand',
      error: 'TransactionCanceledException',
      match: tenant,
      times: 1,
    });

    const ended = await recovery.finalizeExecution(
      { ...(found.task as any), taskKey: found.taskKey! },
      'failed',
      taskError('States.Timeout'),
    );

    expect(ended?.status).toBe('failed');
    expect((await getTask(tenant, body.task_id)).body.error).toMatchObject({ error: 'States.Timeout' });
  });
});

describe('request bodies', () => {
  test('a body that is not valid UTF-8 is refused with 400, and nothing is written', async () => {
    const tenant = uniqueTenant('utf8');
    const bytes = Buffer.concat([
      Buffer.from(`{"tenant_id":"${tenant}","video_filename":"caf`),
      Buffer.from([0xe9]),
      Buffer.from('.mp4"}'),
    ]);

    const res = await call('POST', '/api/v1/track', new Uint8Array(bytes));

    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ type: '/problems/invalid-request', detail: expect.stringMatching(/UTF-8/) });
    expect(await itemsOf(tenant)).toEqual([]);
  });

  test('valid UTF-8 names are kept exactly', async () => {
    const tenant = uniqueTenant('utf8-ok');
    const res = await call(
      'POST',
      '/api/v1/track',
      new Uint8Array(Buffer.from(JSON.stringify({ tenant_id: tenant, video_filename: 'café 🎬.mp4' }), 'utf8')),
    );
    expect(res.status).toBe(201);
    expect(res.body.video_filename).toBe('café 🎬.mp4');
  });
});
