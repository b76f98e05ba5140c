import type { ActiveTask } from '../../core/task';
import { ACTIVE_BY_AGE_INDEX, Attr, SWEEP_SHARDS } from '../../shared/table';
import { fromActiveItem } from './items';
import type { TableClient } from './table-client';

/** One shard after another, each oldest first: at most one page (<= 1 MB) is in memory at a time. */
export async function* activeCreatedBefore(
  table: TableClient,
  createdBefore: string,
): AsyncIterable<readonly ActiveTask[]> {
  for (let shard = 0; shard < SWEEP_SHARDS; shard++) {
    const pages = table.queryPages({
      IndexName: ACTIVE_BY_AGE_INDEX,
      KeyConditionExpression: '#shard = :shard AND #created_at < :before',
      ExpressionAttributeNames: { '#shard': Attr.sweepShard, '#created_at': Attr.createdAt },
      ExpressionAttributeValues: { ':shard': shard, ':before': createdBefore },
    });
    for await (const items of pages) if (items.length) yield items.map(fromActiveItem);
  }
}
