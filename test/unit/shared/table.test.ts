import fc from 'fast-check';
import {
  activeTaskKey,
  COUNTER_SHARDS,
  counterShard,
  counterShards,
  parseActiveTaskKey,
  SWEEP_SHARDS,
  sweepShard,
} from '../../../lambda/shared/table';

const text = fc.oneof(
  fc.string({ unit: 'grapheme' }),
  fc.string({ unit: fc.constantFrom('#', '%', 'a', '1', ':', 'é', '\u0301', '😀') }),
);

describe('active-task key encoding', () => {
  test('the documented collision of naive joining does not happen', () => {
    expect(activeTaskKey('a#b', 'c')).not.toBe(activeTaskKey('a', 'b#c'));
  });

  test('decodes back to the pair it encodes (so it is injective)', () => {
    fc.assert(
      fc.property(text, text, (tenant, video) => {
        expect(parseActiveTaskKey(activeTaskKey(tenant, video))).toEqual({ tenantId: tenant, videoDigest: video });
      }),
      { numRuns: 2000 },
    );
  });

  test('two different pairs never share a key', () => {
    fc.assert(
      fc.property(text, text, text, text, (t1, v1, t2, v2) => {
        fc.pre(t1 !== t2 || v1 !== v2);
        expect(activeTaskKey(t1, v1)).not.toBe(activeTaskKey(t2, v2));
      }),
      { numRuns: 2000 },
    );
  });

  test('the largest valid tenant (128 ASCII characters) with its 22-character digest stays a short key', () => {
    const key = activeTaskKey('t'.repeat(128), 'A'.repeat(22));
    expect(Buffer.byteLength(key, 'utf8')).toBe(7 + 3 + 1 + 128 + 1 + 22);
  });
});

describe("the tenant counters' partitions of the sweep index", () => {
  test('a tenant always gets the same counter shard, one of those the sweep queries, never a task shard', () => {
    const queried = new Set(counterShards());
    fc.assert(
      fc.property(text, (tenant) => {
        const shard = counterShard(tenant);
        expect(counterShard(tenant)).toBe(shard);
        expect(Number.isInteger(shard)).toBe(true);
        expect(queried.has(shard)).toBe(true);
        expect(shard).toBeGreaterThanOrEqual(SWEEP_SHARDS);
      }),
      { numRuns: 2000 },
    );
    expect(queried.size).toBe(COUNTER_SHARDS);
    // The partition every counter had before they were spread is still queried: counters not written since are found.
    expect(queried.has(16)).toBe(true);
  });

  test('task shards stay below the counter shards', () => {
    fc.assert(
      fc.property(fc.string(), (taskId) => {
        const shard = sweepShard(taskId);
        expect(shard).toBeGreaterThanOrEqual(0);
        expect(shard).toBeLessThan(SWEEP_SHARDS);
      }),
    );
  });

  test('1,000 tenants spread over every counter shard, none with more than twice its fair share', () => {
    const tally = new Map<number, number>();
    for (let i = 0; i < 1000; i++) {
      const shard = counterShard(`tenant-${i}`);
      tally.set(shard, (tally.get(shard) ?? 0) + 1);
    }
    expect(tally.size).toBe(COUNTER_SHARDS);
    expect(Math.max(...tally.values())).toBeLessThanOrEqual((2 * 1000) / COUNTER_SHARDS);
  });
});
