import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createLocalJWKSet, decodeProtectedHeader, errors, type JSONWebKeySet, type JWTPayload, jwtVerify } from 'jose';
import type { LocalResponse } from './local-response';

/** Lets the request through with the claims in its event, or answers it (401) before the handler runs. */
export type Authorize = (
  event: APIGatewayProxyEventV2,
) => Promise<{ event: APIGatewayProxyEventV2 } | { reject: LocalResponse }>;

export interface JwtAuthorizerOptions {
  readonly jwks: JSONWebKeySet;
  readonly issuer: string;
  /** Accepted `aud` values; a token without `aud` is accepted on its `client_id` (as Cognito access tokens). */
  readonly audience: readonly string[];
}

/** What API Gateway answers when its JWT authorizer refuses a request. */
function unauthorized(challenge: string): { reject: LocalResponse } {
  return {
    reject: {
      statusCode: 401,
      headers: { 'Content-Type': 'application/json', 'www-authenticate': challenge },
      body: JSON.stringify({ message: 'Unauthorized' }),
    },
  };
}

const invalid = (description: string) =>
  unauthorized(`Bearer error="invalid_token" error_description="${description.replace(/"/g, "'")}"`);

/**
 * The HTTP API JWT authorizer ("Controlling access to HTTP APIs with JWT authorizers"): the token from the
 * Authorization header (with or without "Bearer "), its `kid` looked up in the JWKS, the signature checked with RS256
 * only (never `none`), then `iss`, `aud` (or `client_id`), `exp` (required) and `nbf`. The verified claims go where
 * API Gateway puts them, requestContext.authorizer.jwt.claims, as strings.
 */
export function createJwtAuthorizer(options: JwtAuthorizerOptions): Authorize {
  const keys = createLocalJWKSet(options.jwks);
  return async (event) => {
    const header = Object.entries(event.headers ?? {}).find(([name]) => name.toLowerCase() === 'authorization')?.[1];
    const token = header?.replace(/^Bearer\s+/i, '').trim();
    if (!token) return unauthorized('Bearer');
    let payload: JWTPayload;
    try {
      if (!decodeProtectedHeader(token).kid) return invalid('the token has no kid');
      ({ payload } = await jwtVerify(token, keys, {
        issuer: options.issuer,
        algorithms: ['RS256'],
        requiredClaims: ['exp'],
      }));
    } catch (error) {
      return invalid(error instanceof errors.JOSEError ? describe(error) : 'the token is malformed');
    }
    const audiences = payload.aud === undefined ? [] : Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    const accepted = audiences.length
      ? audiences.some((a) => options.audience.includes(a))
      : typeof payload.client_id === 'string' && options.audience.includes(payload.client_id);
    if (!accepted) return invalid('the token has an invalid audience');
    return { event: withClaims(event, payload) };
  };
}

function describe(error: errors.JOSEError): string {
  if (error instanceof errors.JWTExpired) return 'the token has expired';
  if (error instanceof errors.JWTClaimValidationFailed) return `the token has an invalid ${error.claim} claim`;
  if (error instanceof errors.JWKSNoMatchingKey) return 'no key in the JWKS matches the token';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'the token signature is invalid';
  if (error instanceof errors.JOSEAlgNotAllowed) return 'the token algorithm is not allowed';
  return 'the token is malformed';
}

/** Payload 2.0 carries each claim as a string; arrays look like "[a b]" (what API Gateway sends). */
function withClaims(event: APIGatewayProxyEventV2, payload: JWTPayload): APIGatewayProxyEventV2 {
  const claims = Object.fromEntries(Object.entries(payload).map(([name, value]) => [name, claimText(value)]));
  const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ') : null;
  return {
    ...event,
    requestContext: {
      ...event.requestContext,
      authorizer: { jwt: { claims, scopes } },
    } as APIGatewayProxyEventV2['requestContext'],
  };
}

function claimText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return `[${value.join(' ')}]`;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}
