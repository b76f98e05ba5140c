import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createTrackHandler } from '../../../lambda/track/track-handler';
import { postTrack, request } from '../../support/events';
import { mockedHandler, NOW, TASK_ID } from '../../support/mocked-handler';
import { TEST_KEYS } from '../../support/stored-items';
import { at } from '../../support/at';

/** The handler as the stack configures it under auth=cognito, with the AWS SDK mocked. */
function cognitoHandler() {
  const mocked = mockedHandler();
  const handle = createTrackHandler(mocked.service, { info() {}, warn() {}, error() {} }, undefined, {
    mode: 'cognito',
    tenantClaim: 'custom:tenant_id',
  });
  return { ...mocked, handle };
}

function withClaims(event: APIGatewayProxyEventV2, claims: Record<string, string>): APIGatewayProxyEventV2 {
  return {
    ...event,
    requestContext: {
      ...event.requestContext,
      authorizer: { jwt: { claims, scopes: null } },
    } as APIGatewayProxyEventV2['requestContext'],
  };
}

const problem = (res: { body?: string }) => JSON.parse(res.body as string);

describe('handler under a token authorizer: the tenant comes from the verified claim', () => {
  test("a POST body without tenant_id creates the task for the token's tenant; Location has no query", async () => {
    // GIVEN
    const { handle, ddb, sfn } = cognitoHandler();
    ddb.on(PutItemCommand).resolves({});
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn', startDate: NOW });

    // WHEN
    const res = await handle(
      withClaims(postTrack({ video_filename: 'test.mp4' }), { 'custom:tenant_id': 'tenant1', sub: 'u1' }),
    );

    // THEN
    expect(res.statusCode).toBe(201);
    expect(res.headers.Location).toBe(`/api/v1/track/${TASK_ID}`);
    expect(at(ddb.commandCalls(PutItemCommand), 0).args[0].input.Item).toMatchObject({
      pk: { S: TEST_KEYS.activeKey('tenant1', 'test.mp4') },
      tenant_id: { S: 'tenant1' },
    });
  });

  test('a body naming another tenant -> 403 tenant-mismatch (both tenants, source body); no AWS call', async () => {
    const { handle, ddb, sfn } = cognitoHandler();
    const res = await handle(
      withClaims(postTrack({ tenant_id: 'tenant2', video_filename: 'test.mp4' }), { 'custom:tenant_id': 'tenant1' }),
    );
    expect(res.statusCode).toBe(403);
    expect(res.headers['Content-Type']).toBe('application/problem+json');
    expect(problem(res)).toEqual({
      type: '/problems/tenant-mismatch',
      title: 'Tenant mismatch',
      status: 403,
      detail: expect.stringContaining('tenant2'),
      token_tenant_id: 'tenant1',
      request_tenant_id: 'tenant2',
      source: 'body',
    });
    expect(ddb.calls()).toHaveLength(0);
    expect(sfn.calls()).toHaveLength(0);
  });

  test.each([
    ['GET', '/api/v1/track?tenant_id=tenant2&video_filename=a.mp4'],
    ['GET', `/api/v1/track/${TASK_ID}?tenant_id=tenant2`],
    ['DELETE', `/api/v1/track/${TASK_ID}?tenant_id=tenant2`],
  ])(
    '%s %s naming another tenant in the query -> 403 tenant-mismatch (source query); no AWS call',
    async (method, url) => {
      const { handle, ddb } = cognitoHandler();
      const res = await handle(withClaims(request(method, url), { 'custom:tenant_id': 'tenant1' }));
      expect(res.statusCode).toBe(403);
      expect(problem(res)).toMatchObject({
        type: '/problems/tenant-mismatch',
        token_tenant_id: 'tenant1',
        request_tenant_id: 'tenant2',
        source: 'query',
      });
      expect(ddb.calls()).toHaveLength(0);
    },
  );

  test("a query without tenant_id reads with the token's tenant", async () => {
    const { handle, ddb } = cognitoHandler();
    ddb.resolves({});
    const res = await handle(
      withClaims(request('GET', '/api/v1/track?video_filename=a.mp4'), { 'custom:tenant_id': 'tenant1' }),
    );
    expect(res.statusCode).toBe(404);
    expect(at(ddb.calls(), 0).args[0].input).toMatchObject({
      Key: { pk: TEST_KEYS.activeKey('tenant1', 'a.mp4') },
      ConsistentRead: true,
    });
  });

  test.each([
    ['no authorizer context at all', undefined],
    ['claims without the tenant claim', { sub: 'u1', tenant_id: 'tenant1' }],
    ['a tenant claim that breaks the rules', { 'custom:tenant_id': 'tenant 1' }],
  ])('%s -> 403 tenant-claim-invalid naming the claim; no AWS call', async (_name, claims) => {
    const { handle, ddb } = cognitoHandler();
    const event = postTrack({ tenant_id: 'tenant1', video_filename: 'test.mp4' });
    const res = await handle(claims ? withClaims(event, claims) : event);
    expect(res.statusCode).toBe(403);
    expect(problem(res)).toMatchObject({
      type: '/problems/tenant-claim-invalid',
      status: 403,
      claim: 'custom:tenant_id',
    });
    expect(ddb.calls()).toHaveLength(0);
  });
});

describe('handler without a token (AUTH_MODE none or iam)', () => {
  test('a body without tenant_id -> 400 naming tenant_id, as before', async () => {
    const { handle, ddb } = mockedHandler();
    const res = await handle(postTrack({ video_filename: 'test.mp4' }));
    expect(res.statusCode).toBe(400);
    expect(problem(res)).toMatchObject({ type: '/problems/invalid-request', field: 'tenant_id' });
    expect(ddb.calls()).toHaveLength(0);
  });

  test('a query without tenant_id -> 400 naming tenant_id', async () => {
    const { handle } = mockedHandler();
    const res = await handle(request('GET', `/api/v1/track/${TASK_ID}`));
    expect(res.statusCode).toBe(400);
    expect(problem(res).field).toBe('tenant_id');
  });

  test('verified claims while the mode says none: 500, logged, nothing read (the stack and the function disagree)', async () => {
    const { handle, ddb, lines } = mockedHandler();
    const res = await handle(
      withClaims(request('GET', `/api/v1/track/${TASK_ID}?tenant_id=tenant1`), { tenant_id: 'tenant1' }),
    );
    expect(res.statusCode).toBe(500);
    expect(ddb.calls()).toHaveLength(0);
    expect(lines).toContainEqual(expect.objectContaining({ level: 'error', message: 'request failed' }));
  });

  test('a CORS preflight (OPTIONS) is answered 204 without touching anything', async () => {
    const { handle, ddb } = cognitoHandler();
    const res = await handle(request('OPTIONS', '/api/v1/track'));
    expect(res.statusCode).toBe(204);
    expect(ddb.calls()).toHaveLength(0);
  });
});

describe('the Lambda entry', () => {
  test('refuses to initialise without AUTH_MODE, naming the variable', async () => {
    const saved = process.env.AUTH_MODE;
    delete process.env.AUTH_MODE;
    try {
      await jest.isolateModulesAsync(async () => {
        await expect(import('../../../lambda/track/index')).rejects.toThrow(/AUTH_MODE is not set/);
      });
    } finally {
      if (saved !== undefined) process.env.AUTH_MODE = saved;
    }
  });
});
