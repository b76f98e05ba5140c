/**
 * The finishing write of a task: one TransactWriteItems that records its end (the final record), frees its video (the
 * conditional delete of the active item) and gives the tenant's slot back (the counter update). The DynamoDB adapter
 * (lambda/adapters/dynamodb/task-store.ts) sends it with plain values, the state machine's finishing steps
 * (lib/private/workflow-finish-steps.ts) with values read from the execution input; both take every condition,
 * attribute name and constant from here. No SDK or CDK import, so the Lambda code and the CDK app share it.
 */
import type { TaskStatus } from '../core/task';
import { TaskErrorName } from '../core/task-errors';
import { TaskStatus as Status } from '../core/task';
import {
  ADMISSION_PENDING,
  Attr,
  COUNTER_TAKE,
  COUNTER_UPDATE,
  counterShard,
  ItemType,
  tenantCounterKey,
} from './table';

/**
 * How one side spells attribute values. The builders spell their constants with it; the values a caller passes in
 * (`V`) are already spelled: literals on the Lambda side, JSONPath references in DynamoDB JSON on the CDK side.
 */
export interface ValueSpelling<V> {
  string(value: string): V;
  number(value: number): V;
  map(attributes: Record<string, V>): V;
}

/** The document client's spelling: plain strings, numbers and objects, which it marshalls itself. */
export const plainValues: ValueSpelling<unknown> = {
  string: (value) => value,
  number: (value) => value,
  map: (attributes) => attributes,
};

/**
 * A tenant's counter as a write names it: its key and its partition of the sweep index. The state machine cannot hash,
 * so it reads both from the execution input (`tenant_key`, `counter_shard`); the Lambda code derives them (counterOf).
 */
export interface CounterRef<V> {
  /** `tenantCounterKey` of the tenant. */
  readonly key: V;
  /** `counterShard` of the tenant: the counter's `sweep_shard`. */
  readonly shard: V;
}

/** The tenant's counter, spelled for the document client. */
export function counterOf(tenantId: string): CounterRef<unknown> {
  return { key: tenantCounterKey(tenantId), shard: counterShard(tenantId) };
}

/** An ended task as its final record holds it. */
export interface FinalRecord<V> {
  /** The record's key (`taskRecordKey` of the task id). */
  readonly key: V;
  readonly taskId: V;
  readonly tenantId: V;
  readonly videoFilename: V;
  readonly status: TaskStatus;
  readonly createdAt: V;
  readonly updatedAt: V;
  readonly finishedAt: V;
  /** Epoch seconds after which DynamoDB's TTL may delete the record (`expires_at`). */
  readonly expiresAt: V;
  /** @default - not written: the task never ran */
  readonly startedAt?: V;
  /** The analysis result as JSON text. @default - not written */
  readonly result?: V;
  /**
   * The error's name. Only the name is stored: every read rebuilds the message from it (lambda/core/task-errors.ts),
   * and the state machine, which cannot look a message up, writes the very same item.
   * @default - not written
   */
  readonly errorName?: V;
  /**
   * Whether the record shows in the tenant's listing. A refused claim's record does not: it keeps its creation time
   * as `claimed_at` instead of `created_at`, the by-tenant index's sort key, so the sparse index leaves it out.
   * @default true
   */
  readonly listed?: boolean;
}

/** Statuses a conditional write accepts: one, or several. */
export type ExpectedStatuses = readonly [TaskStatus, ...TaskStatus[]];

export interface FinishWrite<V> {
  readonly tableName: string;
  readonly record: FinalRecord<V>;
  /** The active item's key. */
  readonly taskKey: V;
  /** The statuses the active item may still have: any other (or another task under the key) cancels the finish. */
  readonly expected: ExpectedStatuses;
  /** The tenant's counter. @default - no counter written (tasks are not counted: no tenant limit) */
  readonly counter?: CounterRef<V>;
}

/** The three items of the finishing transaction (two when tenants are not counted). */
export function finishTransactItems<V>(spell: ValueSpelling<V>, write: FinishWrite<V>) {
  const { tableName, record } = write;
  return [
    finalRecordPut(spell, tableName, record),
    // Counted tasks: only an admitted task ends this way, so only a task that took a slot gives one back.
    activeItemDelete(
      spell,
      tableName,
      write.taskKey,
      record.taskId,
      write.expected,
      write.counter === undefined ? undefined : 'admitted',
    ),
    // The slot is given back exactly when the active item goes.
    ...(write.counter === undefined ? [] : [counterUpdate(spell, tableName, write.counter, -1, record.finishedAt)]),
  ];
}

/** Records a task's end; never replaces another final record (a link item an earlier version wrote has no status). */
export function finalRecordPut<V>(spell: ValueSpelling<V>, tableName: string, record: FinalRecord<V>) {
  return {
    Put: {
      TableName: tableName,
      Item: finalItem(spell, record),
      ConditionExpression: 'attribute_not_exists(#status)',
      ExpressionAttributeNames: { '#status': Attr.status },
    },
  };
}

