import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, type JSONWebKeySet, type JWK, SignJWT } from 'jose';
import { COGNITO_TENANT_CLAIM } from '../../lambda/shared/auth-modes';

/** The local app client's id: the `aud` of every local ID token, as a Cognito ID token's is its app client's id. */
export const LOCAL_AUDIENCE = 'video-tracking-local';
/** As in the deployed stack's Cognito ID tokens; the handler reads it (TENANT_CLAIM) under AUTH=jwt. */
export const LOCAL_TENANT_CLAIM = COGNITO_TENANT_CLAIM;
export const MAX_TTL_SECONDS = 24 * 3600;

export interface LocalIssuer {
  /** `http://localhost:<port>`: the API's own origin. */
  readonly issuer: string;
  readonly audience: string;
  /** The public key, published at /.well-known/jwks.json. */
  readonly jwks: JSONWebKeySet;
  /** An RS256 ID token shaped like the deployed stack's Cognito ones (`token_use: id`, `custom:tenant_id`), valid for ttlSeconds. */
  issue(tenantId: string, ttlSeconds: number): Promise<string>;
}

/**
 * A local OpenID Connect issuer that mimics the deployed stack's Cognito user pool: one RS256 key pair made at start (never written to disk), identified by a `kid`
 * as a real provider's JWKS is, so the local authorizer selects keys by `kid` exactly as API Gateway does.
 */
export async function createLocalIssuer(issuer: string, signingKey?: JWK): Promise<LocalIssuer> {
  const { privateKey, jwk, kid } = signingKey ? await importSigningKey(signingKey) : await newSigningKey();
  return {
    issuer,
    audience: LOCAL_AUDIENCE,
    jwks: { keys: [jwk] },
    issue: (tenantId, ttlSeconds) =>
      // What a frontend gets from Cognito and must send: the ID token (the access token has no custom attributes).
      new SignJWT({ [LOCAL_TENANT_CLAIM]: tenantId, token_use: 'id', 'cognito:username': `local-user@${tenantId}` })
        .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
        .setIssuer(issuer)
        .setAudience(LOCAL_AUDIENCE)
        .setSubject(`local-user@${tenantId}`)
        .setIssuedAt()
        .setNotBefore('0s')
        .setExpirationTime(`${ttlSeconds}s`)
        .setJti(randomUUID())
        .sign(privateKey),
  };
}

/**
 * A private RS256 JWK with a `kid`, for a caller that must sign tokens the issuer's JWKS trusts (the integration
 * tests forge wrong-audience, wrong-issuer and expired tokens with it).
 */
export async function generateSigningKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  return { ...(await exportJWK(privateKey)), kid: `local-${randomUUID()}`, alg: 'RS256' };
}

async function newSigningKey() {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const kid = `local-${randomUUID()}`;
  return { privateKey, kid, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
}

async function importSigningKey(key: JWK) {
  if (!key.kid || key.kty !== 'RSA' || !key.d) throw new Error('The signing key must be a private RSA JWK with a kid.');
  return {
    privateKey: await importJWK(key, 'RS256'),
    kid: key.kid,
    jwk: { kty: 'RSA', n: key.n, e: key.e, kid: key.kid, alg: 'RS256', use: 'sig' },
  };
}

/** The discovery document a provider serves at /.well-known/openid-configuration (the parts a JWT authorizer reads). */
export function openIdConfiguration(issuer: LocalIssuer): Record<string, unknown> {
  return {
    issuer: issuer.issuer,
    jwks_uri: `${issuer.issuer}/.well-known/jwks.json`,
    token_endpoint: `${issuer.issuer}/local/token`,
    response_types_supported: ['token'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    claims_supported: [
      'iss',
      'sub',
      'aud',
      'exp',
      'nbf',
      'iat',
      'jti',
      'token_use',
      'cognito:username',
      LOCAL_TENANT_CLAIM,
    ],
  };
}
