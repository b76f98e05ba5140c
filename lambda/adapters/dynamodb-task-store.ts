import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { DependencyUnavailable, TaskAlreadyActive, TaskNotInExpectedState } from '../core/errors';
import type { ClaimResult, FinishTask, FoundTask, TaskStore } from '../core/ports';
import { type ActiveTask, type Task, type TaskError, TaskStatus } from '../core/task';
import { translate } from './aws-errors';
import { activeTaskKey, taskRecordKey } from './task-keys';

/** Kinds of item in the single table. */
export const ItemType = { Active: 'active', Link: 'link', Final: 'final' } as const;

/** Attribute names shared with the state machine definition (lib/analysis-workflow.ts). */
export const Attr = {
  pk: 'pk',
  itemType: 'item_type',
  taskId: 'task_id',
  tenantId: 'tenant_id',
  videoFilename: 'video_filename',
  status: 'status',
  createdAt: 'created_at',
  updatedAt: 'updated_at',
  startedAt: 'started_at',
  finishedAt: 'finished_at',
  result: 'result',
  error: 'error',
  taskKey: 'task_key',
  leaseExpiresAt: 'lease_expires_at',
  retainUntil: 'retain_until',
  expiresAt: 'expires_at',
  sweepShard: 'sweep_shard',
} as const;

/**
 * Sparse index of active tasks by age, for the repair sweep: only active items carry `sweep_shard`, so links and
 * final records are not in it. The shard spreads the index's writes over SWEEP_SHARDS partitions.
 */
export const ACTIVE_BY_AGE_INDEX = 'active-by-age';
export const SWEEP_SHARDS = 16;

type Item = Record<string, unknown>;
const MAX_CLAIM_ATTEMPTS = 4;
/** Base of the claim's exponential backoff with full jitter after a TransactionConflict. */
const CLAIM_BACKOFF_MS = 25;

export function createDocumentClient(client = new DynamoDBClient({})): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

