/** A response the local API Gateway answers itself (an authorizer's 401, a local-only route), without the handler. */
export interface LocalResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

export interface LocalRequest {
  readonly method: string;
  readonly path: string;
  readonly body: string;
}

/** API Gateway's own JSON answers ({"message": …}) and the local-only endpoints' JSON. */
export function jsonResponse(statusCode: number, body: unknown, headers: Record<string, string> = {}): LocalResponse {
  return { statusCode, headers: { ...headers, 'Content-Type': 'application/json' }, body: JSON.stringify(body) };
}

/** Answers a local-only endpoint, or undefined so the request goes on to the API routes. */
export type LocalRoutes = (request: LocalRequest) => Promise<LocalResponse | undefined>;
