import { SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { executionArn } from '../../lambda/adapters/sfn-workflow';
import { DependencyUnavailable, WorkflowAlreadyStarted } from '../../lambda/core/errors';
import type { TaskStore, Workflow } from '../../lambda/core/ports';
import { type ActiveTask, TaskStatus } from '../../lambda/core/task';
import { DEFAULT_TASK_SERVICE_CONFIG } from '../../lambda/core/task-service';
import { finalizeExecution } from '../../lambda/finalizer/finalizer';
import {
  cancel,
  doc,
  env,
  eventually,
  executionsOf,
  getActive,
  getTask,
  holdExecutions,
  itemsOf,
  localStore as store,
  localTaskService,
  localWorkflow as workflow,
  post,
  releaseExecutions,
  strandedTask,
  taskReaches,
  uniqueTenant,
  withHangingStart,
  present,
} from './support';
import { newTestId, TEST_KEYS } from '../support/stored-items';
import { storageKeyOf } from '../../lambda/core/storage-key';

const serviceWith = (wf: Workflow = workflow, clock = { now: () => new Date() }, taskStore: TaskStore = store) =>
  localTaskService({
    store: taskStore,
    workflow: wf,
    clock,
    config: { ...DEFAULT_TASK_SERVICE_CONFIG, redriveGraceSeconds: 10 },
  });

const statusOf = async (tenant: string, id: string) => (await getTask(tenant, id)).body.status as string;

/** A creator that claimed the video at `createdAt` and died right after its conditional put; its active item. */
const stranded = (tenant: string, video: string, createdAt = new Date()) =>
  strandedTask(serviceWith(withHangingStart(workflow), { now: () => createdAt }), tenant, video);

describe('reads', () => {
  test('a task is readable by id right after the POST that created it, and by every duplicate caller', async () => {
    const tenant = uniqueTenant('read');
    await holdExecutions(tenant);
    try {
      const answers = await Promise.all(Array.from({ length: 20 }, () => post(tenant, 'r.mp4')));
      const reads = await Promise.all(answers.map((a) => getTask(tenant, a.body.task_id)));
      for (const r of reads) expect(r.status).toBe(200);
      expect(reads[0]?.body).toMatchObject({ tenant_id: tenant, video_filename: 'r.mp4', status: 'not_started' });
    } finally {
      await releaseExecutions(tenant);
    }
  });

  test('GET by video answers the active task, then 404 once it finished; the filename is normalised like POST', async () => {
    const tenant = uniqueTenant('by-video');
    const created = await post(tenant, 'cafe\u0301.mp4');
    const active = await getActive(tenant, 'caf\u00e9.mp4');
    expect(active.status).toBe(200);
    expect(active.body.task_id).toBe(created.body.task_id);
    await taskReaches(tenant, created.body.task_id, 'completed');
    const none = await getActive(tenant, 'caf\u00e9.mp4');
    expect(none.status).toBe(404);
    expect(none.headers.get('content-type')).toBe('application/problem+json');
  });

  test('another tenant gets 404 for read and cancel, exactly as an unknown or malformed id', async () => {
    const tenant = uniqueTenant('owner');
    const other = uniqueTenant('other');
    await holdExecutions(tenant);
    try {
      const { body } = await post(tenant, 'mine.mp4');
      expect((await getTask(other, body.task_id)).status).toBe(404);
      expect((await cancel(other, body.task_id)).status).toBe(404);
      expect((await getTask(tenant, newTestId(tenant, 'never-posted.mp4'))).status).toBe(404);
      expect((await getTask(tenant, 'not-an-id')).status).toBe(404);
      expect((await getTask(tenant, '5f0c3a52-8d0e-4c4b-a0f7-0e6f0d6f7b11')).status).toBe(404);
      expect((await cancel(tenant, newTestId(tenant, 'mine.mp4'))).status).toBe(404);
      // The other tenant's attempt changed nothing.
      expect(await statusOf(tenant, body.task_id)).toBe('not_started');
    } finally {
      await releaseExecutions(tenant);
    }
  });
});

describe('cancel', () => {
  test('cancels a running task, aborts its execution and frees the video; repeating answers the same', async () => {
    const tenant = uniqueTenant('cancel');
    const { body } = await post(tenant, 'c.mp4');
    await taskReaches(tenant, body.task_id, 'running');

    const res = await cancel(tenant, body.task_id);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ task_id: body.task_id, status: 'cancelled', finished_at: expect.any(String) });

    await eventually(
      async () => ((await executionsOf(tenant))[0]?.status === 'ABORTED' ? true : undefined),
      10_000,
      'ABORTED',
    );
    const again = await cancel(tenant, body.task_id);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(res.body);
    expect((await post(tenant, 'c.mp4')).status).toBe(201);
  });

  test('a finished task cannot be cancelled: 409 with its status', async () => {
    const tenant = uniqueTenant('done');
    const { body } = await post(tenant, 'd.mp4');
    await taskReaches(tenant, body.task_id, 'completed');
    const res = await cancel(tenant, body.task_id);
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({
      type: '/problems/task-finished',
      task_id: body.task_id,
      task_status: 'completed',
    });
  });

  test('cancel racing completion: one of them wins, the other changes nothing', async () => {
    const tenant = uniqueTenant('race-cancel');
    const delay = Number(process.env.ANALYSIS_DELAY_MS);
    const outcomes = await Promise.all(
      [-150, -50, 0, 50, 150].map(async (offset, i) => {
        const { body } = await post(tenant, `race-${i}.mp4`);
        await taskReaches(tenant, body.task_id, 'running');
        await new Promise((r) => setTimeout(r, delay + offset));
        const res = await cancel(tenant, body.task_id);
        const final = await eventually(async () => {
          const s = await statusOf(tenant, body.task_id);
          return s === 'completed' || s === 'cancelled' ? s : undefined;
        });
        return { id: body.task_id, cancelStatus: res.status, final };
      }),
    );
    for (const o of outcomes)
      expect(o.cancelStatus === 200 ? 'cancelled' : o.cancelStatus === 409 ? 'completed' : 'unexpected').toBe(o.final);
    // Whatever the interleaving: one final record per task, no active item left, and it stays final.
    await eventually(async () =>
      (await executionsOf(tenant)).every((e) => e.status !== 'RUNNING') ? true : undefined,
    );
    const items = await itemsOf(tenant);
    expect(items.filter((i) => i.item_type === 'active')).toHaveLength(0);
    for (const o of outcomes)
      expect(items.find((i) => i.pk === `TASK#${o.id}`)).toMatchObject({ item_type: 'final', status: o.final });
  });
});