/** The only code that knows the table's keys, attributes and conditions. */
export class DynamoDbTaskStore implements TaskStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  keyOf(tenantId: string, videoFilename: string): string {
    return activeTaskKey(tenantId, videoFilename);
  }

  async claim(task: ActiveTask, replacedRetainUntil: number): Promise<ClaimResult> {
    const taskKey = this.keyOf(task.tenantId, task.videoFilename);
    const now = epochSeconds(task.createdAt);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.doc.send(
          new PutCommand({
            TableName: this.tableName,
            Item: toActiveItem(task, taskKey),
            // The single point where the race is decided.
            ConditionExpression: 'attribute_not_exists(#pk)',
            ExpressionAttributeNames: { '#pk': Attr.pk },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        );
        return { taskKey };
      } catch (error) {
        const retry = attempt < MAX_CLAIM_ATTEMPTS;
        // A finishing transaction on this item is in flight; it resolves in milliseconds. Full jitter spreads
        // the retries of a burst of duplicates instead of sending them back together.
        if ((error as Error).name === 'TransactionConflictException' && retry) {
          await sleep(Math.random() * CLAIM_BACKOFF_MS * 2 ** (attempt - 1));
          continue;
        }
        if (!isConditionFailure(error)) throw translate(error, 'dynamodb', 'PutItem');
        // lib-dynamodb leaves error.Item marshalled (DynamoDB JSON).
        const raw = (error as { Item?: Parameters<typeof unmarshall>[0] }).Item;
        const item = raw ? unmarshall(raw) : await this.getItem(taskKey);
        if (item) {
          const winner = fromActiveItem(item);
          if (winner.taskId === task.taskId || winner.leaseExpiresAt >= now) throw new TaskAlreadyActive(winner);
          if (await this.takeOver(task, taskKey, winner, replacedRetainUntil)) return { taskKey, replaced: winner };
        }
        // The item changed under us (the winner finished, or another request took the lease over): look again.
        if (!retry) throw new DependencyUnavailable('dynamodb', 'PutItem', { cause: error });
      }
    }
  }

  /**
   * Lease of last resort: in one transaction, replace an active task whose lease has expired and record it failed.
   * @returns false when the item changed meanwhile (the caller looks again).
   */
  private async takeOver(task: ActiveTask, taskKey: string, expired: ActiveTask, retainUntil: number): Promise<boolean> {
    const at = task.createdAt;
    const error: TaskError = { error: 'LeaseExpired', cause: 'the task outlived its lease and a new task replaced it' };
    const final: Task = { ...withoutStoreTimes(expired), status: TaskStatus.Failed, updatedAt: at, finishedAt: at, error };
    try {
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.tableName,
                Item: toActiveItem(task, taskKey),
                ConditionExpression: '#task_id = :expired_id AND #lease < :now',
                ExpressionAttributeNames: { '#task_id': Attr.taskId, '#lease': Attr.leaseExpiresAt },
                ExpressionAttributeValues: { ':expired_id': expired.taskId, ':now': epochSeconds(at) },
              },
            },
            this.finalRecordPut(final, retainUntil),
          ],
        }),
      );
      return true;
    } catch (e) {
      if (isTransactionLost(e)) return false;
      throw translate(e, 'dynamodb', 'TransactWriteItems');
    }
  }

  async renewLease(task: ActiveTask, leaseExpiresAt: number): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [Attr.pk]: this.keyOf(task.tenantId, task.videoFilename) },
          UpdateExpression: 'SET #lease = :lease',
          // The lease just read: of two re-drives (overlapping sweeps, a sweep and a POST) that read the same item, one wins.
          ConditionExpression: '#task_id = :task_id AND #status = :not_started AND #lease = :read_lease',
          ExpressionAttributeNames: { '#lease': Attr.leaseExpiresAt, '#task_id': Attr.taskId, '#status': Attr.status },
          ExpressionAttributeValues: {
            ':lease': leaseExpiresAt,
            ':task_id': task.taskId,
            ':not_started': TaskStatus.NotStarted,
            ':read_lease': task.leaseExpiresAt,
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw translate(error, 'dynamodb', 'UpdateItem');
    }
  }

  async link(task: ActiveTask, taskKey: string): Promise<void> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            [Attr.pk]: taskRecordKey(task.taskId),
            [Attr.itemType]: ItemType.Link,
            ...identityAttributes(task),
            [Attr.taskKey]: taskKey,
            // An orphaned link expires with the task it points to.
            [Attr.expiresAt]: task.retainUntil,
          },
          // Never overwrite the final record of a task that has already finished.
          ConditionExpression: 'attribute_not_exists(#status)',
          ExpressionAttributeNames: { '#status': Attr.status },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw translate(error, 'dynamodb', 'PutItem');
    }
  }

  async finish(finish: FinishTask): Promise<Task> {
    const final: Task = {
      taskId: finish.task.taskId,
      tenantId: finish.task.tenantId,
      videoFilename: finish.task.videoFilename,
      status: finish.status,
      createdAt: finish.task.createdAt,
      updatedAt: finish.at,
      startedAt: finish.task.startedAt,
      finishedAt: finish.at,
      error: finish.error,
    };
    try {
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            this.finalRecordPut(final, finish.retainUntil),
            {
              Delete: {
                TableName: this.tableName,
                Key: { [Attr.pk]: finish.taskKey },
                ConditionExpression: '#task_id = :task_id AND #status = :expected',
                ExpressionAttributeNames: { '#task_id': Attr.taskId, '#status': Attr.status },
                ExpressionAttributeValues: { ':task_id': finish.task.taskId, ':expected': finish.expected },
              },
            },
          ],
        }),
      );
      return final;
    } catch (error) {
      if (isTransactionLost(error)) throw new TaskNotInExpectedState(finish.task.taskId);
      throw translate(error, 'dynamodb', 'TransactWriteItems');
    }
  }

  /** Records a task's end; never replaces another final record (only its link, or nothing). */
  private finalRecordPut(task: Task, expiresAt: number) {
    return {
      Put: {
        TableName: this.tableName,
        Item: toFinalItem(task, expiresAt),
        ConditionExpression: 'attribute_not_exists(#status)',
        ExpressionAttributeNames: { '#status': Attr.status },
      },
    };
  }

  async getById(taskId: string): Promise<FoundTask | undefined> {
    const record = await this.getItem(taskRecordKey(taskId));
    if (!record) return undefined;
    if (record[Attr.itemType] === ItemType.Final) return { task: fromFinalItem(record) };

    const taskKey = String(record[Attr.taskKey]);
    const active = await this.getItem(taskKey);
    if (active && active[Attr.taskId] === taskId) return { task: fromActiveItem(active), taskKey };

    // The active item is gone: the task finished between our two reads, so its final record is there now.
    const again = await this.getItem(taskRecordKey(taskId));
    if (again?.[Attr.itemType] === ItemType.Final) return { task: fromFinalItem(again) };
    if (!again) return undefined;
    return { task: lostTask(again) };
  }

  async getActive(tenantId: string, videoFilename: string): Promise<ActiveTask | undefined> {
    const item = await this.getItem(this.keyOf(tenantId, videoFilename));
    return item ? fromActiveItem(item) : undefined;
  }

  /** One shard after another, each oldest first: at most one page (<= 1 MB) is in memory at a time. */
  async *activeCreatedBefore(createdBefore: string): AsyncIterable<readonly ActiveTask[]> {
    for (let shard = 0; shard < SWEEP_SHARDS; shard++) {
      let ExclusiveStartKey: Item | undefined;
      do {
        let page;
        try {
          page = await this.doc.send(
            new QueryCommand({
              TableName: this.tableName,
              IndexName: ACTIVE_BY_AGE_INDEX,
              KeyConditionExpression: '#shard = :shard AND #created_at < :before',
              ExpressionAttributeNames: { '#shard': Attr.sweepShard, '#created_at': Attr.createdAt },
              ExpressionAttributeValues: { ':shard': shard, ':before': createdBefore },
              ExclusiveStartKey,
            }),
          );
        } catch (error) {
          throw translate(error, 'dynamodb', 'Query');
        }
        if (page.Items?.length) yield page.Items.map(fromActiveItem);
        ExclusiveStartKey = page.LastEvaluatedKey;
      } while (ExclusiveStartKey);
    }
  }

  private async getItem(pk: string): Promise<Item | undefined> {
    try {
      const out = await this.doc.send(
        new GetCommand({ TableName: this.tableName, Key: { [Attr.pk]: pk }, ConsistentRead: true }),
      );
      return out.Item;
    } catch (error) {
      throw translate(error, 'dynamodb', 'GetItem');
    }
  }
}

