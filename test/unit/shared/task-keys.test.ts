import fc from 'fast-check';
import type { Keyring } from '../../../lambda/shared/keyring';
import { parseActiveTaskKey } from '../../../lambda/shared/table';
import { LEGACY_TASK_ID_LENGTH, TASK_ID_LENGTH, TaskKeys } from '../../../lambda/shared/task-keys';
import { legacyDigest, legacyTaskId } from '../../support/legacy-keys';

const SALT = '6f1c2e9a-1b7d-4c3e-9a51-0d2f4b6c8e01';
const KEY_1 = 'k1-'.padEnd(64, 'a');
const KEY_2 = 'k2-'.padEnd(64, 'b');
const keyring = (current: number, keys: Record<number, string>, salt = SALT): Keyring => ({
  salt,
  current,
  keys: new Map(Object.entries(keys).map(([v, k]) => [Number(v), k])),
});
const keys = new TaskKeys(keyring(1, { 1: KEY_1 }));
// A tenant as validation admits it (no U+0000, the separator in the digest's input); a video name may hold anything.
const tenantText = fc.string({
  unit: fc.constantFrom('a', 'B', '7', '.', '_', ':', '@', '-'),
  minLength: 1,
  maxLength: 128,
});
const text = fc.oneof(
  fc.string({ unit: 'grapheme', minLength: 1 }),
  fc.string({ unit: fc.constantFrom('#', '\u0000', 'a', 'é', 'e\u0301', '😀'), minLength: 1 }),
);
const sealedHalf = (id: string) => Buffer.from(id, 'base64url').subarray(17).toString('hex');

