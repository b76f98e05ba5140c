import { type ActiveTask, type Task, type TaskStatus } from '../../core/task';
import { Attr, ItemType, sweepShard, taskRecordKey } from '../../shared/table';
import { taskError } from '../../core/task-errors';

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
    // Rebuilt from the name: records written by the workflow hold only the name (older ones a raw cause, never read).
    error: item[Attr.error] ? taskError((item[Attr.error] as { error?: string }).error) : undefined,
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
