import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { TrackingStack } from '../../lib/tracking-stack';
import { corsPolicyFromTemplate } from '../../local/api-gateway/cors';
import type { CfnTemplate } from '../../local/template';

describe('CORS under npm start', () => {
  test('the local server reads the policy the stack synthesizes from corsAllowOrigins', () => {
    // GIVEN the stack with one allowed origin (assets not bundled: only the API's properties matter here)
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const withCors = Template.fromStack(
      new TrackingStack(app, 'CorsLocal', { corsAllowOrigins: ['http://localhost:5173'] }),
    );
    // THEN local/api-gateway/cors.ts finds the same policy API Gateway gets, the bearer token's header allowed for browsers
    expect(corsPolicyFromTemplate(withCors.toJSON() as CfnTemplate)).toEqual({
      allowOrigins: ['http://localhost:5173'],
      allowMethods: ['GET', 'POST', 'DELETE'],
      allowHeaders: ['content-type', 'authorization'],
      exposeHeaders: ['location', 'retry-after'],
      maxAge: 3600,
      allowCredentials: undefined,
    });
  });
});
