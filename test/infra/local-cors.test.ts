import { corsPolicyFromTemplate } from '../../local/api-gateway/cors';
import { synthTrackingStack } from '../support/synth';

describe('CORS under npm start', () => {
  test('the local server reads the policy the stack synthesizes from corsAllowOrigins', () => {
    // GIVEN the stack with one allowed origin (assets not bundled: only the API's properties matter here)
    const { json } = synthTrackingStack({ corsAllowOrigins: ['http://localhost:5173'] }, 'CorsLocal');
    // THEN local/api-gateway/cors.ts finds the same policy API Gateway gets, the bearer token's header allowed for browsers
    expect(corsPolicyFromTemplate(json)).toEqual({
      allowOrigins: ['http://localhost:5173'],
      allowMethods: ['GET', 'POST', 'DELETE'],
      allowHeaders: ['content-type', 'authorization', 'idempotency-key'],
      exposeHeaders: ['location', 'retry-after', 'idempotent-replayed'],
      maxAge: 3600,
      allowCredentials: undefined,
    });
  });
});
