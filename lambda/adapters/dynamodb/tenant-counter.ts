import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { SlotResult, TenantCount } from '../../core/ports';
import { counterValues, plainValues } from '../../shared/finish-write';
import {
  ACTIVE_BY_AGE_INDEX,
  Attr,
  COUNTER_SHARD,
  COUNTER_UPDATE,
  parseTenantCounterKey,
  tenantCounterKey,
} from '../../shared/table';
import { fromRawItem, type RawItem } from './items';
import {
  conflictBackoff,
  isConditionFailure,
  isRefused,
  isTransactionConflict,
  MAX_CONFLICT_ATTEMPTS,
  type TableClient,
} from './table-client';

/**
 * The tenant counters: the only code that reads them or writes them on their own. The finishing transactions update
 * them too, with the same COUNTER_UPDATE and counterValues as takeSlot (lambda/shared/finish-write.ts).
 */

/**
 * One conditional increment, made only under a limit (`limit` > 0): below it, the task is counted; otherwise the count
 * is returned. A finishing transaction of the same tenant holds the counter for a moment (TransactionConflictException,
 * nothing written): the increment is sent again after a short backoff, as the claim is.
 */
export async function takeSlot(table: TableClient, tenantId: string, limit: number, at: string): Promise<SlotResult> {
  const increment = () =>
    new UpdateCommand({
      TableName: table.tableName,
      Key: { [Attr.pk]: tenantCounterKey(tenantId) },
      UpdateExpression: COUNTER_UPDATE.expression,
      ConditionExpression: 'attribute_not_exists(#count) OR #count < :limit',
      ExpressionAttributeNames: { ...COUNTER_UPDATE.names },
      ExpressionAttributeValues: { ...counterValues(plainValues, 1, at), ':limit': limit },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
  let out;
  for (let attempt = 1; ; attempt++) {
    const retry = attempt < MAX_CONFLICT_ATTEMPTS;
    out = await table.attempt(increment(), (e) => isConditionFailure(e) || (retry && isTransactionConflict(e)));
    if (!isRefused(out) || !isTransactionConflict(out.refused)) break;
    await conflictBackoff(attempt);
  }
  if (!isRefused(out)) return { taken: true };
  // lib-dynamodb leaves the returned item marshalled (DynamoDB JSON).
  const raw = (out.refused as { Item?: RawItem }).Item;
  return { taken: false, activeCount: raw ? Number(fromRawItem(raw)[Attr.activeCount]) : limit };
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

/** Every counter, from its own partition of the sweep index. */
export async function* tenantCounts(table: TableClient): AsyncIterable<readonly TenantCount[]> {
  const pages = table.queryPages({
    IndexName: ACTIVE_BY_AGE_INDEX,
    KeyConditionExpression: '#shard = :shard',
    ExpressionAttributeNames: { '#shard': Attr.sweepShard },
    ExpressionAttributeValues: { ':shard': COUNTER_SHARD },
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
        },
      ];
    });
    if (counts.length) yield counts;
  }
}
