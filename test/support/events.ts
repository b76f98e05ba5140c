import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { toApiGatewayEvent } from '../../local/api-gateway/event';

export function postTrack(
  body: unknown,
  headers: Record<string, string> = { 'content-type': 'application/json' },
): APIGatewayProxyEventV2 {
  return toApiGatewayEvent({
    method: 'POST',
    url: '/api/v1/track',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

export function request(method: string, url: string): APIGatewayProxyEventV2 {
  return toApiGatewayEvent({ method, url });
}
