import { Match, type Template } from 'aws-cdk-lib/assertions';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { AwsSolutionsChecks } from 'cdk-nag';
import { authFromContext } from '../../lib/auth-context';
import type { TrackingAuth, TrackingStackProps } from '../../lib/tracking-stack';
import { defaultTrackingStack, synthTrackingStack } from '../support/synth';

const MODES: Record<string, TrackingAuth> = {
  cognito: { mode: 'cognito' },
  jwt: {
    mode: 'jwt',
    issuer: 'https://login.example.com/',
    audience: ['api://tracking', 'spa'],
    tenantClaim: 'org_tenant',
  },
  iam: { mode: 'iam' },
  none: { mode: 'none' },
};

const synth = (auth?: TrackingAuth, extra: TrackingStackProps = {}) => synthTrackingStack({ auth, ...extra }, 'Auth');
const routes = (t: Template) => Object.values(t.findResources('AWS::ApiGatewayV2::Route')).map((r) => r.Properties);
const handlerEnv = (t: Template) =>
  Object.values(t.findResources('AWS::Lambda::Function')).find(
    (f) => f.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === 'track-api',
  )!.Properties.Environment.Variables;

describe('auth: secure by default', () => {
  test('with no auth prop every route, the ANY routes included, has the Cognito JWT authorizer', () => {
    // GIVEN / WHEN
    const { template } = defaultTrackingStack();

    // THEN
    const all = routes(template);
    expect(all.map((r) => r.RouteKey).sort()).toEqual([
      'ANY /api/v1/track',
      'ANY /api/v1/track/{task_id}',
      'DELETE /api/v1/track/{task_id}',
      'GET /api/v1/track',
      'GET /api/v1/track/{task_id}',
      'POST /api/v1/track',
    ]);
    for (const route of all)
      expect(route).toMatchObject({
        AuthorizationType: 'JWT',
        AuthorizerId: { Ref: expect.stringMatching(/^TrackApiCognitoAuthorizer/) },
      });
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: {
        Audience: [{ Ref: Match.stringLikeRegexp('^AuthUserPoolFrontendClient') }],
        Issuer: {
          'Fn::Join': [
            '',
            [
              'https://cognito-idp.',
              { Ref: 'AWS::Region' },
              '.amazonaws.com/',
              { Ref: Match.stringLikeRegexp('^AuthUserPool') },
            ],
          ],
        },
      },
    });
    expect(handlerEnv(template)).toMatchObject({ AUTH_MODE: 'cognito', TENANT_CLAIM: 'custom:tenant_id' });
  });

  test('the tenant is an immutable custom attribute; the client reads it but cannot write it; no secret, no self sign-up', () => {
    const { template } = defaultTrackingStack();
    template.hasResourceProperties('AWS::Cognito::UserPool', {
      Schema: Match.arrayWith([Match.objectLike({ Name: 'tenant_id', AttributeDataType: 'String', Mutable: false })]),
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
    });
    const [client] = Object.values(template.findResources('AWS::Cognito::UserPoolClient')).map((c) => c.Properties);
    expect(client.GenerateSecret).toBe(false);
    expect(client.ReadAttributes).toContain('custom:tenant_id');
    // Without WriteAttributes Cognito lets the client write every attribute: it must be present, without the tenant.
    expect(Array.isArray(client.WriteAttributes) && client.WriteAttributes.length > 0).toBe(true);
    expect(client.WriteAttributes.some((a: string) => /tenant/.test(a))).toBe(false);
    expect(client.AllowedOAuthFlows).toBeUndefined();
  });

  test('the user pool and client ids are stack outputs (npm run token reads them)', () => {
    const outputs = Object.keys(defaultTrackingStack().template.findOutputs('*'));
    expect(outputs).toEqual(expect.arrayContaining(['UserPoolId', 'UserPoolClientId']));
  });
});