describe('task ids', () => {
  test('44 base64url characters (no padding): version 1, then 32 bytes; a valid Step Functions execution name', () => {
    fc.assert(
      fc.property(text, text, (tenant, video) => {
        const id = keys.newTaskId(tenant, video);
        expect(id).toHaveLength(TASK_ID_LENGTH);
        expect(id).toMatch(/^[A-Za-z0-9_-]{44}$/);
        const bytes = Buffer.from(id, 'base64url');
        expect(bytes).toHaveLength(33);
        expect(bytes[0]).toBe(1);
      }),
      { numRuns: 500 },
    );
  });

  test('the video digest is recoverable from the id with the key, so the id leads to its active key', () => {
    fc.assert(
      fc.property(text, text, (tenant, video) => {
        const id = keys.newTaskId(tenant, video);
        expect(keys.videoDigestOfId(id)).toBe(keys.videoDigest(tenant, video));
        expect(keys.activeKeyOfId(tenant, id)).toBe(keys.activeKey(tenant, video));
        expect(parseActiveTaskKey(keys.activeKey(tenant, video))).toEqual({
          tenantId: tenant,
          videoDigest: keys.videoDigest(tenant, video),
        });
      }),
      { numRuns: 500 },
    );
  });

  test('the id hides the digest: two ids of one video share no half, and the salt alone does not unseal it', () => {
    const a = keys.newTaskId('tenant1', 'a.mp4');
    const b = keys.newTaskId('tenant1', 'a.mp4');
    expect(a).not.toBe(b);
    expect(sealedHalf(a)).not.toBe(sealedHalf(b));
    // Whoever knows the salt (the stack's UUID is public) computes the digest of a guess, but it is not in the id.
    const guess = legacyDigest(SALT, 'tenant1', 'a.mp4').toString('hex');
    expect(Buffer.from(a, 'base64url').toString('hex')).not.toContain(guess);
    // Another key with the same salt unseals something else.
    const otherKey = new TaskKeys(keyring(1, { 1: KEY_2 }));
    expect(otherKey.videoDigestOfId(a)).not.toBe(keys.videoDigest('tenant1', 'a.mp4'));
  });

  test('ids drawn across several draws of the random pool never share their nonce', () => {
    // 256 ids a draw: 1,000 ids span four draws and the boundaries between them.
    const nonces = Array.from({ length: 1000 }, () =>
      Buffer.from(keys.newTaskId('tenant1', 'a.mp4'), 'base64url').subarray(1, 17).toString('hex'),
    );
    expect(new Set(nonces).size).toBe(1000);
    expect(nonces.every((nonce) => nonce !== '0'.repeat(32))).toBe(true);
  });

  test('different tenants or videos give different digests, even when their joined text is equal', () => {
    fc.assert(
      fc.property(tenantText, text, tenantText, text, (t1, v1, t2, v2) => {
        fc.pre(t1 !== t2 || v1.normalize('NFC') !== v2.normalize('NFC'));
        expect(keys.videoDigest(t1, v1)).not.toBe(keys.videoDigest(t2, v2));
      }),
      { numRuns: 1000 },
    );
    expect(keys.videoDigest('a', 'b:c')).not.toBe(keys.videoDigest('a:b', 'c'));
    expect(keys.videoDigest('tenant1', 'a.mp4')).not.toBe(keys.videoDigest('tenant2', 'a.mp4'));
  });

  test('the digest is of the NFC form: composed and decomposed spellings are one video', () => {
    expect(keys.videoDigest('t', 'caf\u00e9.mp4')).toBe(keys.videoDigest('t', 'cafe\u0301.mp4'));
    expect(keys.activeKey('t', 'caf\u00e9.mp4')).toBe(keys.activeKey('t', 'cafe\u0301.mp4'));
  });

  test('the active key depends on the salt only: a new secret key (rotation) keeps every active key', () => {
    const rotated = new TaskKeys(keyring(2, { 1: KEY_1, 2: KEY_2 }));
    expect(rotated.activeKey('tenant1', 'a.mp4')).toBe(keys.activeKey('tenant1', 'a.mp4'));
    expect(new TaskKeys(keyring(1, { 1: KEY_1 }, 'other-salt')).videoDigest('tenant1', 'a.mp4')).not.toBe(
      keys.videoDigest('tenant1', 'a.mp4'),
    );
    expect(keys.activeKey('tenant1', 'secret-video-name.mp4')).not.toContain('secret');
  });

  test('a malformed id has no digest (and so no key): wrong length, alphabet, version 0 or a non-canonical spelling', () => {
    const id = keys.newTaskId('tenant1', 'a.mp4');
    const versionZero = Buffer.from(id, 'base64url');
    versionZero[0] = 0;
    for (const bad of [
      '',
      id.slice(2),
      `${id}A`,
      `${id.slice(0, 43)}=`,
      `${id.slice(0, 43)}+`,
      versionZero.toString('base64url'),
      '5f0c3a52-8d0e-4c4b-a0f7-0e6f0d6f7b11',
      '../../etc/passwd',
    ]) {
      expect(keys.videoDigestOfId(bad)).toBeUndefined();
      expect(keys.activeKeyOfId('tenant1', bad)).toBeUndefined();
    }
    // A 43-character (pre-keyring) id's last character carries 2 unused bits: another spelling is refused.
    const legacy = legacyTaskId(SALT, 'tenant1', 'a.mp4', Buffer.alloc(16, 3));
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sibling = alphabet[alphabet.indexOf(legacy.at(-1)!) ^ 1];
    expect(keys.videoDigestOfId(`${legacy.slice(0, 42)}${sibling}`)).toBeUndefined();
  });
});

describe('ids made before the keyring (43 characters, the digest in the clear under the old key)', () => {
  test('lead to the active key their video has today: the salt is the old key', () => {
    fc.assert(
      fc.property(text, text, fc.uint8Array({ minLength: 16, maxLength: 16 }), (tenant, video, random) => {
        const old = legacyTaskId(SALT, tenant, video, Buffer.from(random));
        expect(old).toHaveLength(LEGACY_TASK_ID_LENGTH);
        expect(keys.activeKeyOfId(tenant, old)).toBe(keys.activeKey(tenant, video));
      }),
      { numRuns: 300 },
    );
  });
});

