import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { LOCAL_ACCOUNT } from '../local-aws';
import { Route, TASK_ID_PARAM } from '../../lambda/shared/api-routes';

export interface HttpRequestLike {
  readonly method: string;
  /** Path and query string, as on the request line. */
  readonly url: string;
  readonly headers?: Record<string, string | string[] | undefined>;
  /** The body as the handler receives it: text, or base64 when `isBase64Encoded`. */
  readonly body?: string;
  readonly isBase64Encoded?: boolean;
  readonly sourceIp?: string;
}

/** The routes API Gateway is configured with (lib/track-api.ts); anything else never reaches the function. */
export const ROUTES = [
  { pattern: new RegExp(`^${Route.Collection}$`), template: Route.Collection },
  { pattern: new RegExp(`^${Route.Collection}/([^/]+)$`), template: Route.Item, param: TASK_ID_PARAM },
] as const;

export function matchRoute(path: string): { routePath: string; pathParameters?: Record<string, string> } | undefined {
  for (const route of ROUTES) {
    const m = route.pattern.exec(path);
    if (m)
      return {
        routePath: route.template,
        pathParameters: 'param' in route && m[1] ? { [route.param]: safeDecode(m[1]) } : undefined,
      };
  }
  return undefined;
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Builds the API Gateway HTTP API payload format 2.0 event that the handler receives in Lambda. */
export function toApiGatewayEvent(request: HttpRequestLike): APIGatewayProxyEventV2 {
  const url = new URL(request.url, 'http://localhost');
  const route = matchRoute(url.pathname);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers ?? {})) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = k in query ? `${query[k]},${v}` : v;
  const now = new Date();
  return {
    version: '2.0',
    routeKey: route ? `${request.method} ${route.routePath}` : '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    queryStringParameters: Object.keys(query).length ? query : undefined,
    pathParameters: route?.pathParameters,
    requestContext: {
      accountId: LOCAL_ACCOUNT,
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'localhost',
      http: {
        method: request.method,
        path: url.pathname,
        protocol: 'HTTP/1.1',
        sourceIp: request.sourceIp ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: route ? `${request.method} ${route.routePath}` : '$default',
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    body: request.body === undefined || request.body === '' ? undefined : request.body,
    isBase64Encoded: Boolean(request.isBase64Encoded) && Boolean(request.body),
  };
}
