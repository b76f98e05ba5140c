import type { LocalAuth } from './api-gateway/local-api';

export interface StartBannerOptions {
  /** The API's origin as a person types it (`http://localhost:<port>`). */
  readonly api: string;
  readonly auth: LocalAuth;
  /** The claim the running handler reads the tenant from (its TENANT_CLAIM under AUTH=jwt). */
  readonly tenantClaim: string;
}

/** What `npm start` prints once the API is up: how it authenticates and a first request to try. */
export function startBanner({ api, auth, tenantClaim }: StartBannerOptions): string[] {
  if (auth === 'none')
    return [
      `[local] AUTH=none: no authentication; the tenant is trusted from the request (tenant_id in the body or query). AUTH=jwt npm start to require tokens.`,
      `[local] API on ${api}  — try:`,
      `  curl -X POST ${api}/api/v1/track -H "Content-Type: application/json" -d '{"tenant_id": "tenant1", "video_filename": "test.mp4"}'`,
    ];
  return [
    `[local] AUTH=jwt: every API route needs a Bearer token from the local issuer ${api} (audience video-tracking-local); the tenant is the token's ${tenantClaim} claim`,
    `[local] API on ${api}  — try:`,
    // npm run token finds this server by the URL npm start wrote down (local-only/api-url-file.ts), on any PORT.
    `  TOKEN=$(npm run --silent token -- --tenant tenant1)`,
    `  curl -X POST ${api}/api/v1/track -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" -d '{"video_filename": "test.mp4"}'`,
  ];
}
