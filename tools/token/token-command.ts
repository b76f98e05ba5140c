import { parseArgs } from 'node:util';
import { parseTenantId } from '../../lambda/core/validation';
import { type CognitoTokenClients, cognitoToken } from './cognito-token';
import { LocalSetupError } from '../../local/errors';
import { MAX_TTL_SECONDS } from '../../local/local-only/jwt-issuer';
import { readApiUrl } from '../../local/local-only/api-url-file';

export const USAGE = `Usage:
  npm run --silent token -- --tenant <tenant> [--ttl <seconds>] [--api <url>]   a token from the local system (AUTH=jwt npm start): at --api, else PORT, else where npm start runs
  npm run --silent token -- --stack <stack> --tenant <tenant> --user <email> [--reset-password]
      a Cognito ID token for the deployed stack: creates the test user; an existing user's password is changed only with --reset-password`;

/** `npm run token`: one token on stdout, for the deployed stack (`--stack`) or the running local system. */
export async function tokenCommand(
  argv: string[],
  env: Record<string, string | undefined>,
  aws: () => CognitoTokenClients,
  runningApiUrl: () => string | undefined = readApiUrl,
): Promise<string> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        stack: { type: 'string' },
        tenant: { type: 'string' },
        user: { type: 'string' },
        ttl: { type: 'string' },
        api: { type: 'string' },
        'reset-password': { type: 'boolean' },
      },
      strict: true,
    }));
  } catch (error) {
    throw new LocalSetupError(`${(error as Error).message}\n${USAGE}`);
  }
  const { stack, tenant, user, ttl, api } = values as Record<string, string | undefined>;
  const resetPassword = values['reset-password'] === true;
  if (!tenant) throw new LocalSetupError(`--tenant is required.\n${USAGE}`);
  let tenantId: string;
  try {
    tenantId = parseTenantId(tenant);
  } catch (error) {
    throw new LocalSetupError(`--tenant: ${(error as Error).message}`);
  }
  if (stack !== undefined) {
    if (!user) throw new LocalSetupError(`--user <email> is required with --stack.\n${USAGE}`);
    if (ttl !== undefined || api !== undefined)
      throw new LocalSetupError(
        '--ttl and --api apply to local tokens only; Cognito ID tokens live as long as the app client says (1 hour).',
      );
    return cognitoToken({ stackName: stack, tenantId, user, resetPassword }, aws());
  }
  if (user !== undefined || resetPassword)
    throw new LocalSetupError(`--user and --reset-password apply to a deployed stack (--stack).\n${USAGE}`);
  const ttlSeconds = ttl === undefined ? 3600 : Number(ttl);
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_TTL_SECONDS)
    throw new LocalSetupError(`--ttl must be an integer from 1 to ${MAX_TTL_SECONDS}.`);
  return requestLocalToken(localApiUrl(api, env.PORT, runningApiUrl), tenantId, ttlSeconds);
}

/** --api, else PORT, else the URL the running `npm start` printed (and wrote down), else npm start's default port. */
function localApiUrl(
  api: string | undefined,
  port: string | undefined,
  runningApiUrl: () => string | undefined,
): string {
  if (api !== undefined) {
    if (!URL.canParse(api) || !/^https?:$/.test(new URL(api).protocol))
      throw new LocalSetupError(`--api must be the local API's URL (e.g. http://localhost:8000), got "${api}".`);
    return api.replace(/\/+$/, '');
  }
  if (port !== undefined) {
    const number = Number(port);
    if (!Number.isInteger(number) || number < 1 || number > 65535)
      throw new LocalSetupError(`PORT must be a TCP port number, got "${port}".`);
    return `http://127.0.0.1:${number}`;
  }
  return runningApiUrl() ?? 'http://127.0.0.1:8000';
}

/** POST /local/token on the running local system (AUTH=jwt): a Cognito-shaped ID token. */
export async function requestLocalToken(apiUrl: string, tenantId: string, ttlSeconds = 3600): Promise<string> {
  let res: Response;
  try {
    res = await fetch(`${apiUrl}/local/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tenant_id: tenantId, ttl_seconds: ttlSeconds }),
    });
  } catch {
    throw new LocalSetupError(
      `Nothing answers on ${apiUrl}: start the local system with AUTH=jwt npm start (or name its URL with --api).`,
    );
  }
  if (res.status === 404)
    throw new LocalSetupError(
      `The local system on ${apiUrl} runs with AUTH=none and issues no tokens: restart it with AUTH=jwt npm start.`,
    );
  const body = (await res.json()) as { id_token?: string; detail?: string };
  if (!res.ok || !body.id_token)
    throw new LocalSetupError(`${apiUrl}/local/token answered ${res.status}: ${body.detail ?? JSON.stringify(body)}`);
  return body.id_token;
}
