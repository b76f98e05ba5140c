/**
 * The task table's layout: attribute names, item kinds, key formats and the sweep index. No SDK import, so the CDK app
 * (lib/), the DynamoDB adapter, the local system and the tests share it.
 */

/** Kinds of item in the single table. */
export const ItemType = {
  Active: 'active',
  Final: 'final',
  TenantCounter: 'tenant_counter',
  IdempotencyKey: 'idempotency_key',
} as const;

/** Attribute names; the state machine definition (lib/analysis-workflow.ts) writes the same items. */
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
  leaseExpiresAt: 'lease_expires_at',
  retainUntil: 'retain_until',
  expiresAt: 'expires_at',
  sweepShard: 'sweep_shard',
  activeCount: 'active_count',
  version: 'version',
  admission: 'admission',
  claimedAt: 'claimed_at',
  takenAt: 'taken_at',
  requestHash: 'request_hash',
} as const;

/**
 * `admission` of an active item claimed under a tenant limit and not yet counted. The admission (the counter's
 * increment, in one transaction with this attribute's removal) or the refusal (a final record, in one transaction with
 * the item's delete) decides it; nothing else ends or runs a pending claim, and only an admitted task gives a slot back.
 */
export const ADMISSION_PENDING = 'pending';

/**
 * Sparse index of active tasks by age, for the repair sweep: only active items carry `sweep_shard`, so final
 * records are not in it. The shard spreads the index's writes over SWEEP_SHARDS partitions.
 */
export const ACTIVE_BY_AGE_INDEX = 'active-by-age';

/**
 * A tenant's tasks by creation time, for the listing: active items and final records carry `tenant_id` and
 * `created_at`; an item without both (a per-tenant counter) stays out of it.
 */
export const BY_TENANT_INDEX = 'by-tenant';
/**
 * The task shards of `active-by-age` (0 to SWEEP_SHARDS - 1). A task writes its shard about three times (claim,
 * MarkRunning, end): 16 partitions of 1,000 write units a second carry ~5,000 new tasks a second, far above Step
 * Functions' StartExecution quota, which bounds new tasks first.
 */
export const SWEEP_SHARDS = 16;
/**
 * The index partitions of the tenant counters (SWEEP_SHARDS to SWEEP_SHARDS + COUNTER_SHARDS - 1), apart from the task
 * shards: the sweep lists every counter there to reconcile it, and never mistakes one for a task. Spread so that no
 * index partition takes a write from every tenant's new task (one partition capped the service at a few hundred new
 * tasks a second); 16, like the task shards: a task writes its counter twice (admission, end), so 16 partitions carry
 * ~8,000 new tasks a second, and the sweep's pass over the counters costs 16 queries.
 */
export const COUNTER_SHARDS = 16;

/** FNV-1a (32 bits) of a string's UTF-16 code units: stable, fast, and even enough to spread keys over shards. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

/** A stable shard per task (FNV-1a of its id), so the index's writes spread evenly. */
export function sweepShard(taskId: string): number {
  return fnv1a(taskId) % SWEEP_SHARDS;
}

/**
 * A tenant counter's index partition, stable per tenant. Any value in the counter range is found by the sweep; the
 * first (SWEEP_SHARDS, 16) is the one every counter had before they were spread, so counters not written since stay
 * found.
 */
export function counterShard(tenantId: string): number {
  return SWEEP_SHARDS + (fnv1a(tenantId) % COUNTER_SHARDS);
}

/** Every counter partition, in order: what the sweep queries. */
export function counterShards(): number[] {
  return Array.from({ length: COUNTER_SHARDS }, (_, i) => SWEEP_SHARDS + i);
}

/**
 * Item keys. The active-task key is a length-prefixed pair of the tenant and the video digest (lambda/shared/task-keys.ts),
 * so it is injective over any two strings: ("a#b", d) -> "ACTIVE#3#a#b#d" and ("a", "b#d") -> "ACTIVE#1#a#b#d" differ.
 * Bounded size: 128-character tenant + 22-character digest + 12 bytes of framing; no raw filename in a key (it stays
 * an attribute).
 */