function isConditionFailure(error: unknown): boolean {
  return (error as Error | undefined)?.name === 'ConditionalCheckFailedException';
}

/**
 * A transaction cancelled because a condition failed or a concurrent write conflicted: the caller should read
 * again. Cancellations for throttling or validation are not this; they are translated like any other failure.
 */
function isTransactionLost(error: unknown): boolean {
  if ((error as Error | undefined)?.name !== 'TransactionCanceledException') return false;
  const codes = ((error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? []).map((r) => r.Code);
  return codes.length === 0 || codes.some((c) => c === 'ConditionalCheckFailed' || c === 'TransactionConflict');
}

function epochSeconds(iso: string): number {
  return Math.floor(Date.parse(iso) / 1000);
}

function withoutStoreTimes(task: ActiveTask): Task {
  const { leaseExpiresAt: _lease, retainUntil: _retain, ...rest } = task;
  return rest;
}

function toActiveItem(task: ActiveTask, taskKey: string): Item {
  return {
    [Attr.pk]: taskKey,
    [Attr.itemType]: ItemType.Active,
    ...statusAttributes(task),
    [Attr.leaseExpiresAt]: task.leaseExpiresAt,
    [Attr.retainUntil]: task.retainUntil,
    [Attr.sweepShard]: sweepShard(task.taskId),
  };
}

/** A stable shard per task (FNV-1a of its id), so the index's writes spread evenly. */
export function sweepShard(taskId: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < taskId.length; i++) hash = Math.imul(hash ^ taskId.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % SWEEP_SHARDS;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** What names a task; every item kind carries it. */
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

function fromActiveItem(item: Item): ActiveTask {
  return {
    ...commonFields(item),
    leaseExpiresAt: Number(item[Attr.leaseExpiresAt]),
    retainUntil: Number(item[Attr.retainUntil]),
  };
}

function toFinalItem(task: Task, expiresAt: number): Item {
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

function fromFinalItem(item: Item): Task {
  const result = item[Attr.result];
  return {
    ...commonFields(item),
    finishedAt: optionalString(item[Attr.finishedAt]),
    result: typeof result === 'string' ? JSON.parse(result) : undefined,
    error: item[Attr.error] as TaskError | undefined,
  };
}

/** A link whose active item vanished without a final record: report it failed rather than pretend it is unknown. */
function lostTask(link: Item): Task {
  return {
    taskId: String(link[Attr.taskId]),
    tenantId: String(link[Attr.tenantId]),
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
