/** The API's auth modes and the token claims each reads the tenant from. No SDK import. */

/** How the API authenticates its callers (the stack's `auth` context; the handler's env `AUTH_MODE`). */
export const AuthMode = { Cognito: 'cognito', Jwt: 'jwt', Iam: 'iam', None: 'none' } as const;
export type AuthMode = (typeof AuthMode)[keyof typeof AuthMode];

/** The token claim that holds the caller's tenant, unless the deployment names another. */
export const DEFAULT_TENANT_CLAIM = 'tenant_id';
/** Cognito prefixes custom attributes with `custom:` in its tokens. */
export const COGNITO_TENANT_CLAIM = 'custom:tenant_id';

/** The claim a mode reads the tenant from when the deployment names none. */
export function defaultTenantClaim(mode: AuthMode): string {
  return mode === AuthMode.Cognito ? COGNITO_TENANT_CLAIM : DEFAULT_TENANT_CLAIM;
}
