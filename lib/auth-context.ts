import type { TrackingAuth } from './tracking-stack';

import { AuthMode, COGNITO_TENANT_CLAIM } from '../lambda/shared/auth-modes';

/** Why any other claim is refused under cognito: users can change standard attributes such as email or name. */
export const COGNITO_CLAIM_ONLY = `auth=cognito takes the tenant only from ${COGNITO_TENANT_CLAIM}, the attribute the stack makes immutable and unwritable by its app client; a claim such as email or name can be changed by its user, who could then act for any tenant.`;

export interface AuthChoice {
  readonly auth: TrackingAuth;
  /** Printed at synth when the choice leaves the API open. */
  readonly warning?: string;
}

/**
 * The `auth`, `jwtIssuer`, `jwtAudience` and `tenantClaim` context values (`-c name=value`) as the stack's auth.
 * Secure by default: without `auth` the stack gets a Cognito user pool; `none` only when asked for by name.
 */
export function authFromContext(context: (name: string) => unknown): AuthChoice {
  const rawMode = context('auth');
  const mode = rawMode === undefined || rawMode === null ? AuthMode.Cognito : text('auth', rawMode);
  const tenantClaim = optionalString('tenantClaim', context('tenantClaim'));
  if (tenantClaim !== undefined && !/^[\w:.-]{1,128}$/.test(tenantClaim)) {
    throw new Error(
      `Context "tenantClaim" must be a claim name (letters, digits, _ : . -), got ${JSON.stringify(tenantClaim)}.`,
    );
  }
  switch (mode) {
    case AuthMode.Cognito:
      if (tenantClaim !== undefined && tenantClaim !== COGNITO_TENANT_CLAIM) throw new Error(COGNITO_CLAIM_ONLY);
      return { auth: { mode, tenantClaim } };
    case AuthMode.Jwt: {
      const issuer = optionalString('jwtIssuer', context('jwtIssuer'));
      const audience = list('jwtAudience', context('jwtAudience'));
      if (!issuer?.startsWith('https://') || audience.length === 0) {
        throw new Error(
          'auth=jwt needs -c jwtIssuer=https://<your provider> and -c jwtAudience=<aud>[,<aud>…] (and -c tenantClaim=<claim> if not tenant_id).',
        );
      }
      return { auth: { mode, issuer, audience, tenantClaim } };
    }
    case AuthMode.Iam:
    case AuthMode.None:
      if (tenantClaim !== undefined)
        throw new Error(`Context "tenantClaim" applies to auth=cognito or auth=jwt, not auth=${mode}.`);
      return mode === AuthMode.Iam
        ? {
            auth: { mode },
            warning:
              'auth=iam: any caller allowed to invoke the API (execute-api:Invoke) acts for any tenant it names. Grant that permission only to trusted services.',
          }
        : {
            auth: { mode },
            warning:
              "auth=none: the API has no authentication. Any caller can read and cancel any tenant's tasks by naming the tenant. Do not deploy real data this way.",
          };
    default:
      throw new Error(
        `Context "auth" must be one of ${Object.values(AuthMode).join(', ')}, got ${JSON.stringify(mode)}.`,
      );
  }
}

/** A context value as text: `-c` gives strings, cdk.json numbers or booleans too; anything else is refused. */
function text(name: string, raw: unknown): string {
  if (typeof raw === 'string' || typeof raw === 'number' || typeof raw === 'boolean') return String(raw);
  throw new Error(`Context "${name}" must be a string, got ${JSON.stringify(raw)}.`);
}

function optionalString(name: string, raw: unknown): string | undefined {
  return raw === undefined || raw === '' ? undefined : text(name, raw).trim();
}

/** A comma-separated list (`-c jwtAudience=a,b`) or, from cdk.json, an array. */
function list(name: string, raw: unknown): string[] {
  if (raw === undefined || raw === '') return [];
  return (Array.isArray(raw) ? raw.map((v) => text(name, v)) : text(name, raw).split(','))
    .map((s) => s.trim())
    .filter(Boolean);
}
