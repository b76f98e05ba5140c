import {
  type CorsPolicy,
  corsPolicyFromTemplate,
  corsResponseHeaders,
  LOCAL_DEV_SERVER_ORIGINS,
  localCorsAllowOrigins,
  preflightRefusal,
  preflightResponse,
} from '../../../../local/api-gateway/cors';

// The policy lib/track-api.ts synthesizes for corsAllowOrigins=http://localhost:5173.
const policy: CorsPolicy = {
  allowOrigins: ['http://localhost:5173'],
  allowMethods: ['GET', 'POST', 'DELETE'],
  allowHeaders: ['authorization', 'content-type'],
  exposeHeaders: ['location', 'retry-after'],
  maxAge: 3600,
};
const preflight = {
  origin: 'http://localhost:5173',
  'access-control-request-method': 'POST',
  'access-control-request-headers': 'content-type,authorization',
};

describe('CORS under npm start, as API Gateway answers it', () => {
  test('a preflight from an allowed origin: 204 with the allowed methods, the requested headers and max age', () => {
    expect(preflightResponse(policy, 'OPTIONS', preflight)).toEqual({
      statusCode: 204,
      headers: {
        'Access-Control-Allow-Origin': 'http://localhost:5173',
        'Access-Control-Allow-Methods': 'GET,POST,DELETE',
        'Access-Control-Allow-Headers': 'content-type,authorization',
        'Access-Control-Max-Age': '3600',
      },
      body: '',
    });
  });

  test('a preflight from another origin: 204 without Access-Control headers, so the browser refuses', () => {
    expect(preflightResponse(policy, 'OPTIONS', { ...preflight, origin: 'http://evil.test' })).toEqual({
      statusCode: 204,
      headers: {},
      body: '',
    });
  });

  test('a header outside allowHeaders is not granted', () => {
    expect(
      preflightResponse(policy, 'OPTIONS', { ...preflight, 'access-control-request-headers': 'x-debug' })?.headers,
    ).not.toHaveProperty('Access-Control-Allow-Headers');
  });

  test('the local log names a refused preflight and why; an allowed one has no refusal', () => {
    expect(preflightRefusal(policy, preflight)).toBeUndefined();
    expect(preflightRefusal(policy, { ...preflight, origin: 'http://evil.test' })).toBe(
      'origin http://evil.test is not in allowOrigins',
    );
    expect(preflightRefusal(policy, { ...preflight, 'access-control-request-method': 'PUT' })).toBe(
      'method PUT is not in allowMethods',
    );
    expect(preflightRefusal(policy, { ...preflight, 'access-control-request-headers': 'content-type,x-debug' })).toBe(
      'headers x-debug are not in allowHeaders',
    );
  });

  test('an OPTIONS without Origin or Access-Control-Request-Method is no preflight: it goes to the routes (405)', () => {
    expect(preflightResponse(policy, 'OPTIONS', { origin: 'http://localhost:5173' })).toBeUndefined();
    expect(preflightResponse(policy, 'OPTIONS', {})).toBeUndefined();
    expect(preflightResponse(policy, 'GET', preflight)).toBeUndefined();
  });

  test('answers to an allowed origin carry Allow-Origin and Expose-Headers; others carry none', () => {
    expect(corsResponseHeaders(policy, { origin: 'http://localhost:5173' })).toEqual({
      'Access-Control-Allow-Origin': 'http://localhost:5173',
      'Access-Control-Expose-Headers': 'location,retry-after',
    });
    expect(corsResponseHeaders(policy, { origin: 'http://localhost:3000' })).toEqual({});
    expect(corsResponseHeaders(policy, {})).toEqual({});
  });

  test('no CorsConfiguration in the template (no corsAllowOrigins): no CORS at all', () => {
    expect(
      corsPolicyFromTemplate({
        Resources: { Api: { Type: 'AWS::ApiGatewayV2::Api', Properties: { ProtocolType: 'HTTP' } } },
      }),
    ).toBeUndefined();
  });

  test("API Gateway's wildcards: * and a scheme wildcard", () => {
    expect(
      corsResponseHeaders({ ...policy, allowOrigins: ['*'] }, { origin: 'http://a.test' })[
        'Access-Control-Allow-Origin'
      ],
    ).toBe('*');
    expect(
      corsResponseHeaders({ ...policy, allowOrigins: ['https://*'] }, { origin: 'https://a.test' })[
        'Access-Control-Allow-Origin'
      ],
    ).toBe('https://a.test');
    expect(corsResponseHeaders({ ...policy, allowOrigins: ['https://*'] }, { origin: 'http://a.test' })).toEqual({});
  });
});

describe("npm start's CORS origins without CORS_ALLOW_ORIGINS", () => {
  // The policy the local synth gets from the default, split the way bin/app.ts splits the corsAllowOrigins context.
  const local = { ...policy, allowOrigins: localCorsAllowOrigins(undefined).split(',') };

  test.each([
    'http://localhost:5173',
    'http://127.0.0.1:5173',
    'http://localhost:4173',
    'http://127.0.0.1:4173',
    'http://localhost:3000',
    'http://127.0.0.1:3000',
  ])('a dev server on %s may call the local API', (origin) => {
    expect(preflightRefusal(local, { ...preflight, origin })).toBeUndefined();
    expect(corsResponseHeaders(local, { origin })['Access-Control-Allow-Origin']).toBe(origin);
  });

  test('other ports, hosts and https stay refused', () => {
    for (const origin of ['http://localhost:8080', 'http://evil.test:5173', 'https://localhost:5173'])
      expect(preflightRefusal(local, { ...preflight, origin })).toBe(`origin ${origin} is not in allowOrigins`);
  });

  test('CORS_ALLOW_ORIGINS replaces the default; an empty one keeps it', () => {
    expect(localCorsAllowOrigins('https://app.test')).toBe('https://app.test');
    expect(localCorsAllowOrigins(' ')).toBe(LOCAL_DEV_SERVER_ORIGINS.join(','));
  });
});
