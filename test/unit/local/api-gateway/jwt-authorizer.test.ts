import { SignJWT, base64url, importJWK, type JWK } from 'jose';
import { createJwtAuthorizer } from '../../../../local/api-gateway/jwt-authorizer';
import { createLocalIssuer, generateSigningKey, LOCAL_AUDIENCE } from '../../../../local/local-only/jwt-issuer';
import { request } from '../../../support/events';

const ISSUER = 'http://localhost:8123';

async function setup() {
  const key = await generateSigningKey();
  const issuer = await createLocalIssuer(ISSUER, key);
  const authorize = createJwtAuthorizer({ jwks: issuer.jwks, issuer: ISSUER, audience: [LOCAL_AUDIENCE] });
  const sign = async (claims: Record<string, unknown>, opts: { kid?: string | null; key?: JWK } = {}) => {
    const header = opts.kid === null ? { alg: 'RS256' } : { alg: 'RS256', kid: opts.kid ?? key.kid };
    return new SignJWT(claims).setProtectedHeader(header).sign(await importJWK(opts.key ?? key, 'RS256'));
  };
  const now = Math.floor(Date.now() / 1000);
  const valid = { iss: ISSUER, aud: LOCAL_AUDIENCE, tenant_id: 't1', iat: now, exp: now + 600 };
  const withToken = (token: string, scheme = 'Bearer ') => ({
    ...request('GET', '/api/v1/track/x'),
    headers: { authorization: `${scheme}${token}` },
  });
  return { issuer, authorize, sign, valid, withToken, key, now };
}

describe('local JWT authorizer (API Gateway HTTP API semantics)', () => {
  test('a token from the local issuer passes; its claims land in requestContext.authorizer.jwt.claims as strings', async () => {
    // GIVEN
    const { issuer, authorize, withToken } = await setup();
    const token = await issuer.issue('tenant1', 60);

    // WHEN
    const result = await authorize(withToken(token));

    // THEN
    expect('event' in result).toBe(true);
    const claims = (result as any).event.requestContext.authorizer.jwt.claims;
    expect(claims).toMatchObject({
      'custom:tenant_id': 'tenant1',
      token_use: 'id',
      iss: ISSUER,
      aud: LOCAL_AUDIENCE,
      exp: expect.stringMatching(/^\d+$/),
    });
  });

  test('without "Bearer " the raw token is accepted too', async () => {
    const { issuer, authorize, withToken } = await setup();
    expect('event' in (await authorize(withToken(await issuer.issue('t1', 60), '')))).toBe(true);
  });

  test('a token without aud is accepted on its client_id, as a Cognito access token', async () => {
    const { authorize, sign, valid, withToken } = await setup();
    const noAud: Partial<typeof valid> = { ...valid };
    delete noAud.aud;
    expect('event' in (await authorize(withToken(await sign({ ...noAud, client_id: LOCAL_AUDIENCE }))))).toBe(true);
    expect('reject' in (await authorize(withToken(await sign({ ...noAud, client_id: 'other' }))))).toBe(true);
  });

  test.each([
    ['no exp', (v: any) => ({ ...v, exp: undefined })],
    ['nbf in the future', (v: any) => ({ ...v, nbf: v.iat + 300 })],
    ['expired', (v: any) => ({ ...v, exp: v.iat - 1 })],
    ['wrong issuer', (v: any) => ({ ...v, iss: 'http://localhost:1' })],
    ['wrong audience', (v: any) => ({ ...v, aud: 'someone-else' })],
  ])('%s -> 401 {"message":"Unauthorized"} with an invalid_token challenge', async (_name, change) => {
    const { authorize, sign, valid, withToken } = await setup();
    const claims = Object.fromEntries(Object.entries(change(valid)).filter(([, v]) => v !== undefined));
    const result = await authorize(withToken(await sign(claims)));
    expect(result).toEqual({
      reject: {
        statusCode: 401,
        headers: {
          'Content-Type': 'application/json',
          'www-authenticate': expect.stringMatching(/^Bearer error="invalid_token"/),
        },
        body: '{"message":"Unauthorized"}',
      },
    });
  });

  test('a token without kid, or with alg none, is refused', async () => {
    const { authorize, sign, valid, withToken, key } = await setup();
    expect('reject' in (await authorize(withToken(await sign(valid, { kid: null }))))).toBe(true);
    const unsecured = `${base64url.encode(JSON.stringify({ alg: 'none', kid: key.kid }))}.${base64url.encode(JSON.stringify(valid))}.`;
    expect('reject' in (await authorize(withToken(unsecured)))).toBe(true);
  });

  test('no Authorization header -> 401 with the bare Bearer challenge', async () => {
    const { authorize } = await setup();
    const result = await authorize(request('GET', '/api/v1/track'));
    expect((result as any).reject.headers['www-authenticate']).toBe('Bearer');
  });
});
