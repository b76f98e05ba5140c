import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { CursorPosition } from '../../core/cursor';
import { invalidCursor } from '../../core/cursor';
import type { ListedPage, ListQuery } from '../../core/ports';
import { ListStatus, type Task } from '../../core/task';
import { Attr, BY_TENANT_INDEX, ItemType } from '../../shared/table';
import { fromActiveItem, fromFinalItem, type Item, withoutStoreTimes } from './items';
import type { TableClient } from './table-client';

/** A filtered page (status) may need more than one Query to fill; bounded so one request stays short. */
const MAX_QUERIES_PER_PAGE = 4;
/** Items a filtered Query reads: the filter drops some, so it reads ahead rather than one Query per missing task. */
const FILTERED_READ = 100;
const ITEM_TYPES: Record<ListStatus | 'all', readonly string[]> = {
  [ListStatus.Active]: [ItemType.Active],
  [ListStatus.Finished]: [ItemType.Final],
  all: [ItemType.Active, ItemType.Final],
};

/**
 * Newest first from the by-tenant index. Each Query reads at least one item more than the page still needs, so a full
 * page whose successor exists ends with a cursor at its last task, and a page that ends the listing has none.
 */
export async function listByTenant(table: TableClient, query: ListQuery): Promise<ListedPage> {
  const types = ITEM_TYPES[query.status ?? 'all'];
  const tasks: Task[] = [];
  let start = query.after === undefined ? undefined : startKey(query.tenantId, query.after);
  for (let queries = 0; queries < MAX_QUERIES_PER_PAGE; queries++) {
    const wanted = query.limit - tasks.length;
    const page = await table.send(
      new QueryCommand({
        TableName: table.tableName,
        IndexName: BY_TENANT_INDEX,
        KeyConditionExpression: '#tenant = :tenant',
        // Only the two kinds of task item, whatever else a future item might carry.
        FilterExpression: types.map((_, i) => `#type = :type${i}`).join(' OR '),
        ExpressionAttributeNames: { '#tenant': Attr.tenantId, '#type': Attr.itemType },
        ExpressionAttributeValues: {
          ':tenant': query.tenantId,
          ...Object.fromEntries(types.map((t, i) => [`:type${i}`, t])),
        },
        ScanIndexForward: false,
        Limit: query.status ? Math.max(wanted + 1, FILTERED_READ) : wanted + 1,
        ExclusiveStartKey: start,
      }),
    );
    const items = page.Items ?? [];
    // More than the page still needs: it ends at the last item it needs, and the cursor points there.
    const last = items.length > wanted ? items[wanted - 1] : undefined;
    if (last) {
      tasks.push(...items.slice(0, wanted).map(toTask));
      return { tasks, next: positionOf(last) };
    }
    tasks.push(...items.map(toTask));
    if (!page.LastEvaluatedKey) return { tasks };
    start = page.LastEvaluatedKey;
    if (tasks.length === query.limit) break;
  }
  return { tasks, next: start === undefined ? undefined : positionOf(start) };
}

function toTask(item: Item): Task {
  return item[Attr.itemType] === ItemType.Final ? fromFinalItem(item) : withoutStoreTimes(fromActiveItem(item));
}

/** An index position: the table key and the index key of the last item read. */
function positionOf(item: Item): CursorPosition {
  return { pk: String(item[Attr.pk]), tenant: String(item[Attr.tenantId]), created: String(item[Attr.createdAt]) };
}

/** The table keys a listed item can have: an active item's or a final record's. */
const LISTED_PK = /^(?:ACTIVE|TASK)#.{1,1024}$/s;
/** `created_at` as the service writes it (Date.toISOString). */
const CREATED_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function startKey(tenantId: string, position: CursorPosition): Item {
  const { pk, tenant, created } = position;
  // Signed for this tenant already; checked again so a position can never start another tenant's partition. And
  // shaped as a listed item's keys: a cursor of the old format is signed with a public key (lambda/core/cursor.ts),
  // so a forged one must be a 400, never a key DynamoDB refuses (a 500).
  if (
    tenant !== tenantId ||
    typeof pk !== 'string' ||
    typeof created !== 'string' ||
    !LISTED_PK.test(pk) ||
    !CREATED_AT.test(created) ||
    Object.keys(position).length !== 3
  )
    throw invalidCursor();
  return { [Attr.pk]: pk, [Attr.tenantId]: tenant, [Attr.createdAt]: created };
}
