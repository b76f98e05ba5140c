import { InvalidRequest, TenantClaimInvalid, TenantMismatch } from './errors';
import { AuthMode, defaultTenantClaim } from '../shared/auth-modes';
import { parseTenantId } from './validation';

export interface AuthConfig {
  readonly mode: AuthMode;
  /** Name of the verified token claim that holds the caller's tenant (cognito and jwt modes). */
  readonly tenantClaim: string;
}

/**
 * Who is calling: `tenantId` is the verified token's tenant, or undefined when the mode has no token
 * (iam, none) and the tenant is trusted from the request.
 */
export interface Caller {
  readonly tenantId?: string;
}

type Env = Record<string, string | undefined>;

/**
 * AUTH_MODE (required: a handler that guessed `none` would trust the tenant a request names) and TENANT_CLAIM.
 * @throws Error naming the variable when AUTH_MODE is missing or unknown
 */
export function authConfigFromEnv(env: Env): AuthConfig {
  const mode = env.AUTH_MODE;
  if (!mode) {
    throw new Error(
      `Environment variable AUTH_MODE is not set; it must be one of ${Object.values(AuthMode).join(', ')} (the stack sets it from its auth context).`,
    );
  }
  if (!(Object.values(AuthMode) as string[]).includes(mode)) {
    throw new Error(
      `Environment variable AUTH_MODE must be one of ${Object.values(AuthMode).join(', ')}, got "${mode}".`,
    );
  }
  const checked = mode as AuthMode;
  return { mode: checked, tenantClaim: env.TENANT_CLAIM || defaultTenantClaim(checked) };
}

/**
 * The caller, from the claims the authorizer verified (API Gateway's JWT authorizer, or its local emulation).
 * In token modes a missing claim or one that breaks the tenant rules is refused: the request never falls back to a
 * tenant it names itself.
 * @throws TenantClaimInvalid
 */
export function callerFromClaims(config: AuthConfig, claims: Readonly<Record<string, unknown>> | undefined): Caller {
  if (config.mode === AuthMode.Iam || config.mode === AuthMode.None) {
    // Verified claims mean a JWT authorizer sits in front of a function configured not to read them: refuse (500)
    // rather than act for whatever tenant the request names.
    if (claims !== undefined)
      throw new Error(
        `Verified JWT claims reached a handler whose AUTH_MODE is ${config.mode}: the stack and the function disagree on authentication.`,
      );
    return {};
  }
  const value = claims?.[config.tenantClaim];
  if (value === undefined || value === null || value === '') {
    throw new TenantClaimInvalid(
      config.tenantClaim,
      `The token has no ${config.tenantClaim} claim; it cannot act for any tenant.`,
    );
  }
  try {
    return { tenantId: parseTenantId(value) };
  } catch (error) {
    if (!(error instanceof InvalidRequest)) throw error;
    throw new TenantClaimInvalid(
      config.tenantClaim,
      `The token's ${config.tenantClaim} claim is not a valid tenant: ${error.message.replace(/^tenant_id /, '')}.`,
    );
  }
}

/**
 * The tenant a request acts for. With a token it is the token's; a tenant the request also names (optional) must be
 * the same. Without a token it is the tenant the request names (required).
 * @throws InvalidRequest when the named tenant is missing (no token) or malformed; TenantMismatch when it differs
 */
export function tenantFor(caller: Caller, named: unknown, source: 'body' | 'query'): string {
  if (caller.tenantId === undefined) return parseTenantId(named);
  if (named === undefined) return caller.tenantId;
  const requested = parseTenantId(named);
  if (requested !== caller.tenantId) throw new TenantMismatch(caller.tenantId, requested, source);
  return caller.tenantId;
}