/** The final record's attributes; an optional value left out is not written at all. */
export function finalItem<V>(spell: ValueSpelling<V>, record: FinalRecord<V>): Record<string, V> {
  return {
    [Attr.pk]: record.key,
    [Attr.itemType]: spell.string(ItemType.Final),
    [Attr.taskId]: record.taskId,
    [Attr.tenantId]: record.tenantId,
    [Attr.videoFilename]: record.videoFilename,
    [Attr.status]: spell.string(record.status),
    [record.listed === false ? Attr.claimedAt : Attr.createdAt]: record.createdAt,
    [Attr.updatedAt]: record.updatedAt,
    [Attr.finishedAt]: record.finishedAt,
    [Attr.expiresAt]: record.expiresAt,
    ...optional(Attr.startedAt, record.startedAt),
    ...optional(Attr.result, record.result),
    ...optional(Attr.error, record.errorName === undefined ? undefined : spell.map({ error: record.errorName })),
  };
}

/**
 * Refuses a claim the tenant's limit has no slot for, in one transaction: its final record (`failed`,
 * TenantQuotaExceeded, left out of the listing) and the delete of its active item while it is still this claim,
 * pending. Every id handed out for the claim then reads that record; no counter is written, as none was taken.
 */
export function refusalTransactItems<V>(
  spell: ValueSpelling<V>,
  tableName: string,
  taskKey: V,
  record: Omit<FinalRecord<V>, 'status' | 'errorName' | 'listed' | 'startedAt' | 'result'>,
) {
  return [
    finalRecordPut(spell, tableName, {
      ...record,
      status: Status.Failed,
      errorName: spell.string(TaskErrorName.TenantQuotaExceeded),
      listed: false,
    }),
    activeItemDelete(spell, tableName, taskKey, record.taskId, [Status.NotStarted], 'pending'),
  ] as const;
}

/**
 * Frees the video: deletes the active item only while it is still this task in an expected status, so a late finish
 * never frees a newer task's key nor ends a task twice. One status is compared with `=`, several with `IN`.
 * `admission`: also only while the task is admitted (counted tasks' ends) or still pending (a refusal).
 */
export function activeItemDelete<V>(
  spell: ValueSpelling<V>,
  tableName: string,
  taskKey: V,
  taskId: V,
  expected: ExpectedStatuses,
  admission?: 'admitted' | 'pending',
) {
  const statuses =
    expected.length === 1
      ? { ':expected': spell.string(expected[0]) }
      : Object.fromEntries(expected.map((status, i) => [`:expected${i}`, spell.string(status)]));
  const placeholders = Object.keys(statuses).join(', ');
  const statusCondition = expected.length === 1 ? `#status = ${placeholders}` : `#status IN (${placeholders})`;
  const admissionCondition =
    admission === 'admitted'
      ? ' AND attribute_not_exists(#admission)'
      : admission === 'pending'
        ? ' AND #admission = :pending'
        : '';
  return {
    Delete: {
      TableName: tableName,
      Key: { [Attr.pk]: taskKey },
      ConditionExpression: `#task_id = :task_id AND ${statusCondition}${admissionCondition}`,
      ExpressionAttributeNames: {
        '#task_id': Attr.taskId,
        '#status': Attr.status,
        ...(admission === undefined ? {} : { '#admission': Attr.admission }),
      },
      ExpressionAttributeValues: {
        ':task_id': taskId,
        ...statuses,
        ...(admission === 'pending' ? { ':pending': spell.string(ADMISSION_PENDING) } : {}),
      },
    },
  };
}

/**
 * The tenant counter's update as a transaction item: -1 where a task ends (COUNTER_UPDATE), 0 where a takeover hands
 * its slot on and +1 where a claim is admitted (COUNTER_TAKE: both make a task counted).
 */
export function counterUpdate<V>(
  spell: ValueSpelling<V>,
  tableName: string,
  counter: CounterRef<V>,
  delta: number,
  at: V,
) {
  const update = delta < 0 ? COUNTER_UPDATE : COUNTER_TAKE;
  return {
    Update: {
      TableName: tableName,
      Key: { [Attr.pk]: counter.key },
      UpdateExpression: update.expression,
      ExpressionAttributeNames: { ...update.names },
      ExpressionAttributeValues: counterValues(spell, delta, at, counter.shard),
    },
  };
}

/**
 * COUNTER_UPDATE's (and COUNTER_TAKE's) values: `delta` is +1 where a task takes a slot, -1 where it ends, 0 where a
 * takeover hands it on; `shard` the tenant's counter partition (CounterRef).
 */
export function counterValues<V>(spell: ValueSpelling<V>, delta: number, at: V, shard: V): Record<string, V> {
  return {
    ':delta': spell.number(delta),
    ':one': spell.number(1),
    ':at': at,
    ':counter': spell.string(ItemType.TenantCounter),
    ':counter_shard': shard,
  };
}

function optional<V>(name: string, value: V | undefined): Record<string, V> {
  return value === undefined ? {} : { [name]: value };
}
