/** The API's routes, as API Gateway is configured with them (lib/track-api.ts) and the local server matches them. */
export const Route = { Collection: '/api/v1/track', Item: '/api/v1/track/{task_id}' } as const;
/** The path parameter of Route.Item. */
export const TASK_ID_PARAM = 'task_id';
