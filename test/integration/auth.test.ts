import { base64url, importJWK, type JWK, SignJWT } from 'jose';
import { generateSigningKey, LOCAL_AUDIENCE } from '../../local/local-only/jwt-issuer';
import { requestLocalToken } from '../../tools/token/token-command';
import { call, env, itemsOf, uniqueTenant } from './support';

/** The AUTH=jwt front end started by global-setup.ts, over the same DynamoDB Local and state machine. */
const JWT_API = process.env.LOCAL_JWT_API_URL!;
const TRUSTED_KEY: JWK = JSON.parse(process.env.LOCAL_JWT_SIGNING_KEY!);
const ISSUER = `http://localhost:${new URL(JWT_API).port}`;

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const api = (path: string) => `${JWT_API}${path}`;
const tokenFor = (tenant: string, ttlSeconds?: number) => requestLocalToken(JWT_API, tenant, ttlSeconds);

async function sign(claims: Record<string, unknown>, key: JWK = TRUSTED_KEY, kid = TRUSTED_KEY.kid): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' }).sign(await importJWK(key, 'RS256'));
}

function claimsFor(tenant: string, overrides: Record<string, unknown> = {}) {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: ISSUER,
    aud: LOCAL_AUDIENCE,
    sub: 'someone',
    token_use: 'id',
    'custom:tenant_id': tenant,
    iat: now,
    exp: now + 300,
    ...overrides,
  };
}

const payloadOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));

describe('AUTH=jwt: the local JWT authorizer refuses every bad token with 401 and nothing is written', () => {
  const cases: [string, (tenant: string) => Promise<Record<string, string>>, RegExp][] = [
    ['no token', () => Promise.resolve({}), /^Bearer$/],
    ['a malformed token', () => Promise.resolve(bearer('not-a.jwt')), /invalid_token/],
    [
      'a tampered signature',
      async (tenant) => {
        const [h, p, s = ''] = (await tokenFor(tenant)).split('.');
        const sig = Buffer.from(s, 'base64url');
        sig.writeUInt8(sig.readUInt8(10) ^ 0xff, 10);
        return bearer(`${h}.${p}.${sig.toString('base64url')}`);
      },
      /invalid_token/,
    ],
    [
      'alg: none',
      (tenant) =>
        Promise.resolve(
          bearer(
            `${base64url.encode(JSON.stringify({ alg: 'none', kid: TRUSTED_KEY.kid, typ: 'JWT' }))}.${base64url.encode(JSON.stringify(claimsFor(tenant)))}.`,
          ),
        ),
      /invalid_token/,
    ],
    [
      'a token signed by a foreign key under the same kid',
      async (tenant) => bearer(await sign(claimsFor(tenant), await generateSigningKey(), TRUSTED_KEY.kid)),
      /invalid_token/,
    ],
    [
      'an expired token',
      async (tenant) =>
        bearer(
          await sign(
            claimsFor(tenant, { iat: Math.floor(Date.now() / 1000) - 120, exp: Math.floor(Date.now() / 1000) - 60 }),
          ),
        ),
      /expired/,
    ],
    [
      'the wrong audience',
      async (tenant) => bearer(await sign(claimsFor(tenant, { aud: 'another-app' }))),
      /invalid_token/,
    ],
    [
      'the wrong issuer',
      async (tenant) => bearer(await sign(claimsFor(tenant, { iss: 'http://localhost:1' }))),
      /invalid_token/,
    ],
  ];

  test.each(cases)('%s', async (_name, headers, challenge) => {
    // GIVEN a tenant with nothing stored
    const tenant = uniqueTenant('unauth');

    // WHEN it tries to create, look up, read and cancel
    const answers = [
      await call(
        'POST',
        api('/api/v1/track'),
        { tenant_id: tenant, video_filename: 'movie.mp4' },
        await headers(tenant),
      ),
      await call('GET', api(`/api/v1/track?video_filename=movie.mp4`), undefined, await headers(tenant)),
      await call('DELETE', api('/api/v1/track/0b7e4f7c-2d7c-4d6a-9d1e-5b8f3c2a1e90'), undefined, await headers(tenant)),
    ];

    // THEN API Gateway's 401, and no item for the tenant
    for (const answer of answers) {
      expect(answer.status).toBe(401);
      expect(answer.body).toEqual({ message: 'Unauthorized' });
      expect(answer.headers.get('content-type')).toBe('application/json');
      expect(answer.headers.get('www-authenticate')).toMatch(challenge);
    }
    expect(await itemsOf(tenant)).toEqual([]);
  });

  test('a payload rewritten to another tenant (signature kept) -> 401; neither tenant has an item', async () => {
    // GIVEN a valid token for tenant A, its payload rewritten to tenant B
    const a = uniqueTenant('victim-a');
    const b = uniqueTenant('victim-b');
    const [h, , s] = (await tokenFor(a)).split('.');
    const forged = `${h}.${base64url.encode(JSON.stringify({ ...payloadOf(await tokenFor(a)), 'custom:tenant_id': b }))}.${s}`;

    // WHEN
    const res = await call('POST', api('/api/v1/track'), { video_filename: 'movie.mp4' }, bearer(forged));

    // THEN
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ message: 'Unauthorized' });
    expect(await itemsOf(a)).toEqual([]);
    expect(await itemsOf(b)).toEqual([]);
  });
});

