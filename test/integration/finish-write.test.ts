import { type AttributeValue, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeExecutionCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { toExecutionInput } from '../../lambda/adapters/sfn-workflow';
import { type ActiveTask, TaskStatus } from '../../lambda/core/task';
import { TaskErrorName, taskError } from '../../lambda/core/task-errors';
import { workflowInput } from '../../lambda/core/task-recovery';
import { counterShard, ItemType, taskRecordKey, tenantCounterKey } from '../../lambda/shared/table';
import { TEST_KEYS } from '../support/stored-items';
import { dynamodb, env, eventually, itemsOf, localStore as store, newTask, sfn, uniqueTenant } from './support';

// One finishing transaction (lambda/shared/finish-write.ts), two senders: the DynamoDB adapter's finish and the state
// machine's MarkFailed. Both end a running task of the same shape; what they leave must be the same items.

type RawItem = Record<string, AttributeValue>;

/** A running task whose analysis ends (`fail-` names are rejected by the local placeholder, ANALYSIS_FAIL_PATTERN). */
async function startRunningTask(tenant: string, video: string) {
  const task = newTask(tenant, video);
  const taskKey = store.keyOf(tenant, video);
  await expect(store.claim({ ...task, admissionPending: true }, task.retainUntil)).resolves.toEqual({
    won: true,
    taskKey,
  });
  await expect(store.admit(task, taskKey, 10, task.createdAt)).resolves.toEqual({ outcome: 'admitted' });
  const { executionArn } = await sfn.send(
    new StartExecutionCommand({
      stateMachineArn: env.stateMachineArn,
      name: task.taskId,
      input: JSON.stringify(toExecutionInput(workflowInput(task, TEST_KEYS.activeKey(tenant, video)))),
    }),
  );
  const running = await eventually(async () => {
    const found = await store.getById(tenant, task.taskId);
    return found?.task.status === TaskStatus.Running ? (found.task as ActiveTask) : undefined;
  });
  return { task: running, taskKey, executionArn: executionArn ?? '' };
}

async function executionEnded(executionArn: string): Promise<string | undefined> {
  return eventually(
    async () => {
      const d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
      return d.status === 'RUNNING' ? undefined : d.status;
    },
    25_000,
    'execution end',
  );
}

async function rawItem(pk: string): Promise<RawItem | undefined> {
  const out = await dynamodb.send(
    new GetItemCommand({ TableName: env.tableName, Key: { pk: { S: pk } }, ConsistentRead: true }),
  );
  return out.Item;
}

/** What a finish left for one task: its final record, its active item (none), its tenant's counter. */
async function leftBehind(tenant: string, taskId: string, taskKey: string) {
  return {
    record: await rawItem(taskRecordKey(taskId)),
    active: await rawItem(taskKey),
    counter: await rawItem(tenantCounterKey(tenant)),
    tenantItems: (await itemsOf(tenant)).length,
  };
}

/** The item with what names one task (ids, keys) or one moment replaced by its attribute type: S or N stays visible. */
function withoutIdsAndTimes(item: RawItem | undefined): Record<string, unknown> | undefined {
  if (item === undefined) return undefined;
  // sweep_shard: a counter's partition is its tenant's (checked per tenant below).
  const varying = [
    'pk',
    'task_id',
    'tenant_id',
    'video_filename',
    'created_at',
    'updated_at',
    'started_at',
    'sweep_shard',
  ];
  const moments = ['finished_at', 'expires_at', 'taken_at'];
  return Object.fromEntries(
    Object.entries(item).map(([name, value]) =>
      [...varying, ...moments].includes(name) ? [name, Object.keys(value)] : [name, value],
    ),
  );
}

test('the store and the state machine finish a running task into the same final record, active item and counter', async () => {
  const [viaStore, viaStateMachine] = await Promise.all([
    (async () => {
      const tenant = uniqueTenant('finish-store');
      const { task, taskKey, executionArn } = await startRunningTask(tenant, 'store.mp4');
      // Ended by the store while Analyse runs (as the finalizer ends a task): the execution's MarkCompleted then loses.
      const at = new Date().toISOString();
      await store.finish({
        task,
        taskKey,
        status: TaskStatus.Failed,
        expected: TaskStatus.Running,
        error: taskError(TaskErrorName.AnalysisRejected),
        at,
        retainUntil: task.retainUntil,
      });
      expect(await executionEnded(executionArn)).toBe('SUCCEEDED');
      return { task, at, ...(await leftBehind(tenant, task.taskId, taskKey)) };
    })(),
    (async () => {
      const tenant = uniqueTenant('finish-sfn');
      const { task, taskKey, executionArn } = await startRunningTask(tenant, 'fail-sfn.mp4');
      // Analyse throws AnalysisRejected: MarkFailed records it.
      expect(await executionEnded(executionArn)).toBe('SUCCEEDED');
      return { task, at: undefined, ...(await leftBehind(tenant, task.taskId, taskKey)) };
    })(),
  ]);

  // Each record is its own task's, ended when it says.
  for (const { task, at, record } of [viaStore, viaStateMachine]) {
    expect(record).toMatchObject({
      pk: { S: taskRecordKey(task.taskId) },
      task_id: { S: task.taskId },
      tenant_id: { S: task.tenantId },
      video_filename: { S: task.videoFilename },
      created_at: { S: task.createdAt },
      started_at: { S: task.startedAt },
      expires_at: { N: String(task.retainUntil) },
    });
    expect(record?.updated_at).toEqual(record?.finished_at);
    if (at !== undefined) expect(record?.finished_at).toEqual({ S: at });
  }
  // Identical apart from ids and times, attribute for attribute and type for type.
  expect(withoutIdsAndTimes(viaStore.record)).toEqual(withoutIdsAndTimes(viaStateMachine.record));
  expect(withoutIdsAndTimes(viaStore.record)).toEqual({
    pk: ['S'],
    item_type: { S: ItemType.Final },
    task_id: ['S'],
    tenant_id: ['S'],
    video_filename: ['S'],
    status: { S: TaskStatus.Failed },
    created_at: ['S'],
    updated_at: ['S'],
    started_at: ['S'],
    finished_at: ['S'],
    expires_at: ['N'],
    error: { M: { error: { S: TaskErrorName.AnalysisRejected } } },
  });

  expect(viaStore.active).toBeUndefined();
  expect(viaStateMachine.active).toBeUndefined();
  expect(viaStore.tenantItems).toBe(1);
  expect(viaStateMachine.tenantItems).toBe(1);

  // The slot taken at the start is given back: counted once, released once; each counter stays in its tenant's partition.
  for (const { task, counter } of [viaStore, viaStateMachine])
    expect(counter?.sweep_shard).toEqual({ N: String(counterShard(task.tenantId)) });
  expect(withoutIdsAndTimes(viaStore.counter)).toEqual(withoutIdsAndTimes(viaStateMachine.counter));
  expect(withoutIdsAndTimes(viaStore.counter)).toEqual({
    pk: ['S'],
    item_type: { S: ItemType.TenantCounter },
    active_count: { N: '0' },
    version: { N: '2' },
    sweep_shard: ['N'],
    created_at: ['S'],
    updated_at: ['S'],
    taken_at: ['S'],
  });
}, 60_000);
