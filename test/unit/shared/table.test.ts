import fc from 'fast-check';
import { activeTaskKey, parseActiveTaskKey } from '../../../lambda/shared/table';

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
