import type { CfnTemplate } from '../template';
import type { LocalResponse } from './local-response';

/** The CorsConfiguration of an AWS::ApiGatewayV2::Api, as the synthesized template declares it. */
export interface CorsPolicy {
  readonly allowOrigins: readonly string[];
  readonly allowMethods: readonly string[];
  readonly allowHeaders: readonly string[];
  readonly exposeHeaders: readonly string[];
  readonly maxAge?: number;
  readonly allowCredentials?: boolean;
}

/** AWS::ApiGatewayV2::Api CorsConfiguration, as CloudFormation spells it. */
interface CorsConfiguration {
  AllowOrigins?: string[];
  AllowMethods?: string[];
  AllowHeaders?: string[];
  ExposeHeaders?: string[];
  MaxAge?: number;
  AllowCredentials?: boolean;
}

/**
 * The origins `npm start` allows when CORS_ALLOW_ORIGINS is not set: a frontend dev server on this machine, by either
 * loopback name, on Vite's dev (5173) and preview (4173) ports and on 3000 (Create React App, Next.js, Remix…).
 * Local only: the deployed stack has no CORS unless its `corsAllowOrigins` context is set.
 */
export const LOCAL_DEV_SERVER_ORIGINS: readonly string[] = ['localhost', '127.0.0.1'].flatMap((host) =>
  [5173, 4173, 3000].map((port) => `http://${host}:${port}`),
);

/** The `corsAllowOrigins` context of the local synth: the setting (comma-separated) if any, else the dev servers'. */
export function localCorsAllowOrigins(setting: string | undefined): string {
  return setting?.trim() ? setting : LOCAL_DEV_SERVER_ORIGINS.join(',');
}

/** The policy the stack deploys (from `corsAllowOrigins`), so `npm start` answers browsers exactly as API Gateway would. */
export function corsPolicyFromTemplate(template: CfnTemplate): CorsPolicy | undefined {
  const api = Object.values(template.Resources).find((r) => r.Type === 'AWS::ApiGatewayV2::Api');
  const c = api?.Properties?.CorsConfiguration as CorsConfiguration | undefined;
  if (!c) return undefined;
  return {
    allowOrigins: c.AllowOrigins ?? [],
    allowMethods: c.AllowMethods ?? [],
    allowHeaders: c.AllowHeaders ?? [],
    exposeHeaders: c.ExposeHeaders ?? [],
    maxAge: c.MaxAge,
    allowCredentials: c.AllowCredentials,
  };
}

/** allowOrigins entries are exact origins, `*`, or a scheme wildcard such as `https://*` (API Gateway's forms). */
function originAllowed(policy: CorsPolicy, origin: string): boolean {
  return policy.allowOrigins.some(
    (allowed) =>
      allowed === '*' ||
      allowed.toLowerCase() === origin.toLowerCase() ||
      (allowed.endsWith('://*') && origin.toLowerCase().startsWith(allowed.slice(0, -1).toLowerCase())),
  );
}

function allowOriginValue(policy: CorsPolicy, origin: string): string {
  return policy.allowOrigins.includes('*') && !policy.allowCredentials ? '*' : origin;
}

type Headers = Record<string, string | string[] | undefined>;
const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

/**
 * API Gateway answers a preflight (OPTIONS with Origin and Access-Control-Request-Method) itself, without calling the
 * function; an origin outside the policy gets no Access-Control headers, so the browser blocks the call.
 * Returns undefined when the request is not a preflight (it then goes to the routes like any other request).
 */
export function preflightResponse(policy: CorsPolicy, method: string, headers: Headers): LocalResponse | undefined {
  const origin = first(headers.origin);
  const requestMethod = first(headers['access-control-request-method']);
  if (method !== 'OPTIONS' || !origin || !requestMethod) return undefined;
  if (!originAllowed(policy, origin)) return { statusCode: 204, headers: {}, body: '' };
  const answer: Record<string, string> = { 'Access-Control-Allow-Origin': allowOriginValue(policy, origin) };
  const methodAllowed = policy.allowMethods.some((m) => m === '*' || m.toUpperCase() === requestMethod.toUpperCase());
  if (methodAllowed) answer['Access-Control-Allow-Methods'] = policy.allowMethods.join(',');
  const requested = (first(headers['access-control-request-headers']) ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  const allowedHeaders = policy.allowHeaders.map((h) => h.toLowerCase());
  if (requested.length) {
    const granted = allowedHeaders.includes('*') ? requested : requested.filter((h) => allowedHeaders.includes(h));
    if (granted.length) answer['Access-Control-Allow-Headers'] = granted.join(',');
  }
  if (policy.maxAge !== undefined) answer['Access-Control-Max-Age'] = String(policy.maxAge);
  if (policy.allowCredentials) answer['Access-Control-Allow-Credentials'] = 'true';
  return { statusCode: 204, headers: answer, body: '' };
}

/**
 * Why the browser will refuse a preflight that preflightResponse answered (API Gateway answers 204 either way):
 * undefined when the preflight is allowed. Only for the local server's log, which says "refused" and why.
 */
export function preflightRefusal(policy: CorsPolicy, headers: Headers): string | undefined {
  const origin = first(headers.origin) ?? '';
  if (!originAllowed(policy, origin)) return `origin ${origin} is not in allowOrigins`;
  const requestMethod = first(headers['access-control-request-method']) ?? '';
  if (!policy.allowMethods.some((m) => m === '*' || m.toUpperCase() === requestMethod.toUpperCase()))
    return `method ${requestMethod} is not in allowMethods`;
  const allowedHeaders = policy.allowHeaders.map((h) => h.toLowerCase());
  const requested = (first(headers['access-control-request-headers']) ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  const missing = allowedHeaders.includes('*') ? [] : requested.filter((h) => !allowedHeaders.includes(h));
  return missing.length ? `headers ${missing.join(', ')} are not in allowHeaders` : undefined;
}

/** Headers API Gateway adds to an answer for an allowed Origin (it ignores any CORS headers the function sends). */
export function corsResponseHeaders(policy: CorsPolicy, headers: Headers): Record<string, string> {
  const origin = first(headers.origin);
  if (!origin || !originAllowed(policy, origin)) return {};
  const answer: Record<string, string> = { 'Access-Control-Allow-Origin': allowOriginValue(policy, origin) };
  if (policy.exposeHeaders.length) answer['Access-Control-Expose-Headers'] = policy.exposeHeaders.join(',');
  if (policy.allowCredentials) answer['Access-Control-Allow-Credentials'] = 'true';
  return answer;
}
