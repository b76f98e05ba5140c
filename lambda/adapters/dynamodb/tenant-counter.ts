import { TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Admission, TenantCount } from '../../core/ports';
import type { ActiveTask } from '../../core/task';
import { counterOf, counterUpdate, plainValues } from '../../shared/finish-write';
import {
  ACTIVE_BY_AGE_INDEX,
  ADMISSION_PENDING,
  Attr,
  counterShards,
  parseTenantCounterKey,
  tenantCounterKey,
} from '../../shared/table';
import { fromRawItem, type RawItem } from './items';
import {
  conflictBackoff,
  isConditionFailure,
  isRefused,
  MAX_CONFLICT_ATTEMPTS,
  type TableClient,
} from './table-client';

/**
 * The tenant counters: the only code that reads them or writes them on their own. The finishing transactions update
 * them too, with the same counterUpdate (lambda/shared/finish-write.ts).
 */

type CancellationReason = { Code?: string; Item?: RawItem };

/**
 * Admits a pending claim (`limit` > 0) in one transaction: the counter's increment, conditional on the count being
 * below the limit, and the removal of the claim's `admission` mark, conditional on the claim being still this one
 * and pending. So a slot is taken exactly when a claim is admitted, and never for a claim that a refusal or another
 * admission decided first. A transaction of the same tenant in flight (TransactionConflict, nothing written): sent
 * again after a short backoff, as the claim is.
 */
export async function admit(
  table: TableClient,
  task: ActiveTask,
  taskKey: string,
  limit: number,
  at: string,
): Promise<Admission> {
  const increment = counterUpdate(plainValues, table.tableName, counterOf(task.tenantId), 1, at).Update;
  const admission = () =>
    new TransactWriteCommand({
      TransactItems: [
        {
          Update: {
            ...increment,
            ConditionExpression: 'attribute_not_exists(#count) OR #count < :limit',
            ExpressionAttributeValues: { ...increment.ExpressionAttributeValues, ':limit': limit },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
        {
          Update: {
            TableName: table.tableName,
            Key: { [Attr.pk]: taskKey },
            UpdateExpression: 'REMOVE #admission',
            ConditionExpression: '#task_id = :task_id AND #admission = :pending',
            ExpressionAttributeNames: { '#task_id': Attr.taskId, '#admission': Attr.admission },
            ExpressionAttributeValues: { ':task_id': task.taskId, ':pending': ADMISSION_PENDING },
          },
        },
      ],
    });
  for (let attempt = 1; ; attempt++) {
    const retry = attempt < MAX_CONFLICT_ATTEMPTS;
    const out = await table.attempt(admission(), (e) => cancellationReasons(e, retry) !== undefined);
    if (!isRefused(out)) return { outcome: 'admitted' };
    const [counter, claim] = cancellationReasons(out.refused, retry) ?? [];
    // The claim was decided elsewhere (or is gone): whatever the counter said, this admission has nothing to count.
    if (claim?.Code === 'ConditionalCheckFailed') return { outcome: 'moved-on' };
    if (counter?.Code === 'ConditionalCheckFailed') {
      // lib-dynamodb leaves a cancellation's item marshalled (DynamoDB JSON).
      const count = counter.Item ? Number(fromRawItem(counter.Item)[Attr.activeCount]) : limit;
      return { outcome: 'refused', activeCount: count };
    }
    await conflictBackoff(attempt);
  }
}

/**
 * The cancellation reasons of an admission that a condition refused, or that a conflict cancelled while `retry`
 * allows another attempt; undefined for anything else (throttling, validation: translated by the table client).
 */
function cancellationReasons(error: unknown, retry: boolean): CancellationReason[] | undefined {
  if ((error as Error | undefined)?.name !== 'TransactionCanceledException') return undefined;
  const reasons = (error as { CancellationReasons?: CancellationReason[] }).CancellationReasons ?? [];
  const codes = reasons.map((r) => r.Code);
  if (codes.includes('ConditionalCheckFailed')) return reasons;
  return retry && codes.includes('TransactionConflict') ? reasons : undefined;
}

/** Sets a drifted count, conditional on the version read: any write since (a new task, an end) wins over it. */
export async function setCount(
  table: TableClient,
  seen: TenantCount,
  activeCount: number,
  at: string,
): Promise<boolean> {
  const out = await table.attempt(
    new UpdateCommand({
      TableName: table.tableName,
      Key: { [Attr.pk]: tenantCounterKey(seen.tenantId) },
      UpdateExpression: 'SET #count = :count, #updated_at = :at ADD #version :one',
      ConditionExpression: '#version = :seen',
      ExpressionAttributeNames: { '#count': Attr.activeCount, '#version': Attr.version, '#updated_at': Attr.updatedAt },
      ExpressionAttributeValues: { ':count': activeCount, ':at': at, ':one': 1, ':seen': seen.version },
    }),
    isConditionFailure,
  );
  return !isRefused(out);
}

/** Every counter, from the counter partitions of the sweep index: one after another, each paged to its end. */
export async function* tenantCounts(table: TableClient): AsyncIterable<readonly TenantCount[]> {
  for (const shard of counterShards()) yield* counterPartition(table, shard);
}

async function* counterPartition(table: TableClient, shard: number): AsyncIterable<readonly TenantCount[]> {
  const pages = table.queryPages({
    IndexName: ACTIVE_BY_AGE_INDEX,
    KeyConditionExpression: '#shard = :shard',
    ExpressionAttributeNames: { '#shard': Attr.sweepShard },
    ExpressionAttributeValues: { ':shard': shard },
  });
  for await (const items of pages) {
    const counts = items.flatMap((item): TenantCount[] => {
      const tenantId = parseTenantCounterKey(String(item[Attr.pk]));
      if (tenantId === undefined) return [];
      return [
        {
          tenantId,
          activeCount: Number(item[Attr.activeCount] ?? 0),
          version: Number(item[Attr.version] ?? 0),
          updatedAt: String(item[Attr.updatedAt]),
          takenAt: String(item[Attr.takenAt] ?? item[Attr.updatedAt]),
        },
      ];
    });
    if (counts.length) yield counts;
  }
}
