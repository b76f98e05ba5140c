import fc from 'fast-check';
import { parseActiveTaskKey } from '../../../lambda/shared/table';
import { TASK_ID_LENGTH, TaskKeys, videoDigestOfId } from '../../../lambda/shared/task-keys';

const keys = new TaskKeys('test-key');
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

describe('task ids', () => {
  test('43 base64url characters (no padding): a valid Step Functions execution name', () => {
    fc.assert(
      fc.property(text, text, (tenant, video) => {
        const id = keys.newTaskId(tenant, video);
        expect(id).toHaveLength(TASK_ID_LENGTH);
        expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
        expect(Buffer.from(id, 'base64url')).toHaveLength(32);
      }),
      { numRuns: 500 },
    );
  });

  test('the video digest is recoverable from the id, so the id leads to its active key', () => {
    fc.assert(
      fc.property(text, text, (tenant, video) => {
        const id = keys.newTaskId(tenant, video);
        expect(videoDigestOfId(id)).toBe(keys.videoDigest(tenant, video));
        expect(keys.activeKeyOfId(tenant, id)).toBe(keys.activeKey(tenant, video));
        expect(parseActiveTaskKey(keys.activeKey(tenant, video))).toEqual({
          tenantId: tenant,
          videoDigest: keys.videoDigest(tenant, video),
        });
      }),
      { numRuns: 500 },
    );
  });

  test('two ids of the same video differ (16 random bytes) but share the digest', () => {
    const a = keys.newTaskId('tenant1', 'a.mp4');
    const b = keys.newTaskId('tenant1', 'a.mp4');
    expect(a).not.toBe(b);
    expect(videoDigestOfId(a)).toBe(videoDigestOfId(b));
  });

  test('ids drawn across several draws of the random pool never share their random half', () => {
    // 256 ids a draw: 1,000 ids span four draws and the boundaries between them.
    const randomHalves = Array.from({ length: 1000 }, () =>
      Buffer.from(keys.newTaskId('tenant1', 'a.mp4'), 'base64url').subarray(0, 16).toString('hex'),
    );
    expect(new Set(randomHalves).size).toBe(1000);
    expect(randomHalves.every((half) => half !== '0'.repeat(32))).toBe(true);
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

  test('keyed: another key gives another digest, so an id does not reveal its video name', () => {
    expect(new TaskKeys('other-key').videoDigest('tenant1', 'a.mp4')).not.toBe(keys.videoDigest('tenant1', 'a.mp4'));
    expect(keys.activeKey('tenant1', 'secret-video-name.mp4')).not.toContain('secret');
    expect(() => new TaskKeys('')).toThrow(/TASK_ID_KEY/);
  });

  test('a malformed id has no digest (and so no key): wrong length, alphabet or a non-canonical last character', () => {
    const id = keys.newTaskId('tenant1', 'a.mp4');
    for (const bad of [
      '',
      id.slice(1),
      `${id}A`,
      `${id.slice(0, 42)}=`,
      `${id.slice(0, 42)}+`,
      '5f0c3a52-8d0e-4c4b-a0f7-0e6f0d6f7b11',
      '../../etc/passwd',
    ]) {
      expect(videoDigestOfId(bad)).toBeUndefined();
      expect(keys.activeKeyOfId('tenant1', bad)).toBeUndefined();
    }
    // The 43rd character carries 2 unused bits: another spelling of the same bytes is refused.
    const last = id.at(-1)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sibling = alphabet[alphabet.indexOf(last) ^ 1];
    expect(videoDigestOfId(`${id.slice(0, 42)}${sibling}`)).toBeUndefined();
  });
});
