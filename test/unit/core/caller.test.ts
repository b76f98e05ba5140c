import { authConfigFromEnv, callerFromClaims, tenantFor } from '../../../lambda/core/caller';
import { InvalidRequest, TenantClaimInvalid, TenantMismatch } from '../../../lambda/core/errors';

const JWT = { mode: 'jwt', tenantClaim: 'tenant_id' } as const;
const COGNITO = { mode: 'cognito', tenantClaim: 'custom:tenant_id' } as const;

describe('claims -> tenant (lambda/core/caller.ts)', () => {
  test('the configured claim is the tenant', () => {
    expect(callerFromClaims(JWT, { tenant_id: 'tenant1', sub: 'x' })).toEqual({ tenantId: 'tenant1' });
    expect(callerFromClaims(COGNITO, { 'custom:tenant_id': 'acme', tenant_id: 'other' })).toEqual({ tenantId: 'acme' });
  });

  test.each([
    ['no claims at all', undefined],
    ['the claim missing', { sub: 'x' }],
    ['the claim empty', { tenant_id: '' }],
    ['a claim with a space', { tenant_id: 'tenant 1' }],
    ['a claim over 128 characters', { tenant_id: 'a'.repeat(129) }],
    ['an array claim as API Gateway passes it', { tenant_id: '[a b]' }],
  ])('%s -> TenantClaimInvalid naming the claim', (_name, claims) => {
    expect(() => callerFromClaims(JWT, claims)).toThrow(TenantClaimInvalid);
    try {
      callerFromClaims(JWT, claims);
    } catch (error) {
      expect((error as TenantClaimInvalid).claim).toBe('tenant_id');
    }
  });

  test('iam and none have no token tenant; verified claims under them mean a misconfigured stack and are refused', () => {
    expect(callerFromClaims({ mode: 'iam', tenantClaim: 'tenant_id' }, undefined)).toEqual({});
    expect(callerFromClaims({ mode: 'none', tenantClaim: 'tenant_id' }, undefined)).toEqual({});
    expect(() => callerFromClaims({ mode: 'iam', tenantClaim: 'tenant_id' }, { tenant_id: 't' })).toThrow(
      /AUTH_MODE is iam/,
    );
    expect(() => callerFromClaims({ mode: 'none', tenantClaim: 'tenant_id' }, {})).toThrow(/AUTH_MODE is none/);
  });
});

describe('the tenant a request acts for', () => {
  test("with a token: the token's; the request may name the same tenant or none", () => {
    expect(tenantFor({ tenantId: 't1' }, undefined, 'body')).toBe('t1');
    expect(tenantFor({ tenantId: 't1' }, 't1', 'query')).toBe('t1');
  });

  test('with a token: another tenant named in the request -> TenantMismatch naming both and the source', () => {
    expect(() => tenantFor({ tenantId: 't1' }, 't2', 'query')).toThrow(
      expect.objectContaining({ tokenTenantId: 't1', requestTenantId: 't2', source: 'query' }),
    );
    expect(() => tenantFor({ tenantId: 't1' }, 't2', 'body')).toThrow(TenantMismatch);
  });

  test('with a token: a malformed tenant in the request is still a 400 (InvalidRequest)', () => {
    expect(() => tenantFor({ tenantId: 't1' }, 'bad tenant', 'body')).toThrow(InvalidRequest);
  });

  test('without a token the request must name the tenant', () => {
    expect(tenantFor({}, 't1', 'body')).toBe('t1');
    expect(() => tenantFor({}, undefined, 'query')).toThrow(/tenant_id is required/);
  });
});

describe('AUTH_MODE and TENANT_CLAIM', () => {
  test('AUTH_MODE is required: unset or empty fails with a message naming it', () => {
    expect(() => authConfigFromEnv({})).toThrow(/AUTH_MODE is not set/);
    expect(() => authConfigFromEnv({ AUTH_MODE: '' })).toThrow(/AUTH_MODE is not set/);
  });

  test('TENANT_CLAIM defaults: tenant_id, or custom:tenant_id under cognito', () => {
    expect(authConfigFromEnv({ AUTH_MODE: 'none' })).toEqual({ mode: 'none', tenantClaim: 'tenant_id' });
    expect(authConfigFromEnv({ AUTH_MODE: 'cognito' })).toEqual({ mode: 'cognito', tenantClaim: 'custom:tenant_id' });
    expect(authConfigFromEnv({ AUTH_MODE: 'jwt', TENANT_CLAIM: 'org' })).toEqual({ mode: 'jwt', tenantClaim: 'org' });
  });

  test('an unknown mode is refused with the allowed ones', () => {
    expect(() => authConfigFromEnv({ AUTH_MODE: 'oauth' })).toThrow(/cognito, jwt, iam, none/);
  });
});
