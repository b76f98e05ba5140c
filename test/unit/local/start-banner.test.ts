import { authConfigFromEnv } from '../../../lambda/core/caller';
import { COGNITO_TENANT_CLAIM } from '../../../lambda/shared/auth-modes';
import { LOCAL_TENANT_CLAIM } from '../../../local/local-only/jwt-issuer';
import { startBanner } from '../../../local/start-banner';

const api = 'http://localhost:8123';

describe("npm start's banner", () => {
  test('AUTH=jwt: names the claim the handler reads under it, which is what the local issuer signs', () => {
    // GIVEN the environment npm start gives the handler under AUTH=jwt (local/system.ts)
    const { tenantClaim } = authConfigFromEnv({ AUTH_MODE: 'jwt', TENANT_CLAIM: LOCAL_TENANT_CLAIM });

    // WHEN
    const banner = startBanner({ api, auth: 'jwt', tenantClaim }).join('\n');

    // THEN
    expect(tenantClaim).toBe(COGNITO_TENANT_CLAIM);
    expect(banner).toContain(`the tenant is the token's ${COGNITO_TENANT_CLAIM} claim`);
    expect(banner).toContain(`curl -X POST ${api}/api/v1/track -H "Authorization: Bearer $TOKEN"`);
  });

  test('AUTH=jwt: the token line needs no PORT: npm run token finds the server where npm start wrote it down', () => {
    const banner = startBanner({ api, auth: 'jwt', tenantClaim: COGNITO_TENANT_CLAIM }).join('\n');
    expect(banner).toContain('  TOKEN=$(npm run --silent token -- --tenant tenant1)');
    expect(banner).not.toContain('PORT=');
  });

  test('AUTH=none: the tenant comes from the request, and the example names it', () => {
    const banner = startBanner({ api, auth: 'none', tenantClaim: 'unused' }).join('\n');
    expect(banner).toContain('the tenant is trusted from the request');
    expect(banner).toContain(`"tenant_id": "tenant1"`);
    expect(banner).not.toContain('claim');
  });
});
