import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { convertToNative } from '@aws-sdk/util-dynamodb';
import { type ActiveTask, type Task, type TaskStatus } from '../../core/task';
import { type FinalRecord, finalItem, plainValues } from '../../shared/finish-write';
import { ADMISSION_PENDING, Attr, ItemType, sweepShard, taskRecordKey } from '../../shared/table';
import { taskError } from '../../core/task-errors';

/** The table's items and the tasks they hold: the only code that maps one to the other. */
export type Item = Record<string, unknown>;

/** An item as DynamoDB's attribute values (what the low-level client sends and a refused write's ALL_OLD holds). */
export type RawItem = Record<string, AttributeValue>;

/**
 * A flat item of strings and integers (epoch seconds, shards) as attribute values (undefined attributes left out), for the claim, which
 * sends it without the document client: a duplicate's whole cost is that one put, and the document client's
 * walk over the input and output was a measurable share of it.
 */
export function toRawItem(item: Item): RawItem {
  const raw: RawItem = {};
  for (const [name, value] of Object.entries(item)) {
    if (typeof value === 'string') raw[name] = { S: value };
    else if (Number.isSafeInteger(value)) raw[name] = { N: String(value) };
    else if (value !== undefined) throw new TypeError(`toRawItem: ${name} is neither a string nor a safe integer`);
  }
  return raw;
}

/** Attribute values as plain values, as the document client unmarshalls them; strings and numbers without its walk. */
export function fromRawItem(raw: RawItem): Item {
  const item: Item = {};
  for (const [name, value] of Object.entries(raw)) {
    item[name] = value.S ?? (value.N !== undefined ? Number(value.N) : convertToNative(value));
  }
  return item;
}

export function epochSeconds(iso: string): number {
  return Math.floor(Date.parse(iso) / 1000);
}

export function withoutStoreTimes(task: ActiveTask): Task {
  const { leaseExpiresAt: _lease, retainUntil: _retain, admissionPending: _admission, ...rest } = task;
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
    [Attr.admission]: task.admissionPending ? ADMISSION_PENDING : undefined,
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
    ...(item[Attr.admission] === ADMISSION_PENDING ? { admissionPending: true } : {}),
  };
}

/** An ended task's final record, in the document client's plain values (lambda/shared/finish-write.ts builds it). */
export function finalRecordOf(task: Task, expiresAt: number): FinalRecord<unknown> {
  return {
    key: taskRecordKey(task.taskId),
    taskId: task.taskId,
    tenantId: task.tenantId,
    videoFilename: task.videoFilename,
    status: task.status,
    createdAt: task.createdAt,
    updatedAt: task.updatedAt,
    finishedAt: task.finishedAt,
    expiresAt,
    startedAt: task.startedAt,
    result: task.result === undefined ? undefined : JSON.stringify(task.result),
    errorName: task.error?.error,
  };
}

export function toFinalItem(task: Task, expiresAt: number): Item {
  return finalItem(plainValues, finalRecordOf(task, expiresAt));
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
    // A refused claim's record keeps its creation time apart, out of the listing (lambda/shared/finish-write.ts).
    createdAt: String(item[Attr.createdAt] ?? item[Attr.claimedAt]),
    updatedAt: String(item[Attr.updatedAt]),
    startedAt: optionalString(item[Attr.startedAt]),
  };
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
