import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { ActiveTask } from '../../core/task';
import { ACTIVE_BY_AGE_INDEX, Attr, SWEEP_SHARDS } from '../../shared/table';
import { fromActiveItem, type Item } from './items';
import type { TableClient } from './table-client';

/** One shard after another, each oldest first: at most one page (<= 1 MB) is in memory at a time. */
export async function* activeCreatedBefore(table: TableClient, createdBefore: string): AsyncIterable<readonly ActiveTask[]> {
  for (let shard = 0; shard < SWEEP_SHARDS; shard++) {
    let ExclusiveStartKey: Item | undefined;
    do {
      const page = await table.send(
        new QueryCommand({
          TableName: table.tableName,
          IndexName: ACTIVE_BY_AGE_INDEX,
          KeyConditionExpression: '#shard = :shard AND #created_at < :before',
          ExpressionAttributeNames: { '#shard': Attr.sweepShard, '#created_at': Attr.createdAt },
          ExpressionAttributeValues: { ':shard': shard, ':before': createdBefore },
          ExclusiveStartKey,
        }),
      );
      if (page.Items?.length) yield page.Items.map(fromActiveItem);
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
  }
}