export const ACTIVE_PREFIX = 'ACTIVE#';
export const TASK_PREFIX = 'TASK#';

export function activeTaskKey(tenantId: string, videoDigest: string): string {
  return `${ACTIVE_PREFIX}${tenantId.length}#${tenantId}#${videoDigest}`;
}

/** Inverse of activeTaskKey; used by tests to prove injectivity and by operators reading raw items. */
export function parseActiveTaskKey(key: string): { tenantId: string; videoDigest: string } | undefined {
  const match = /^ACTIVE#(0|[1-9][0-9]*)#/.exec(key);
  if (!match) return undefined;
  const start = match[0].length;
  const end = start + Number(match[1]);
  if (key.length < end + 1 || key[end] !== '#') return undefined;
  return { tenantId: key.slice(start, end), videoDigest: key.slice(end + 1) };
}

/** One counter item per tenant: its active tasks (`active_count`) and a `version` every write of it bumps. */
export const TENANT_PREFIX = 'TENANT#';

export function tenantCounterKey(tenantId: string): string {
  return `${TENANT_PREFIX}${tenantId.length}#${tenantId}`;
}

export function parseTenantCounterKey(key: string): string | undefined {
  const match = /^TENANT#(0|[1-9][0-9]*)#/.exec(key);
  if (!match || key.length !== match[0].length + Number(match[1])) return undefined;
  return key.slice(match[0].length);
}

/**
 * The one update of a tenant counter, with `:delta` (+1 an admission, -1 a task's end, 0 a takeover) and `:at`; the
 * state machine's finishing steps (lib/private/workflow-finish-steps.ts) and the DynamoDB adapter write it alike
 * (lambda/shared/finish-write.ts). It (re)creates a missing counter in its counter partition of the index
 * (`:counter_shard`, counterShard of the tenant), so the sweep always finds it.
 */
export const COUNTER_UPDATE = {
  expression:
    'ADD #count :delta, #version :one SET #updated_at = :at, #item_type = :counter, #shard = :counter_shard, #created_at = if_not_exists(#created_at, :at)',
  names: {
    '#count': Attr.activeCount,
    '#version': Attr.version,
    '#updated_at': Attr.updatedAt,
    '#item_type': Attr.itemType,
    '#shard': Attr.sweepShard,
    '#created_at': Attr.createdAt,
  },
} as const;

/**
 * COUNTER_UPDATE for a write that makes a task counted (an admission, a takeover's hand-over): it also stamps
 * `taken_at` with the Lambda's clock. The reconciliation compares only counters whose last such write is older than
 * its cutoff, so every task a counter counts is old enough to be in the sweep's tally; an end (-1, stamped by the
 * state machine with the time its step was entered) never makes a task counted and leaves `taken_at` alone.
 */
export const COUNTER_TAKE = {
  expression: `${COUNTER_UPDATE.expression}, #taken_at = :at`,
  names: { ...COUNTER_UPDATE.names, '#taken_at': Attr.takenAt },
} as const;

/**
 * A tenant's Idempotency-Key: `IDEM#<len(tenant)>#<tenant>#<key digest>` (the digest base64url of SHA-256 of the key,
 * so a key of any bytes gives a bounded key). It carries neither `tenant_id` and `created_at` nor `sweep_shard`, so
 * it is in no index.
 */
export const IDEMPOTENCY_KEY_PREFIX = 'IDEM#';

export function idempotencyKeyItemKey(tenantId: string, keyDigest: string): string {
  return `${IDEMPOTENCY_KEY_PREFIX}${tenantId.length}#${tenantId}#${keyDigest}`;
}

export function taskRecordKey(taskId: string): string {
  return `${TASK_PREFIX}${taskId}`;
}
