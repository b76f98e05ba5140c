import { jsonResponse, type LocalResponse, type LocalRoutes } from '../api-gateway/local-response';
import { type LocalIssuer, MAX_TTL_SECONDS, openIdConfiguration } from './jwt-issuer';

const DEFAULT_TTL_SECONDS = 3600;

/**
 * Endpoints that exist only under `npm start`, never in the deployed stack: /local/auth (always), and with a local
 * issuer (AUTH=jwt) /local/token and the issuer's discovery documents.
 */
export function tokenRoutes(issuer: LocalIssuer | undefined): LocalRoutes {
  return async ({ method, path, body }) => {
    if (method === 'GET' && path === '/local/auth') {
      return json(200, issuer ? { mode: 'jwt', issuer: issuer.issuer, audience: issuer.audience } : { mode: 'none' });
    }
    if (!issuer) return undefined;
    if (method === 'GET' && path === '/.well-known/jwks.json') return json(200, issuer.jwks);
    if (method === 'GET' && path === '/.well-known/openid-configuration') return json(200, openIdConfiguration(issuer));
    if (method === 'POST' && path === '/local/token') {
      const request = parseTokenRequest(body);
      if (typeof request === 'string') return invalidRequest(request);
      const token = await issuer.issue(request.tenantId, request.ttlSeconds);
      // Named as Cognito's token endpoint names the token a frontend sends.
      return json(200, { id_token: token, token_type: 'Bearer', expires_in: request.ttlSeconds });
    }
    return undefined;
  };
}

/** The request, or what is wrong with it. Any non-empty tenant is signed, so a malformed claim can be tried locally. */
function parseTokenRequest(body: string): { tenantId: string; ttlSeconds: number } | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body || '{}');
  } catch {
    return 'The body must be JSON: {"tenant_id": "...", "ttl_seconds": 3600}.';
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return 'The body must be a JSON object.';
  const { tenant_id: tenantId, ttl_seconds: ttl = DEFAULT_TTL_SECONDS } = parsed as Record<string, unknown>;
  if (typeof tenantId !== 'string' || tenantId.length === 0 || tenantId.length > 256)
    return 'tenant_id must be a non-empty string of at most 256 characters.';
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL_SECONDS)
    return `ttl_seconds must be an integer from 1 to ${MAX_TTL_SECONDS}.`;
  return { tenantId, ttlSeconds: ttl };
}

function json(statusCode: number, body: unknown): LocalResponse {
  return jsonResponse(statusCode, body, { 'Cache-Control': 'no-store' });
}

function invalidRequest(detail: string): LocalResponse {
  return {
    statusCode: 400,
    headers: { 'Content-Type': 'application/problem+json', 'Cache-Control': 'no-store' },
    body: JSON.stringify({ type: '/problems/invalid-request', title: 'Invalid request', status: 400, detail }),
  };
}
