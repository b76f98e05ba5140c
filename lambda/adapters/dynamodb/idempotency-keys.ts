import { createHash } from 'node:crypto';
import { type ConditionalCheckFailedException, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { DependencyUnavailable } from '../../core/errors';
import type { IdempotencyKeyRecord, KeyReservation, ReserveIdempotencyKey } from '../../core/ports';
import { Attr, idempotencyKeyItemKey, ItemType } from '../../shared/table';
import { fromRawItem, type Item, toRawItem } from './items';
import { isConditionFailure, isRefused, type TableClient } from './table-client';

/** The key item's `pk`: the client's key is hashed, so its length and bytes never reach a table key. */
export function keyItemKey(tenantId: string, key: string): string {
  return idempotencyKeyItemKey(tenantId, createHash('sha256').update(key, 'utf8').digest('base64url'));
}

/**
 * One conditional PutItem: free (absent, or past `expires_at`: TTL deletes lazily, up to days late) or held, in which
 * case ALL_OLD carries what it holds. The low-level command, like the claim's: no document-client walk.
 */
export async function reserveKey(
  table: TableClient,
  reservation: ReserveIdempotencyKey,
  attempt = 1,
): Promise<KeyReservation> {
  const pk = keyItemKey(reservation.tenantId, reservation.key);
  const out = await table.attempt(
    new PutItemCommand({
      TableName: table.tableName,
      Item: toRawItem({
        [Attr.pk]: pk,
        [Attr.itemType]: ItemType.IdempotencyKey,
        [Attr.taskId]: reservation.taskId,
        [Attr.requestHash]: reservation.requestHash,
        [Attr.expiresAt]: reservation.expiresAt,
      }),
      ConditionExpression: `attribute_not_exists(${Attr.pk}) OR #expires < :now`,
      ExpressionAttributeNames: { '#expires': Attr.expiresAt },
      ExpressionAttributeValues: { ':now': { N: String(reservation.now) } },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    }),
    isConditionFailure,
  );
  if (!isRefused(out)) return { reserved: true };
  const raw = (out.refused as ConditionalCheckFailedException).Item;
  // Some emulators leave ALL_OLD out: read the key (a refused condition means it is held).
  const item = raw ? fromRawItem(raw) : await getKey(table, pk);
  if (item) return { reserved: false, existing: recordOf(item) };
  // Refused, yet gone when read (it expired in between): reserve again, a bounded number of times.
  if (attempt >= 3) throw new DependencyUnavailable('dynamodb', 'PutItem', { cause: out.refused });
  return reserveKey(table, reservation, attempt + 1);
}

/** Conditional on the task it points at now: of two requests moving one key, one wins. */
export async function repointKey(
  table: TableClient,
  tenantId: string,
  key: string,
  from: string,
  to: string,
): Promise<boolean> {
  const out = await table.attempt(
    new UpdateCommand({
      TableName: table.tableName,
      Key: { [Attr.pk]: keyItemKey(tenantId, key) },
      UpdateExpression: 'SET #task_id = :to',
      ConditionExpression: '#task_id = :from',
      ExpressionAttributeNames: { '#task_id': Attr.taskId },
      ExpressionAttributeValues: { ':from': from, ':to': to },
    }),
    isConditionFailure,
  );
  return !isRefused(out);
}

async function getKey(table: TableClient, pk: string): Promise<Item | undefined> {
  const out = await table.send(
    new GetCommand({ TableName: table.tableName, Key: { [Attr.pk]: pk }, ConsistentRead: true }),
  );
  return out.Item;
}

function recordOf(item: Item): IdempotencyKeyRecord {
  return { taskId: String(item[Attr.taskId]), requestHash: String(item[Attr.requestHash]) };
}