describe("AUTH=jwt: the tenant is the token's", () => {
  test("a POST carrying only a token (no tenant_id) creates the task for the token's tenant; Location is followable with the token", async () => {
    // GIVEN a token from the local issuer, as `npm run token -- --tenant <t>` gets it
    const tenant = uniqueTenant('token-only');
    const token = await tokenFor(tenant);

    // WHEN
    const created = await call('POST', api('/api/v1/track'), { video_filename: 'movie.mp4' }, bearer(token));

    // THEN
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ tenant_id: tenant, video_filename: 'movie.mp4' });
    expect(created.headers.get('location')).toBe(`/api/v1/track/${created.body.task_id}`);
    const read = await call('GET', api(created.headers.get('location')!), undefined, bearer(token));
    expect(read.status).toBe(200);
    expect(read.body.tenant_id).toBe(tenant);
    expect((await itemsOf(tenant)).filter((i) => i.item_type === 'active')).toHaveLength(1);
  });

  test('a body or query naming another tenant -> 403 tenant-mismatch naming both; nothing written', async () => {
    // GIVEN
    const mine = uniqueTenant('mine');
    const other = uniqueTenant('other');
    const token = await tokenFor(mine);

    // WHEN
    const posted = await call(
      'POST',
      api('/api/v1/track'),
      { tenant_id: other, video_filename: 'movie.mp4' },
      bearer(token),
    );
    const looked = await call(
      'GET',
      api(`/api/v1/track?tenant_id=${other}&video_filename=movie.mp4`),
      undefined,
      bearer(token),
    );

    // THEN
    expect(posted.status).toBe(403);
    expect(posted.headers.get('content-type')).toBe('application/problem+json');
    expect(posted.body).toMatchObject({
      type: '/problems/tenant-mismatch',
      status: 403,
      token_tenant_id: mine,
      request_tenant_id: other,
      source: 'body',
    });
    expect(looked.status).toBe(403);
    expect(looked.body).toMatchObject({
      type: '/problems/tenant-mismatch',
      token_tenant_id: mine,
      request_tenant_id: other,
      source: 'query',
    });
    expect(await itemsOf(mine)).toEqual([]);
    expect(await itemsOf(other)).toEqual([]);
  });

  test('a token whose tenant claim breaks the tenant rules -> 403 tenant-claim-invalid; nothing written', async () => {
    const res = await call(
      'POST',
      api('/api/v1/track'),
      { video_filename: 'movie.mp4' },
      bearer(await tokenFor('not a tenant!')),
    );
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ type: '/problems/tenant-claim-invalid', claim: 'custom:tenant_id' });
    expect(await itemsOf('not a tenant!')).toEqual([]);
  });

  test("another tenant's task: read, look-up and cancel are 404, and the task is untouched", async () => {
    // GIVEN tenant A's running task
    const a = uniqueTenant('owner');
    const tokenA = await tokenFor(a);
    const created = await call('POST', api('/api/v1/track'), { video_filename: 'secret.mp4' }, bearer(tokenA));
    expect(created.status).toBe(201);
    const id = created.body.task_id;

    // WHEN tenant B, with its own valid token, reaches for it
    const tokenB = await tokenFor(uniqueTenant('intruder'));
    const read = await call('GET', api(`/api/v1/track/${id}`), undefined, bearer(tokenB));
    const lookup = await call('GET', api('/api/v1/track?video_filename=secret.mp4'), undefined, bearer(tokenB));
    const cancel = await call('DELETE', api(`/api/v1/track/${id}`), undefined, bearer(tokenB));

    // THEN
    for (const answer of [read, lookup, cancel]) {
      expect(answer.status).toBe(404);
      expect(answer.body.type).toBe('/problems/not-found');
    }
    const mine = await call('GET', api(`/api/v1/track/${id}`), undefined, bearer(tokenA));
    expect(mine.status).toBe(200);
    expect(mine.body.status).not.toBe('cancelled');
  });
});

