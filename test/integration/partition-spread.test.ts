import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { randomUUID } from 'node:crypto';
import { buildTrackHandler } from '../../lambda/track/index';
import {
  COUNTER_SHARDS,
  counterShard,
  parseActiveTaskKey,
  parseTenantCounterKey,
  SWEEP_SHARDS,
} from '../../lambda/shared/table';
import { type LocalApi, startLocalApi } from '../../local/api-gateway/local-api';
import { call, localStore as store, pool } from './support';

// Issue 27: no partition of the table or of an index may take a write from every tenant's new task. One new task for
// each of TENANTS tenants through the handler (tenant limit on, so the admission writes the counter), every write it
// sends recorded on the wire, then the partition keys those writes gave the table and each index.

const TENANTS = 300;
const CONCURRENCY = 16;

/** Every item a write of the handler put or updated: its table key and the index keys it wrote. */
interface Written {
  readonly pk: string;
  /** `active-by-age`'s partition key, when the write sets it (a claim, a counter update). */
  readonly sweepShard?: number;
  /** `by-tenant`'s partition key, when the write sets it (a claim). */
  readonly tenantId?: string;
}

/** What the handler's DynamoDB client sent: the claim marshalled (low-level PutItem), the rest as the document client has it. */
const writes: Written[] = [];

function recordWrites<C extends { middlewareStack: { add: (...a: any[]) => void } }>(client: C): C {
  client.middlewareStack.add(
    (next: any, context: any) => (args: any) => {
      writes.push(...writtenBy(String(context.commandName), args.input));
      return next(args);
    },
    { step: 'serialize', priority: 'high', name: 'recordWritesForSpread' },
  );
  return client;
}

function writtenBy(command: string, input: any): Written[] {
  if (command === 'PutItemCommand') return [fromPut(input.Item)];
  if (command === 'UpdateItemCommand') return [fromUpdate(input)];
  if (command !== 'TransactWriteItemsCommand') return [];
  return (input.TransactItems as any[]).flatMap((item): Written[] => {
    if (item.Put) return [fromPut(item.Put.Item)];
    if (item.Update) return [fromUpdate(item.Update)];
    if (item.Delete) return [{ pk: text(item.Delete.Key.pk) }];
    return [];
  });
}

function fromPut(item: Record<string, unknown>): Written {
  return {
    pk: text(item.pk),
    ...(item.sweep_shard === undefined ? {} : { sweepShard: num(item.sweep_shard) }),
    ...(item.tenant_id === undefined ? {} : { tenantId: text(item.tenant_id) }),
  };
}

function fromUpdate(update: any): Written {
  // The only update that sets an index key is the counter's (`#shard = :counter_shard`, lambda/shared/table.ts).
  const shard: unknown = update.ExpressionAttributeValues?.[':counter_shard'];
  return { pk: text(update.Key.pk), ...(shard === undefined ? {} : { sweepShard: num(shard) }) };
}

/** A string attribute, plain or marshalled; anything else fails the test (a key that is not a string). */
function text(value: unknown): string {
  const plain = (value as AttributeValue | undefined)?.S ?? value;
  if (typeof plain !== 'string') throw new Error(`expected a string attribute, got ${JSON.stringify(value)}`);
  return plain;
}

function num(value: unknown): number {
  const plain = (value as AttributeValue | undefined)?.N ?? value;
  return Number(plain);
}

/** The tenant a table key belongs to (an active item or a counter); every key these writes touch names one. */
function tenantOfKey(pk: string): string {
  const tenant = parseActiveTaskKey(pk)?.tenantId ?? parseTenantCounterKey(pk);
  if (tenant === undefined) throw new Error(`a new task wrote ${pk}, which names no tenant`);
  return tenant;
}

/** Per key value: the writes it took and the tenants whose new task sent them. */
function byKey<K>(entries: readonly { key: K; tenant: string }[]): Map<K, { writes: number; tenants: Set<string> }> {
  const keys = new Map<K, { writes: number; tenants: Set<string> }>();
  for (const { key, tenant } of entries) {
    const seen = keys.get(key) ?? { writes: 0, tenants: new Set<string>() };
    seen.writes++;
    seen.tenants.add(tenant);
    keys.set(key, seen);
  }
  return keys;
}

