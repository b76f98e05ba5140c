import fc from 'fast-check';
import { storageKeyOf } from '../../../lambda/core/storage-key';
import { at } from '../../support/at';

describe('storageKeyOf: the analysis input key, under the tenant prefix whatever the filename', () => {
  test.each([
    ['tenant1', 'movie.mp4', 'tenants/tenant1/movie.mp4'],
    ['tenantA', '../tenantB/secret.mp4', 'tenants/tenantA/..%2FtenantB%2Fsecret.mp4'],
    ['tenantA', '..', 'tenants/tenantA/%2E%2E'],
    ['..', 'x.mp4', 'tenants/%2E%2E/x.mp4'],
    ['t@x.com', 'my film #1?.mp4', 'tenants/t%40x.com/my%20film%20%231%3F.mp4'],
  ])('(%s, %s) -> %s', (tenant, filename, key) => {
    expect(storageKeyOf(tenant, filename)).toBe(key);
  });

  test('any tenant and filename: exactly three segments, none a dot segment, decoding back to the tenant and the filename', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Za-z0-9._:@-]{1,128}$/),
        fc.string({ minLength: 1, unit: 'grapheme' }),
        (tenant, filename) => {
          const parts = storageKeyOf(tenant, filename).split('/');
          expect(parts).toHaveLength(3);
          expect(parts[0]).toBe('tenants');
          expect(parts.some((p) => p === '.' || p === '..')).toBe(false);
          expect(decodeURIComponent(at(parts, 1))).toBe(tenant);
          expect(decodeURIComponent(at(parts, 2))).toBe(filename);
        },
      ),
    );
  });
});
