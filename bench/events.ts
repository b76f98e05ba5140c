import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { Route } from '../lambda/shared/api-routes';

/** The API Gateway event of `POST /api/v1/track` with a JSON body, as the benches hand it to the handler in-process. */
export function postEvent(body: object): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    rawPath: Route.Collection,
    rawQueryString: '',
    headers: { 'content-type': 'application/json' },
    requestContext: { http: { method: 'POST', path: Route.Collection } },
    body: JSON.stringify(body),
    isBase64Encoded: false,
  } as unknown as APIGatewayProxyEventV2;
}
