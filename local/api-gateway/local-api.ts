import { type ApiHandler, type ApiServer, startApiServer } from './server';
import type { CorsPolicy } from './cors';
import { LocalSetupError } from '../errors';
import { freePort } from '../free-port';
import { createJwtAuthorizer } from './jwt-authorizer';
import type { JWK } from 'jose';
import { createLocalIssuer } from '../local-only/jwt-issuer';
import type { LocalRoutes } from './local-response';
import { tokenRoutes } from '../local-only/token-routes';

/** `AUTH` of `npm start`: `none` trusts the tenant named in the request; `jwt` runs a local issuer and authorizer. */
export type LocalAuth = 'none' | 'jwt';

export interface LocalApiOptions {
  readonly auth: LocalAuth;
  /** 0 picks a free one. */
  readonly port: number;
  /** The handler, configured for the same mode (AUTH_MODE). */
  readonly handler: ApiHandler;
  readonly log: (line: string) => void;
  /** The issuer's private key (AUTH=jwt); default: a new one, never shown. See generateSigningKey. */
  readonly signingKey?: JWK;
  /** CORS as the synthesized stack configures it (CORS_ALLOW_ORIGINS / corsAllowOrigins). */
  readonly cors?: CorsPolicy;
  /** More local-only routes (the demo page, /openapi.yaml), asked after the auth endpoints. */
  readonly moreRoutes?: LocalRoutes;
}

export interface LocalApi extends ApiServer {
  readonly auth: LocalAuth;
}

/**
 * The local API Gateway: the HTTP API emulation, with (AUTH=jwt) a local issuer on the same port and the JWT
 * authorizer in front of every API route, and the local-only endpoints.
 */
export async function startLocalApi(options: LocalApiOptions): Promise<LocalApi> {
  // The issuer URL names the port, so it must be known before the server listens.
  const port = options.port || (await freePort());
  const issuer =
    options.auth === 'jwt' ? await createLocalIssuer(`http://localhost:${port}`, options.signingKey) : undefined;
  const server = await startApiServer(options.handler, port, options.log, {
    authorize: issuer && createJwtAuthorizer({ jwks: issuer.jwks, issuer: issuer.issuer, audience: [issuer.audience] }),
    localRoutes: combine(tokenRoutes(issuer), options.moreRoutes),
    cors: options.cors,
  });
  return { ...server, auth: options.auth };
}

function combine(first: LocalRoutes, second: LocalRoutes | undefined): LocalRoutes {
  return async (request) => (await first(request)) ?? (await second?.(request));
}

export function parseLocalAuth(raw: string | undefined): LocalAuth {
  const value = raw || 'none';
  if (value !== 'none' && value !== 'jwt')
    throw new LocalSetupError(
      `AUTH must be none or jwt, got "${raw}". (The deployed modes cognito and iam have no local counterpart.)`,
    );
  return value;
}