describe('local-only endpoints and AUTH=none', () => {
  test('/local/auth names the mode of each front end; /local/token is 404 under none; JWKS and discovery under jwt', async () => {
    const local = async (url: string, init?: RequestInit) => {
      const res = await fetch(url, init);
      return { status: res.status, body: (await res.json()) as any };
    };
    expect(await local(`${env.apiUrl}/local/auth`)).toEqual({ status: 200, body: { mode: 'none' } });
    expect(await local(api('/local/auth'))).toEqual({
      status: 200,
      body: { mode: 'jwt', issuer: ISSUER, audience: LOCAL_AUDIENCE },
    });
    expect((await local(`${env.apiUrl}/local/token`, { method: 'POST', body: '{"tenant_id":"t1"}' })).status).toBe(404);
    const jwks = await local(api('/.well-known/jwks.json'));
    expect(jwks.body.keys).toEqual([expect.objectContaining({ kty: 'RSA', kid: TRUSTED_KEY.kid, alg: 'RS256' })]);
    expect(jwks.body.keys[0].d).toBeUndefined();
    expect((await local(api('/.well-known/openid-configuration'))).body).toMatchObject({
      issuer: ISSUER,
      jwks_uri: `${ISSUER}/.well-known/jwks.json`,
    });
    const token = await local(api('/local/token'), {
      method: 'POST',
      body: JSON.stringify({ tenant_id: 't1', ttl_seconds: 120 }),
    });
    expect(token.body).toEqual({ id_token: expect.any(String), token_type: 'Bearer', expires_in: 120 });
    // Shaped like the deployed stack's Cognito ID token: the one a frontend sends.
    expect(payloadOf(token.body.id_token)).toMatchObject({
      iss: ISSUER,
      aud: LOCAL_AUDIENCE,
      token_use: 'id',
      'custom:tenant_id': 't1',
    });
    expect(payloadOf(token.body.id_token).tenant_id).toBeUndefined();
  });

  test('under AUTH=none the tenant comes from the request, and Location carries it so that it can be followed as it stands', async () => {
    const tenant = uniqueTenant('none');
    const created = await call('POST', '/api/v1/track', { tenant_id: tenant, video_filename: 'movie.mp4' });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe(`/api/v1/track/${created.body.task_id}?tenant_id=${tenant}`);
    const followed = await call('GET', created.headers.get('location')!);
    expect(followed.status).toBe(200);
    expect(followed.body.task_id).toBe(created.body.task_id);
  });
});