let api: LocalApi;

beforeAll(async () => {
  const handler = buildTrackHandler({ ...process.env, TENANT_ACTIVE_TASK_LIMIT: '5' }, { wrapClient: recordWrites });
  api = await startLocalApi({ auth: 'none', port: 0, handler, log: () => undefined });
});
afterAll(async () => api.close());

test(`one new task for each of ${TENANTS} tenants: no table or index partition takes a write from every tenant`, async () => {
  // GIVEN: tenants no other test uses (each with a counter of its own)
  const run = randomUUID().slice(0, 8);
  const tenants = Array.from({ length: TENANTS }, (_, i) => `spread-${run}-${i}`);

  // WHEN
  const answers = await pool(tenants, CONCURRENCY, (tenant) =>
    call('POST', `${api.url}/api/v1/track`, { tenant_id: tenant, video_filename: 'a.mp4' }),
  );

  // THEN
  expect(answers.map((a) => a.status)).toEqual(Array(TENANTS).fill(201));
  const ours = writes.filter((w) => tenants.includes(tenantOfKey(w.pk)));
  const tenantOf = (w: Written) => tenantOfKey(w.pk);

  // The table: every key is one tenant's (its active item, its counter).
  const table = byKey(ours.map((w) => ({ key: w.pk, tenant: tenantOf(w) })));
  expect(Math.max(...[...table.values()].map((k) => k.tenants.size))).toBe(1);

  // `by-tenant`: a tenant's partition is its own by design; no other tenant writes it.
  const byTenant = byKey(
    ours.flatMap((w) => (w.tenantId === undefined ? [] : [{ key: w.tenantId, tenant: tenantOf(w) }])),
  );
  expect(byTenant.size).toBe(TENANTS);
  for (const [tenantId, key] of byTenant) expect([...key.tenants]).toEqual([tenantId]);

  // `active-by-age`: the claims over the task shards, the counters over the counter shards; no value holds more than
  // twice its fair share of the writes (before issue 27 the one counter partition took every counter write: half).
  const shards = byKey(
    ours.flatMap((w) => (w.sweepShard === undefined ? [] : [{ key: w.sweepShard, tenant: tenantOf(w) }])),
  );
  const total = [...shards.values()].reduce((sum, k) => sum + k.writes, 0);
  const partitions = SWEEP_SHARDS + COUNTER_SHARDS;
  const maxShare = Math.max(...[...shards.values()].map((k) => k.writes)) / total;
  const maxTenants = Math.max(...[...shards.values()].map((k) => k.tenants.size));
  console.info(
    `partition spread: ${ours.length} writes, ${total} to active-by-age over ${shards.size} of ${partitions} partitions, ` +
      `max share ${(maxShare * 100).toFixed(1)}% (fair ${(100 / partitions).toFixed(1)}%), ` +
      `max tenants on one partition ${maxTenants} of ${TENANTS}; by-tenant ${byTenant.size} partitions of 1 tenant; ` +
      `table ${table.size} keys of 1 tenant`,
  );
  expect(shards.size).toBe(partitions);
  expect(maxShare).toBeLessThanOrEqual(2 / partitions);
  expect(maxTenants).toBeLessThan(TENANTS / 4);

  // And the sweep still finds every counter, each in its tenant's partition.
  const found = new Map<string, number>();
  for await (const page of store.tenantCounts())
    for (const count of page) if (tenants.includes(count.tenantId)) found.set(count.tenantId, count.activeCount);
  expect(found.size).toBe(TENANTS);
  const counterWrites = ours.filter((w) => parseTenantCounterKey(w.pk) !== undefined);
  expect(counterWrites).toHaveLength(TENANTS);
  for (const w of counterWrites) expect(w.sweepShard).toBe(counterShard(tenantOf(w)));
}, 30_000);
