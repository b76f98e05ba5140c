import { InvalidRequest } from '../../../lambda/core/errors';
import { openCursor, signCursor } from '../../../lambda/core/cursor';
import type { Keyring } from '../../../lambda/shared/keyring';
import { TaskKeys } from '../../../lambda/shared/task-keys';
import { legacySignCursor } from '../../support/legacy-keys';

const SALT = 'stack-uuid';
const keyring = (current: number, keys: Record<number, string>, salt = SALT): Keyring => ({
  salt,
  current,
  keys: new Map(Object.entries(keys).map(([v, k]) => [Number(v), k])),
});
const KEYS = new TaskKeys(keyring(1, { 1: 'one'.padEnd(64, '1') }));
const POSITION = { pk: 'ACTIVE#2#t1#a.mp4', tenant: 't1', created: '2026-01-01T00:00:00.000Z' };

const refused = async (tenant: string, cursor: string, keys = KEYS) => {
  try {
    await openCursor(keys, tenant, cursor);
  } catch (error) {
    return error instanceof InvalidRequest && error.field === 'cursor';
  }
  return false;
};

describe('the listing cursor', () => {
  test('opens to the position it was signed with, for the tenant it was issued to; it names its key version', async () => {
    const cursor = signCursor(KEYS, 't1', POSITION);
    expect(cursor).toMatch(/^1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    await expect(openCursor(KEYS, 't1', cursor)).resolves.toEqual(POSITION);
  });

  test('another tenant, another key, an edited payload, version or signature, or garbage are refused', async () => {
    const cursor = signCursor(KEYS, 't1', POSITION);
    const [version, payload, signature] = cursor.split('.');
    if (version === undefined || payload === undefined || signature === undefined)
      throw new Error(`a cursor is version.payload.signature: ${cursor}`);
    const edited = Buffer.from(JSON.stringify({ ...POSITION, tenant: 't2' })).toString('base64url');
    const anotherKey = new TaskKeys(keyring(1, { 1: 'two'.padEnd(64, '2') }));
    expect(await refused('t2', cursor)).toBe(true);
    expect(await refused('t1', cursor, anotherKey)).toBe(true);
    expect(await refused('t1', `1.${edited}.${signature}`)).toBe(true);
    expect(await refused('t1', `2.${payload}.${signature}`)).toBe(true);
    expect(await refused('t1', `01.${payload}.${signature}`)).toBe(true);
    expect(await refused('t1', `1.${payload}.${signature.slice(1)}`)).toBe(true);
    expect(await refused('t1', `${cursor}.x`)).toBe(true);
    // Without its version it is a cursor of the old format, checked against the salt: refused.
    expect(await refused('t1', `${payload}.${signature}`)).toBe(true);
    for (const garbage of ['', '.', '..', 'abc', `.${signature}`, `1..${signature}`])
      expect(await refused('t1', garbage)).toBe(true);
  });

  test('a version no keyring can hold (above 255) is refused without reading the keyring again', async () => {
    let reads = 0;
    const counting = new TaskKeys(keyring(1, { 1: 'one'.padEnd(64, '1') }), {
      reload: () => {
        reads++;
        return Promise.resolve(keyring(1, { 1: 'one'.padEnd(64, '1') }));
      },
    });
    const [, payload, signature] = signCursor(KEYS, 't1', POSITION).split('.');
    expect(await refused('t1', `256.${payload}.${signature}`, counting)).toBe(true);
    expect(await refused('t1', `999.${payload}.${signature}`, counting)).toBe(true);
    expect(reads).toBe(0);
    expect(await refused('t1', `7.${payload}.${signature}`, counting)).toBe(true);
    expect(reads).toBe(1);
  });

  test('a validly signed payload that is not an object of strings is refused', async () => {
    const cursor = signCursor(KEYS, 't1', { n: 1 } as never);
    expect(await refused('t1', cursor)).toBe(true);
  });

  test('a cursor issued before key versions (signed with the old key, now the salt) still opens', async () => {
    const old = legacySignCursor(SALT, 't1', POSITION);
    await expect(openCursor(KEYS, 't1', old)).resolves.toEqual(POSITION);
    expect(await refused('t2', old)).toBe(true);
    expect(await refused('t1', legacySignCursor('another-stack', 't1', POSITION))).toBe(true);
  });

  test('after a rotation, cursors of version 1 still open and new ones name version 2', async () => {
    const before = signCursor(KEYS, 't1', POSITION);
    const rotated = new TaskKeys(keyring(2, { 1: 'one'.padEnd(64, '1'), 2: 'two'.padEnd(64, '2') }));
    await expect(openCursor(rotated, 't1', before)).resolves.toEqual(POSITION);
    const after = signCursor(rotated, 't1', POSITION);
    expect(after.startsWith('2.')).toBe(true);
    // An instance that started before the rotation reads its keyring again for version 2.
    const stale = new TaskKeys(keyring(1, { 1: 'one'.padEnd(64, '1') }), {
      reload: () => Promise.resolve(keyring(2, { 1: 'one'.padEnd(64, '1'), 2: 'two'.padEnd(64, '2') })),
    });
    await expect(openCursor(stale, 't1', after)).resolves.toEqual(POSITION);
  });
});
