import { type ActiveTask, type Task, type TaskError, TaskStatus } from '../../core/task';
import { Attr, ItemType, parseActiveTaskKey, sweepShard, taskRecordKey } from '../../shared/table';

/** The table's items and the tasks they hold: the only code that maps one to the other. */
export type Item = Record<string, unknown>;

export function epochSeconds(iso: string): number {
  return Math.floor(Date.parse(iso) / 1000);
}

export function withoutStoreTimes(task: ActiveTask): Task {
  const { leaseExpiresAt: _lease, retainUntil: _retain, ...rest } = task;
  return rest;
}

export function toActiveItem(task: ActiveTask, taskKey: string): Item {
  return {
    [Attr.pk]: taskKey,
    [Attr.itemType]: ItemType.Active,
    ...statusAttributes(task),
    [Attr.leaseExpiresAt]: task.leaseExpiresAt,
    [Attr.retainUntil]: task.retainUntil,
    [Attr.sweepShard]: sweepShard(task.taskId),
  };
}

/** The item that makes a task readable by its id while it is active. */
export function toLinkItem(task: ActiveTask, taskKey: string): Item {
  return {
    [Attr.pk]: taskRecordKey(task.taskId),
    [Attr.itemType]: ItemType.Link,
    // No tenant_id: a link must not appear in the by-tenant index; its task_key names the tenant.
    [Attr.taskId]: task.taskId,
    [Attr.videoFilename]: task.videoFilename,
    [Attr.createdAt]: task.createdAt,
    [Attr.taskKey]: taskKey,
    // An orphaned link expires with the task it points to.
    [Attr.expiresAt]: task.retainUntil,
  };
}

/** What names a task; active items and final records carry it. */
function identityAttributes(task: Task): Item {
  return {
    [Attr.taskId]: task.taskId,
    [Attr.tenantId]: task.tenantId,
    [Attr.videoFilename]: task.videoFilename,
    [Attr.createdAt]: task.createdAt,
  };
}

function statusAttributes(task: Task): Item {
  return {
    ...identityAttributes(task),
    [Attr.status]: task.status,
    [Attr.updatedAt]: task.updatedAt,
    [Attr.startedAt]: task.startedAt,
  };
}

export function fromActiveItem(item: Item): ActiveTask {
  return {
    ...commonFields(item),
    leaseExpiresAt: Number(item[Attr.leaseExpiresAt]),
    retainUntil: Number(item[Attr.retainUntil]),
  };
}

export function toFinalItem(task: Task, expiresAt: number): Item {
  return {
    [Attr.pk]: taskRecordKey(task.taskId),
    [Attr.itemType]: ItemType.Final,
    ...statusAttributes(task),
    [Attr.finishedAt]: task.finishedAt,
    [Attr.result]: task.result === undefined ? undefined : JSON.stringify(task.result),
    [Attr.error]: task.error,
    [Attr.expiresAt]: expiresAt,
  };
}

export function fromFinalItem(item: Item): Task {
  const result = item[Attr.result];
  return {
    ...commonFields(item),
    finishedAt: optionalString(item[Attr.finishedAt]),
    result: typeof result === 'string' ? JSON.parse(result) : undefined,
    error: item[Attr.error] as TaskError | undefined,
  };
}

/** A link whose active item vanished without a final record: report it failed rather than pretend it is unknown. */
export function lostTask(link: Item): Task {
  return {
    taskId: String(link[Attr.taskId]),
    tenantId: parseActiveTaskKey(String(link[Attr.taskKey]))?.tenantId ?? '',
    videoFilename: String(link[Attr.videoFilename]),
    status: TaskStatus.Failed,
    createdAt: String(link[Attr.createdAt]),
    updatedAt: String(link[Attr.createdAt]),
    error: { error: 'TaskLost', cause: 'the task was replaced before its end could be recorded' },
  };
}

function commonFields(item: Item): Task {
  return {
    taskId: String(item[Attr.taskId]),
    tenantId: String(item[Attr.tenantId]),
    videoFilename: String(item[Attr.videoFilename]),
    status: item[Attr.status] as TaskStatus,
    createdAt: String(item[Attr.createdAt]),
    updatedAt: String(item[Attr.updatedAt]),
    startedAt: optionalString(item[Attr.startedAt]),
  };
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