describe('key versions', () => {
  test('after a rotation new ids name version 2 and ids of version 1 still resolve', () => {
    const v1 = keys.newTaskId('tenant1', 'a.mp4');
    const rotated = new TaskKeys(keyring(2, { 1: KEY_1, 2: KEY_2 }));
    const v2 = rotated.newTaskId('tenant1', 'a.mp4');
    expect(Buffer.from(v2, 'base64url')[0]).toBe(2);
    expect(rotated.currentVersion).toBe(2);
    expect(rotated.activeKeyOfId('tenant1', v1)).toBe(keys.activeKey('tenant1', 'a.mp4'));
    expect(rotated.activeKeyOfId('tenant1', v2)).toBe(keys.activeKey('tenant1', 'a.mp4'));
    // An instance that started before the rotation does not know version 2 without reading the keyring again.
    expect(keys.activeKeyOfId('tenant1', v2)).toBeUndefined();
  });

  test('an id of an unknown version reads the keyring again, concurrent callers sharing the read; a version still unknown is undefined', async () => {
    const v2 = new TaskKeys(keyring(2, { 1: KEY_1, 2: KEY_2 })).newTaskId('tenant1', 'a.mp4');
    let reads = 0;
    let next = keyring(1, { 1: KEY_1 });
    const stale = new TaskKeys(keyring(1, { 1: KEY_1 }), {
      reload: async () => {
        reads++;
        await new Promise((resolve) => setTimeout(resolve, 5));
        return next;
      },
    });
    // Not rotated yet: one read for three concurrent requests, and the version stays unknown.
    await expect(Promise.all([1, 2, 3].map(() => stale.resolveActiveKeyOfId('tenant1', v2)))).resolves.toEqual([
      undefined,
      undefined,
      undefined,
    ]);
    expect(reads).toBe(1);
    // Rotated: the next read finds version 2, the id resolves, and later ones need no read; new ids use version 2.
    next = keyring(2, { 1: KEY_1, 2: KEY_2 });
    await expect(stale.resolveActiveKeyOfId('tenant1', v2)).resolves.toBe(keys.activeKey('tenant1', 'a.mp4'));
    await expect(stale.resolveActiveKeyOfId('tenant1', v2)).resolves.toBe(keys.activeKey('tenant1', 'a.mp4'));
    expect(reads).toBe(2);
    expect(stale.currentVersion).toBe(2);
    // Malformed ids and known versions never read it.
    await expect(stale.resolveActiveKeyOfId('tenant1', 'not-an-id')).resolves.toBeUndefined();
    await expect(stale.resolveActiveKeyOfId('tenant1', keys.newTaskId('t', 'b.mp4'))).resolves.toBeDefined();
    expect(reads).toBe(2);
  });

  test('a reload that refuses (too soon, Secrets Manager down) fails the request rather than calling the id unknown', async () => {
    const v2 = new TaskKeys(keyring(2, { 1: KEY_1, 2: KEY_2 })).newTaskId('tenant1', 'a.mp4');
    const stale = new TaskKeys(keyring(1, { 1: KEY_1 }), { reload: () => Promise.reject(new Error('not now')) });
    await expect(stale.resolveActiveKeyOfId('tenant1', v2)).rejects.toThrow('not now');
    await expect(stale.cursorKey(2)).rejects.toThrow('not now');
  });

  test('a keyring read again with another salt is refused: every active key would change', async () => {
    const v2 = new TaskKeys(keyring(2, { 1: KEY_1, 2: KEY_2 })).newTaskId('tenant1', 'a.mp4');
    const stale = new TaskKeys(keyring(1, { 1: KEY_1 }), {
      reload: () => Promise.resolve(keyring(2, { 1: KEY_1, 2: KEY_2 }, 'another-salt')),
    });
    await expect(stale.resolveActiveKeyOfId('tenant1', v2)).rejects.toThrow(/active_key_salt/);
    expect(stale.activeKey('tenant1', 'a.mp4')).toBe(keys.activeKey('tenant1', 'a.mp4'));
  });
});
