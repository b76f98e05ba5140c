import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import fc from 'fast-check';
import {
  fromActiveItem,
  fromFinalItem,
  fromRawItem,
  toActiveItem,
  toFinalItem,
  toRawItem,
} from '../../../../lambda/adapters/dynamodb/items';
import type { ActiveTask, Task } from '../../../../lambda/core/task';
import { sweepShard } from '../../../../lambda/shared/table';
import { TEST_KEYS } from '../../../support/stored-items';

/** The task's fields that its final record keeps too. */
const TASK: Task = {
  taskId: TEST_KEYS.newTaskId('tenant1', 'a.mp4'),
  tenantId: 'tenant1',
  videoFilename: 'a.mp4',
  status: 'running',
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:01.000Z',
  startedAt: '2026-01-01T00:00:01.000Z',
};
const ACTIVE: ActiveTask = { ...TASK, leaseExpiresAt: 1_800_000_000, retainUntil: 1_900_000_000 };
const KEY = TEST_KEYS.activeKey('tenant1', 'a.mp4');

describe('item mapping', () => {
  test('an active task round-trips through its item, which carries its key and sweep shard', () => {
    const item = toActiveItem(ACTIVE, KEY);
    expect(item).toMatchObject({
      pk: KEY,
      item_type: 'active',
      sweep_shard: sweepShard(ACTIVE.taskId),
      lease_expires_at: ACTIVE.leaseExpiresAt,
    });
    expect(fromActiveItem(item)).toEqual(ACTIVE);
  });

  test('a final record round-trips, its result stored as a JSON string and its expiry as given', () => {
    const final: Task = {
      ...TASK,
      status: 'completed',
      finishedAt: '2026-01-01T00:01:00.000Z',
      result: { labels: ['cat'] },
    };
    const item = toFinalItem(final, 1_234);
    expect(item).toMatchObject({
      pk: `TASK#${ACTIVE.taskId}`,
      item_type: 'final',
      result: '{"labels":["cat"]}',
      expires_at: 1_234,
    });
    expect(fromFinalItem(item)).toEqual({ ...final, error: undefined });
  });

  test("the claim's attribute values are what the document client would send, and read back as it would read them", () => {
    // Not a name Object.prototype has (constructor, __proto__, …): marshall takes an own `constructor` for a class.
    const name = fc.stringMatching(/^[a-z_]{1,16}$/).filter((n) => !(n in Object.prototype));
    const flat = fc.dictionary(name, fc.oneof(fc.string(), fc.maxSafeInteger(), fc.constant(undefined)));
    fc.assert(
      fc.property(flat, (item) => {
        const raw = toRawItem(item);
        expect(raw).toEqual(marshall(item, { removeUndefinedValues: true }));
        expect(fromRawItem(raw)).toEqual(unmarshall(raw));
      }),
    );
    const active = toActiveItem(ACTIVE, KEY);
    expect(fromActiveItem(fromRawItem(toRawItem(active)))).toEqual(ACTIVE);
  });

  test("a refused claim's ALL_OLD holding other types (a final record's error map) reads as the document client reads it", () => {
    const raw = marshall({
      pk: 'x',
      error: { error: 'Cancelled', cause: 'by the user' },
      tags: ['a'],
      flag: true,
      none: null,
    });
    expect(fromRawItem(raw)).toEqual(unmarshall(raw));
  });

  test('toRawItem takes only strings and safe integers: anything else is a mistake, not a silent marshalling', () => {
    expect(() => toRawItem({ pk: 'x', nested: { a: 1 } })).toThrow(/nested is neither a string nor a safe integer/);
    expect(() => toRawItem({ pk: 'x', n: 2 ** 53 })).toThrow(/n is neither/);
    expect(() => toRawItem({ pk: 'x', n: 0.5 })).toThrow(/n is neither/);
  });
});