describe('never blocked for good', () => {
  test('StartExecution failing: the task is failed and the video freed at once', async () => {
    const tenant = uniqueTenant('start-fails');
    const failing: Workflow = {
      start: () => Promise.reject(new DependencyUnavailable('stepfunctions', 'StartExecution')),
      stop: () => Promise.resolve(),
      describe: () => Promise.resolve({ status: 'none' }),
      running: async function* () {},
    };
    await expect(serviceWith(failing).track({ tenantId: tenant, videoFilename: 'f.mp4' })).rejects.toBeInstanceOf(
      DependencyUnavailable,
    );
    const [record] = (await itemsOf(tenant)).filter((i) => i.item_type === 'final');
    expect(record).toMatchObject({ status: 'failed', error: { error: 'WorkflowNotStarted' } });
    expect((await post(tenant, 'f.mp4')).status).toBe(201);
  });

  test('a crash between the put and its start: the task is readable at once, and the first POST after the grace period starts the same execution', async () => {
    const tenant = uniqueTenant('crash');
    // GIVEN a creator that claimed the video 11 s ago and died right after the conditional put.
    const past = new Date(Date.now() - 11_000);
    const active = await stranded(tenant, 'crash.mp4', past);
    expect((await getTask(tenant, active.task_id)).body).toMatchObject({
      task_id: active.task_id,
      status: 'not_started',
    });
    expect(await executionsOf(tenant)).toHaveLength(0);

    // WHEN a POST for that video arrives
    const res = await post(tenant, 'crash.mp4');

    // THEN it answers the stranded task and starts its execution, named after it
    expect(res.status).toBe(200);
    expect(res.body.task_id).toBe(active.task_id);
    expect((await getTask(tenant, active.task_id)).status).toBe(200);
    expect((await executionsOf(tenant)).map((e) => e.name)).toEqual([active.task_id]);
    await taskReaches(tenant, active.task_id, 'completed');
    // A late duplicate of the original start is refused by name: the execution ran once.
    const late = {
      taskId: active.task_id,
      tenantId: tenant,
      videoFilename: 'crash.mp4',
      createdAt: past.toISOString(),
      retainUntil: active.retain_until,
      taskKey: active.pk,
      storageKey: storageKeyOf(tenant, 'crash.mp4'),
    };
    await expect(workflow.start(late)).rejects.toBeInstanceOf(WorkflowAlreadyStarted);
  });

  test('a not_started task whose execution has already ended is recorded failed and the video claimed anew', async () => {
    const tenant = uniqueTenant('dead');
    // GIVEN a task stranded 11 s ago whose execution name is taken by an execution that has ended
    const past = new Date(Date.now() - 11_000);
    const active = await stranded(tenant, 'dead.mp4', past);
    await workflow.start({
      taskId: active.task_id,
      tenantId: tenant,
      videoFilename: 'dead.mp4',
      createdAt: active.created_at,
      retainUntil: active.retain_until,
      taskKey: 'ACTIVE#elsewhere',
      storageKey: storageKeyOf(tenant, 'dead.mp4'),
    });
    await eventually(async () => ((await executionsOf(tenant))[0]?.status === 'SUCCEEDED' ? true : undefined));

    // WHEN the next POST re-drives it and Step Functions refuses the name
    const res = await post(tenant, 'dead.mp4');

    // THEN the dead task is failed and the POST gets a new task
    expect(res.status).toBe(201);
    expect(res.body.task_id).not.toBe(active.task_id);
    expect((await getTask(tenant, active.task_id)).body).toMatchObject({
      status: 'failed',
      error: { error: 'ExecutionEnded' },
    });
  });

  test('a duplicate answered before the creator started the execution can read the task at once', async () => {
    const tenant = uniqueTenant('early-dup');
    // GIVEN a creator stalled between its conditional put and its StartExecution
    await stranded(tenant, 'early.mp4');

    // WHEN a duplicate POST is answered and its caller reads the id
    const dup = await post(tenant, 'early.mp4');
    const read = await getTask(tenant, dup.body.task_id);

    // THEN
    expect(dup.status).toBe(200);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ task_id: dup.body.task_id, status: 'not_started' });
  });

  test('lease of last resort: an active task past its lease no longer blocks a POST and is recorded failed', async () => {
    const tenant = uniqueTenant('lease');
    const old = newTestId(tenant, 'stuck.mp4');
    const long = new Date(Date.now() - 2 * 3600_000).toISOString();
    const stale: ActiveTask = {
      taskId: old,
      tenantId: tenant,
      videoFilename: 'stuck.mp4',
      status: TaskStatus.Running,
      createdAt: long,
      updatedAt: long,
      leaseExpiresAt: Math.floor(Date.now() / 1000) - 60,
      retainUntil: Math.floor(Date.now() / 1000) + 86400,
    };
    await doc.send(
      new PutCommand({
        TableName: env.tableName,
        Item: {
          pk: TEST_KEYS.activeKey(tenant, 'stuck.mp4'),
          item_type: 'active',
          task_id: old,
          tenant_id: tenant,
          video_filename: 'stuck.mp4',
          status: 'running',
          created_at: long,
          updated_at: long,
          lease_expires_at: stale.leaseExpiresAt,
          retain_until: stale.retainUntil,
        },
      }),
    );

    const res = await post(tenant, 'stuck.mp4');

    expect(res.status).toBe(201);
    expect(res.body.task_id).not.toBe(old);
    const replaced = await getTask(tenant, old);
    expect(replaced.body).toMatchObject({ status: 'failed', error: { error: 'LeaseExpired' } });
  });

  test('the finalizer: an execution stopped outside the API ends its task cancelled and frees the video', async () => {
    const tenant = uniqueTenant('aborted');
    const { body } = await post(tenant, 'a.mp4');
    await taskReaches(tenant, body.task_id, 'running');
    await new SFNClient({ endpoint: env.sfnEndpoint }).send(
      new StopExecutionCommand({ executionArn: executionArn(env.stateMachineArn, body.task_id), cause: 'operator' }),
    );
    await taskReaches(tenant, body.task_id, 'cancelled');
    expect((await getTask(tenant, body.task_id)).body.error).toMatchObject({ error: 'ExecutionAborted' });
    expect((await post(tenant, 'a.mp4')).status).toBe(201);
  });

  test('duplicate and late finalizer events change nothing', async () => {
    const tenant = uniqueTenant('dup-events');
    await holdExecutions(tenant);
    try {
      const { body } = await post(tenant, 'e.mp4');
      const active = present(
        (await itemsOf(tenant)).find((i) => i.item_type === 'active'),
        'the active item',
      );
      const event = (status: string) => ({
        detail: {
          executionArn: executionArn(env.stateMachineArn, body.task_id),
          status,
          error: status === 'TIMED_OUT' ? null : 'States.Runtime',
          cause: 'injected',
          input: JSON.stringify({
            task_id: body.task_id,
            tenant_id: tenant,
            video_filename: 'e.mp4',
            created_at: active.created_at,
            retain_until: active.retain_until,
            task_key: active.pk,
          }),
        },
      });
      const service = serviceWith();
      const results = await Promise.all([
        finalizeExecution(service.recovery, event('TIMED_OUT')),
        finalizeExecution(service.recovery, event('TIMED_OUT')),
        finalizeExecution(service.recovery, event('FAILED')),
      ]);
      expect(results.filter((r) => r.outcome === 'finalized')).toHaveLength(1);
      const after = await getTask(tenant, body.task_id);
      expect(after.body.status).toBe('failed');
      const late = await finalizeExecution(service.recovery, event('ABORTED'));
      expect(late.outcome).toBe('ignored');
      expect((await getTask(tenant, body.task_id)).body).toEqual(after.body);
    } finally {
      await releaseExecutions(tenant);
    }
  });
});
