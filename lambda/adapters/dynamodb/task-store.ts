import { type ConditionalCheckFailedException, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { GetCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { DependencyUnavailable, TaskNotInExpectedState } from '../../core/errors';
import type {
  ClaimResult,
  FinishTask,
  FoundTask,
  KeyReservation,
  ListedPage,
  ListQuery,
  Admission,
  ReserveIdempotencyKey,
  DuePage,
  SweepPosition,
  TaskStore,
  TenantCount,
} from '../../core/ports';
import { type ActiveTask, type Task, type TaskError, TaskStatus } from '../../core/task';
import { TaskErrorName, taskError } from '../../core/task-errors';
import {
  counterOf,
  counterUpdate,
  type CounterRef,
  finalRecordPut,
  finishTransactItems,
  plainValues,
  refusalTransactItems,
} from '../../shared/finish-write';
import { ACTIVE_BY_AGE_INDEX, Attr, SWEEP_SHARDS, taskRecordKey } from '../../shared/table';
import type { TaskKeys } from '../../shared/task-keys';
import { activeCreatedBefore } from './active-index';
import { repointKey, reserveKey } from './idempotency-keys';
import { listByTenant } from './tenant-index';
import {
  epochSeconds,
  fromActiveItem,
  fromFinalItem,
  fromRawItem,
  type Item,
  toActiveItem,
  finalRecordOf,
  toRawItem,
  withoutStoreTimes,
} from './items';
import {
  conflictBackoff,
  isConditionFailure,
  isRefused,
  isTransactionConflict,
  isTransactionLost,
  MAX_CONFLICT_ATTEMPTS,
  TableClient,
} from './table-client';
import { admit, setCount, tenantCounts } from './tenant-counter';

export interface TaskStoreOptions {
  /**
   * Tasks are counted against their tenant (a limit is set: core's countsTenantTasks): a takeover and every end
   * write the tenant's counter in their transaction. Without, no counter is written.
   * @default true
   */
  readonly countsTenantTasks?: boolean;
}

/**
 * The conditional-write protocol of the task table. The finishing transaction (finish, and the final record of a
 * takeover) comes from lambda/shared/finish-write.ts, which the state machine's finishing steps share; every other
 * condition is spelled only here.
 */
export class DynamoDbTaskStore implements TaskStore {
  private readonly table: TableClient;
  private readonly countsTenantTasks: boolean;

  constructor(
    doc: ConstructorParameters<typeof TableClient>[0],
    tableName: string,
    private readonly keys: TaskKeys,
    options: TaskStoreOptions = {},
  ) {
    this.table = new TableClient(doc, tableName);
    this.countsTenantTasks = options.countsTenantTasks ?? true;
  }

  /** The tenant's counter, when tenants are counted (lambda/shared/finish-write.ts writes no counter without). */
  private counter(tenantId: string): CounterRef<unknown> | undefined {
    return this.countsTenantTasks ? counterOf(tenantId) : undefined;
  }

  keyOf(tenantId: string, videoFilename: string): string {
    return this.keys.activeKey(tenantId, videoFilename);
  }

  async claim(task: ActiveTask, replacedRetainUntil: number): Promise<ClaimResult> {
    const taskKey = this.keyOf(task.tenantId, task.videoFilename);
    const now = epochSeconds(task.createdAt);
    for (let attempt = 1; ; attempt++) {
      const retry = attempt < MAX_CONFLICT_ATTEMPTS;
      const isConflict = (e: unknown) => isTransactionConflict(e) && retry;
      const out = await this.table.attempt(
        // The low-level command: the claim is a duplicate's one call, sent without the document client's marshalling.
        new PutItemCommand({
          TableName: this.table.tableName,
          Item: toRawItem(toActiveItem(task, taskKey)),
          // The single point where the race is decided. (`pk` is not a reserved word: no attribute-name map to send.)
          ConditionExpression: `attribute_not_exists(${Attr.pk})`,
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
        (e) => isConditionFailure(e) || isConflict(e),
      );
      if (!isRefused(out)) return { won: true, taskKey };
      const error = out.refused;
      // A finishing transaction on this item is in flight; it resolves in milliseconds.
      if (isConflict(error)) {
        await conflictBackoff(attempt);
        continue;
      }
      const raw = (error as ConditionalCheckFailedException).Item;
      const item = raw ? fromRawItem(raw) : await this.getItem(taskKey);
      if (item) {
        const winner = fromActiveItem(item);
        // A pending claim is decided by its admission or refusal only, never taken over (it holds no slot to hand on).
        if (winner.taskId === task.taskId || winner.leaseExpiresAt >= now || winner.admissionPending)
          return { won: false, existing: winner };
        if (await this.takeOver(task, taskKey, winner, replacedRetainUntil))
          return { won: true, taskKey, replaced: winner };
      }
      // The item changed under us (the winner finished, or another request took the lease over): look again.
      if (!retry) throw new DependencyUnavailable('dynamodb', 'PutItem', { cause: error });
    }
  }

  /**
   * Lease of last resort: in one transaction, replace an active task whose lease has expired and record it failed.
   * @returns false when the item changed meanwhile (the caller looks again).
   */
  private async takeOver(
    task: ActiveTask,
    taskKey: string,
    expired: ActiveTask,
    retainUntil: number,
  ): Promise<boolean> {
    const at = task.createdAt;
    const error: TaskError = taskError(TaskErrorName.LeaseExpired);
    const counter = this.counter(task.tenantId);
    const final: Task = {
      ...withoutStoreTimes(expired),
      status: TaskStatus.Failed,
      updatedAt: at,
      finishedAt: at,
      error,
    };
    const out = await this.table.attempt(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: this.table.tableName,
              // Admitted at once: the replaced task's slot passes to it.
              Item: toActiveItem({ ...task, admissionPending: false }, taskKey),
              ConditionExpression: '#task_id = :expired_id AND #lease < :now AND attribute_not_exists(#admission)',
              ExpressionAttributeNames: {
                '#task_id': Attr.taskId,
                '#lease': Attr.leaseExpiresAt,
                '#admission': Attr.admission,
              },
              ExpressionAttributeValues: { ':expired_id': expired.taskId, ':now': epochSeconds(at) },
            },
          },
          finalRecordPut(plainValues, this.table.tableName, finalRecordOf(final, retainUntil)),
          // The replaced task's slot passes to the new one: the count stays, its version moves.
          ...(counter === undefined ? [] : [counterUpdate(plainValues, this.table.tableName, counter, 0, at)]),
        ],
      }),
      isTransactionLost,
    );
    return !isRefused(out);
  }

  admit(task: ActiveTask, taskKey: string, limit: number, at: string): Promise<Admission> {
    return admit(this.table, task, taskKey, limit, at);
  }

  async refuse(task: ActiveTask, taskKey: string, at: string, retainUntil: number): Promise<Task> {
    const refused: Task = {
      ...withoutStoreTimes(task),
      status: TaskStatus.Failed,
      updatedAt: at,
      finishedAt: at,
      error: taskError(TaskErrorName.TenantQuotaExceeded),
    };
    const record = finalRecordOf(refused, retainUntil);
    const out = await this.table.attempt(
      new TransactWriteCommand({
        TransactItems: [...refusalTransactItems(plainValues, this.table.tableName, taskKey, record)],
      }),
      isTransactionLost,
    );
    if (isRefused(out)) throw new TaskNotInExpectedState(task.taskId);
    return refused;
  }

  tenantCounts(): AsyncIterable<readonly TenantCount[]> {
    return tenantCounts(this.table);
  }

  setTenantCount(seen: TenantCount, activeCount: number, at: string): Promise<boolean> {
    return setCount(this.table, seen, activeCount, at);
  }

  async renewLease(task: ActiveTask, leaseExpiresAt: number): Promise<boolean> {
    const out = await this.table.attempt(
      new UpdateCommand({
        TableName: this.table.tableName,
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
      isConditionFailure,
    );
    return !isRefused(out);
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
    const out = await this.table.attempt(
      new TransactWriteCommand({
        // The same transaction as the state machine's finishing steps (lib/private/workflow-finish-steps.ts).
        TransactItems: finishTransactItems(plainValues, {
          tableName: this.table.tableName,
          record: finalRecordOf(final, finish.retainUntil),
          taskKey: finish.taskKey,
          expected: [finish.expected],
          counter: this.counter(finish.task.tenantId),
        }),
      }),
      isTransactionLost,
    );
    if (isRefused(out)) throw new TaskNotInExpectedState(finish.task.taskId);
    return final;
  }

  /**
   * The active item the id points at (tenant + the id's video digest), then the final record. In this order two
   * consistent reads cannot miss a task: it is active at the first, or it finished before it, and the finishing
   * transaction wrote its final record in the same step that deleted the active item.
   */
  async getById(tenantId: string, taskId: string): Promise<FoundTask | undefined> {
    const taskKey = await this.keys.resolveActiveKeyOfId(tenantId, taskId);
    if (taskKey === undefined) return undefined;
    const active = await this.getItem(taskKey);
    if (active?.[Attr.taskId] === taskId) return { task: fromActiveItem(active), taskKey };
    const record = await this.getItem(taskRecordKey(taskId));
    return record ? { task: fromFinalItem(record) } : undefined;
  }

  async getActive(tenantId: string, videoFilename: string): Promise<ActiveTask | undefined> {
    const item = await this.getItem(this.keyOf(tenantId, videoFilename));
    return item ? fromActiveItem(item) : undefined;
  }

  activeCreatedBefore(createdBefore: string): AsyncIterable<readonly ActiveTask[]> {
    return activeCreatedBefore(this.table, createdBefore);
  }

  /** Shard after shard as activeCreatedBefore; a position is the shard and the query's LastEvaluatedKey in it. */
  async *activeCreatedBeforeFrom(createdBefore: string, from?: SweepPosition): AsyncIterable<DuePage> {
    const start = parsePosition(from);
    for (let shard = start.shard; shard < SWEEP_SHARDS; shard++) {
      let key = shard === start.shard ? start.key : undefined;
      do {
        const page = await this.table.send(
          new QueryCommand({
            TableName: this.table.tableName,
            IndexName: ACTIVE_BY_AGE_INDEX,
            KeyConditionExpression: '#shard = :shard AND #created_at < :before',
            ExpressionAttributeNames: { '#shard': Attr.sweepShard, '#created_at': Attr.createdAt },
            ExpressionAttributeValues: { ':shard': shard, ':before': createdBefore },
            ExclusiveStartKey: key,
          }),
        );
        key = page.LastEvaluatedKey;
        const next = key ? { shard, key } : shard + 1 < SWEEP_SHARDS ? { shard: shard + 1 } : undefined;
        const items = page.Items ?? [];
        if (items.length) yield { tasks: items.map(fromActiveItem), next: next && JSON.stringify(next) };
      } while (key);
    }
  }

  listByTenant(query: ListQuery): Promise<ListedPage> {
    return listByTenant(this.table, query);
  }

  reserveIdempotencyKey(reservation: ReserveIdempotencyKey): Promise<KeyReservation> {
    return reserveKey(this.table, reservation);
  }

  repointIdempotencyKey(tenantId: string, key: string, from: string, to: string): Promise<boolean> {
    return repointKey(this.table, tenantId, key, from, to);
  }

  async getFinal(taskId: string): Promise<Task | undefined> {
    const record = await this.getItem(taskRecordKey(taskId));
    return record ? fromFinalItem(record) : undefined;
  }

  private async getItem(pk: string): Promise<Item | undefined> {
    const out = await this.table.send(
      new GetCommand({ TableName: this.table.tableName, Key: { [Attr.pk]: pk }, ConsistentRead: true }),
    );
    return out.Item;
  }
}

/** A position this store wrote (shard, and the key to resume after); anything else starts from the first shard. */
function parsePosition(from: SweepPosition | undefined): { shard: number; key?: Record<string, unknown> } {
  if (from === undefined) return { shard: 0 };
  try {
    const parsed = JSON.parse(from) as { shard?: unknown; key?: unknown };
    if (Number.isInteger(parsed.shard) && (parsed.shard as number) >= 0 && (parsed.shard as number) < SWEEP_SHARDS)
      return { shard: parsed.shard as number, key: (parsed.key ?? undefined) as Record<string, unknown> | undefined };
  } catch {
    // Not JSON: start over, as a run without a checkpoint would.
  }
  return { shard: 0 };
}
