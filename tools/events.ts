/**
 * `npm run events`: writes events/*.json, the sample events of `sam local invoke` (docs/LOCAL.md), from the code that
 * builds them for real: API Gateway payload 2.0 events as the local API builds them, task ids and keys derived with
 * the local stack's key (the one sam:prepare gives the functions), the execution input as the API starts it.
 * test/unit/tools/events.test.ts fails when a committed event differs from what this writes.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { toApiGatewayEvent } from '../local/api-gateway/event';
import { LOCAL_KEYRING } from '../local/local-aws';
import { PROJECT_ROOT } from '../local/template';
import { executionArn, toExecutionInput } from '../lambda/adapters/sfn-workflow';
import { storageKeyOf } from '../lambda/core/storage-key';
import { Route } from '../lambda/shared/api-routes';
import { COGNITO_TENANT_CLAIM } from '../lambda/shared/auth-modes';
import { TaskKeys } from '../lambda/shared/task-keys';

export const EVENTS_DIR = path.join(PROJECT_ROOT, 'events');

const TENANT = 'tenant1';
const VIDEO = 'test.mp4';
/** 2026-11-28T12:00:00Z: every sample happens at the same instant, so the files only change with the code. */
const EPOCH_MS = 1795867200000;
const RETENTION_DAYS = 30;
const keys = new TaskKeys(LOCAL_KEYRING);
/** A well-formed id of (tenant1, test.mp4) that no POST makes (its random half is all zeros): 404 until edited. */
const SAMPLE_TASK_ID = keys.newTaskId(TENANT, VIDEO, Buffer.alloc(16));
const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:AnalysisStateMachine84F41CA0';

/** The claims API Gateway's Cognito authorizer passes for an ID token of tenant1 (the stack's default auth). */
const CLAIMS = {
  sub: '11111111-2222-3333-4444-555555555555',
  email: 'alice@example.com',
  [COGNITO_TENANT_CLAIM]: TENANT,
  iss: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_EXAMPLE',
  aud: 'exampleclientid',
  token_use: 'id',
  auth_time: String(EPOCH_MS / 1000 - 100),
  iat: String(EPOCH_MS / 1000 - 100),
  exp: String(EPOCH_MS / 1000 + 3500),
};

/** An API event as the local API builds it, made repeatable (request id, time) and with the authorizer's claims. */
function apiEvent(name: string, method: string, url: string, body?: object): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = {
    ...(body ? { 'content-type': 'application/json' } : {}),
    host: 'localhost:3000',
    'user-agent': 'curl/8.5.0',
  };
  const event = toApiGatewayEvent({ method, url, headers, body: body && JSON.stringify(body) });
  return {
    ...event,
    requestContext: {
      ...event.requestContext,
      requestId: `sample-${name}`,
      time: '28/Nov/2026:12:00:00 +0000',
      timeEpoch: EPOCH_MS,
      authorizer: { jwt: { claims: CLAIMS, scopes: null } },
    } as APIGatewayProxyEventV2['requestContext'],
  };
}

/** The EventBridge event of an execution that failed outside its Catch, for a task of (tenant1, test.mp4). */
function executionFailed(): object {
  const createdAt = new Date(EPOCH_MS).toISOString();
  const input = toExecutionInput({
    taskId: SAMPLE_TASK_ID,
    tenantId: TENANT,
    videoFilename: VIDEO,
    createdAt,
    retainUntil: EPOCH_MS / 1000 + RETENTION_DAYS * 86400,
    taskKey: keys.activeKey(TENANT, VIDEO),
    storageKey: storageKeyOf(TENANT, VIDEO),
  });
  const arn = executionArn(STATE_MACHINE_ARN, SAMPLE_TASK_ID);
  return {
    version: '0',
    id: '5e1f7c1a-6a0e-4c7b-9d5e-2f3a4b5c6d7e',
    'detail-type': 'Step Functions Execution Status Change',
    source: 'aws.states',
    account: '123456789012',
    time: '2026-11-28T12:00:05Z',
    region: 'us-east-1',
    resources: [arn],
    detail: {
      executionArn: arn,
      stateMachineArn: STATE_MACHINE_ARN,
      name: SAMPLE_TASK_ID,
      status: 'FAILED',
      startDate: EPOCH_MS,
      stopDate: EPOCH_MS + 5000,
      input: JSON.stringify(input),
      inputDetails: { included: true },
      output: null,
      outputDetails: null,
      error: 'States.Runtime',
      cause:
        "An error occurred while executing the state 'MarkCompleted' (entered at the event id #12). The JsonPath argument for the field '$.analysis' could not be found in the input",
    },
  };
}

/** Every sample event by file name (without `.json`). */
export function sampleEvents(): Record<string, object> {
  const item = `${Route.Collection}/${SAMPLE_TASK_ID}`;
  return {
    'post-track': apiEvent('post-track', 'POST', Route.Collection, { video_filename: VIDEO }),
    'post-track-invalid': apiEvent('post-track-invalid', 'POST', Route.Collection, {
      tenant_id: 'tenant 1',
      video_filename: '',
    }),
    'post-track-tenant-mismatch': apiEvent('post-track-tenant-mismatch', 'POST', Route.Collection, {
      tenant_id: 'tenant2',
      video_filename: VIDEO,
    }),
    'get-active-task': apiEvent('get-active-task', 'GET', `${Route.Collection}?video_filename=${VIDEO}`),
    'get-task': apiEvent('get-task', 'GET', item),
    'cancel-task': apiEvent('cancel-task', 'DELETE', item),
    'put-track-not-allowed': apiEvent('put-track-not-allowed', 'PUT', Route.Collection, {}),
    'execution-failed': executionFailed(),
  };
}

/** A file's text: two-space JSON, as prettier leaves it. */
export function eventFileText(event: object): string {
  return `${JSON.stringify(event, null, 2)}\n`;
}

if (require.main === module) {
  for (const [name, event] of Object.entries(sampleEvents())) {
    writeFileSync(path.join(EVENTS_DIR, `${name}.json`), eventFileText(event));
    console.log(`events/${name}.json`);
  }
}