describe('every mode synthesizes, with its authorizer on every route and cdk-nag clean', () => {
  test.each(Object.entries(MODES))('%s', (mode, auth) => {
    const { stack, template } = synth(auth);
    const expected = { cognito: 'JWT', jwt: 'JWT', iam: 'AWS_IAM', none: 'NONE' }[mode];
    for (const route of routes(template)) expect(route.AuthorizationType ?? 'NONE').toBe(expected);
    expect(Object.keys(template.findResources('AWS::Cognito::UserPool'))).toHaveLength(mode === 'cognito' ? 1 : 0);
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations.map((v) => v.ruleName)).toEqual([]);
    expect(handlerEnv(template).AUTH_MODE).toBe(mode);
  });

  test('jwt: the issuer and audiences of the provider, the configured tenant claim', () => {
    const { template } = synth(MODES.jwt);
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      JwtConfiguration: { Issuer: 'https://login.example.com/', Audience: ['api://tracking', 'spa'] },
    });
    expect(handlerEnv(template)).toMatchObject({ AUTH_MODE: 'jwt', TENANT_CLAIM: 'org_tenant' });
  });

  test('APIG4 (no authorization) is acknowledged only under none: an open route added to a cognito API fails cdk-nag', () => {
    // GIVEN the default stack, and a route someone adds with its authorizer switched off
    const { stack } = synth();
    stack.api.api.addRoutes({
      path: '/api/v1/open',
      methods: [apigwv2.HttpMethod.GET],
      integration: new HttpLambdaIntegration('Open', stack.api.handler),
      authorizer: new apigwv2.HttpNoneAuthorizer(),
    });

    // WHEN / THEN
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations.map((v) => v.ruleName)).toContain('AwsSolutions-APIG4');
  });

  test('CORS allows the Authorization header; preflight gets unauthenticated OPTIONS routes (the ANY routes would refuse it)', () => {
    const { stack, template } = synth(MODES.cognito, { corsAllowOrigins: ['https://app.example.com'] });
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      CorsConfiguration: Match.objectLike({
        AllowHeaders: ['content-type', 'authorization', 'idempotency-key'],
        ExposeHeaders: ['location', 'retry-after', 'idempotent-replayed'],
      }),
    });
    const options = routes(template).filter((r) => r.RouteKey.startsWith('OPTIONS '));
    expect(options.map((r) => r.RouteKey).sort()).toEqual(['OPTIONS /api/v1/track', 'OPTIONS /api/v1/track/{task_id}']);
    for (const r of options) expect(r.AuthorizationType).toBe('NONE');
    for (const r of routes(template).filter((r) => !r.RouteKey.startsWith('OPTIONS ')))
      expect(r.AuthorizationType).toBe('JWT');
    expect(new AwsSolutionsChecks().validateScope(stack).success).toBe(true);
  });
});

describe('the auth context of bin/app.ts: none only on request', () => {
  const ctx = (values: Record<string, unknown>) => (name: string) => values[name];

  test('no context -> cognito, no warning', () => {
    expect(authFromContext(ctx({}))).toEqual({ auth: { mode: 'cognito', tenantClaim: undefined } });
  });

  test('auth=none -> none, with a warning printed at synth', () => {
    expect(authFromContext(ctx({ auth: 'none' }))).toEqual({
      auth: { mode: 'none' },
      warning: expect.stringMatching(/no authentication/),
    });
  });

  test('auth=iam -> iam, with a warning printed at synth: any caller allowed to invoke acts for any tenant', () => {
    expect(authFromContext(ctx({ auth: 'iam' }))).toEqual({
      auth: { mode: 'iam' },
      warning: expect.stringMatching(/acts for any tenant/),
    });
  });

  test('cognito takes the tenant only from the immutable custom:tenant_id, in the context and in the stack props', () => {
    expect(authFromContext(ctx({ tenantClaim: 'custom:tenant_id' }))).toEqual({
      auth: { mode: 'cognito', tenantClaim: 'custom:tenant_id' },
    });
    for (const claim of ['email', 'name', 'custom:other']) {
      expect(() => authFromContext(ctx({ tenantClaim: claim }))).toThrow(/only from custom:tenant_id/);
      expect(() =>
        synthTrackingStack({ auth: { mode: 'cognito', tenantClaim: claim } }, `Claim${claim.replace(/\W/g, '')}`),
      ).toThrow(/only from custom:tenant_id/);
    }
  });

  test('jwt with issuer, comma-separated audiences and a claim', () => {
    expect(
      authFromContext(
        ctx({ auth: 'jwt', jwtIssuer: 'https://id.example.com', jwtAudience: 'a, b', tenantClaim: 'tid' }),
      ),
    ).toEqual({
      auth: { mode: 'jwt', issuer: 'https://id.example.com', audience: ['a', 'b'], tenantClaim: 'tid' },
    });
  });

  test.each([
    [{ auth: 'open' }, /must be one of cognito, jwt, iam, none/],
    [{ auth: 'jwt', jwtAudience: 'a' }, /jwtIssuer=https/],
    [{ auth: 'jwt', jwtIssuer: 'http://id.example.com', jwtAudience: 'a' }, /jwtIssuer=https/],
    [{ auth: 'jwt', jwtIssuer: 'https://id.example.com' }, /jwtAudience/],
    [{ auth: 'iam', tenantClaim: 'x' }, /applies to auth=cognito or auth=jwt/],
  ])('%j is refused with a message', (values, message) => {
    expect(() => authFromContext(ctx(values))).toThrow(message);
  });
});
