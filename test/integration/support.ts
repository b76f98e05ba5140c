import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeExecutionCommand, paginateListExecutions, SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { createDocumentClient } from '../../lambda/adapters/dynamodb/table-client';
import { DynamoDbTaskStore } from '../../lambda/adapters/dynamodb/task-store';
import { StepFunctionsWorkflow } from '../../lambda/adapters/sfn-workflow';
import type { Workflow } from '../../lambda/core/ports';
import { type ActiveTask, TaskStatus } from '../../lambda/core/task';
import { TaskService, type TaskServiceDeps } from '../../lambda/core/task-service';
import { newTestId, TEST_KEYS } from '../support/stored-items';
import { assertMatchesContract } from '../support/openapi-contract';

/** Addresses of the local system started by global-setup.ts (loopback only). */
export const env = {
  apiUrl: required('LOCAL_API_URL'),
  dynamoDbEndpoint: required('AWS_ENDPOINT_URL_DYNAMODB'),
  sfnEndpoint: required('AWS_ENDPOINT_URL_SFN'),
  tableName: required('TABLE_NAME'),
  stateMachineArn: required('STATE_MACHINE_ARN'),
  cdkOut: required('LOCAL_CDK_OUT'),
};

function required(name: string): string {
  const value = process.env[name];
  if (!value)
    throw new Error(`${name} is not set: integration tests run under jest's integration project (global-setup.ts).`);
  return value;
}

export const dynamodb = new DynamoDBClient({ endpoint: env.dynamoDbEndpoint });
export const doc = DynamoDBDocumentClient.from(dynamodb);
export const sfn = new SFNClient({ endpoint: env.sfnEndpoint });
/** The adapters a Lambda function runs the rules on, here over DynamoDB Local and the local state machine. */
export const localStore = new DynamoDbTaskStore(createDocumentClient(dynamodb), env.tableName, TEST_KEYS);
export const localWorkflow = new StepFunctionsWorkflow(sfn, env.stateMachineArn);

/** The task rules over the local system, wired as taskServiceOn wires them in Lambda; a test replaces what it needs (a wrapped store, a clock). */
export function localTaskService(overrides: Partial<TaskServiceDeps> = {}): TaskService {
  return new TaskService({
    store: localStore,
    workflow: localWorkflow,
    clock: { now: () => new Date() },
    newId: newTestId,
    ...overrides,
  });
}

/** A tenant no other test uses, so tests can share one table and one state machine. */
export function uniqueTenant(label: string): string {
  return `${label}-${randomUUID().slice(0, 8)}`;
}

export interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

/**
 * The one way tests call the API. `path` is relative to the AUTH=none API, or an absolute URL on another local front
 * end (the AUTH=jwt one global-setup.ts starts, see auth.test.ts); `headers` are added (e.g. Authorization). A Uint8Array body is sent
 * as those exact bytes (e.g. invalid UTF-8), anything else as JSON. Every answer is checked against
 * docs/openapi.yaml: an undocumented status, header or body shape fails the test.
 */
export async function call(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const res = await contractFetch(/^https?:\/\//.test(path) ? path : `${env.apiUrl}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : body instanceof Uint8Array ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

/** fetch, with the answer checked against docs/openapi.yaml; call() and the client (client/) under test use it. */
export async function contractFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const request = new Request(input, init);
  const res = await fetch(request);
  const text = await res.text();
  const url = new URL(request.url);
  await assertMatchesContract({
    method: request.method,
    path: url.pathname + url.search,
    status: res.status,
    headers: res.headers,
    text,
  });
  return new Response(text === '' ? null : text, {
    status: res.status,
    statusText: res.statusText,
    headers: res.headers,
  });
}

export const post = (tenant_id: string, video_filename: string) =>
  call('POST', '/api/v1/track', { tenant_id, video_filename });
export const getTask = (tenant: string, id: string) =>
  call('GET', `/api/v1/track/${id}?tenant_id=${encodeURIComponent(tenant)}`);
export const getActive = (tenant: string, video: string) =>
  call('GET', `/api/v1/track?tenant_id=${encodeURIComponent(tenant)}&video_filename=${encodeURIComponent(video)}`);
export const cancel = (tenant: string, id: string) =>
  call('DELETE', `/api/v1/track/${id}?tenant_id=${encodeURIComponent(tenant)}`);

/** Polls the task by id until it has `status`; returns its body. */
export function taskReaches(tenant: string, id: string, status: string, timeoutMs = 20_000): Promise<any> {
  return eventually(
    async () => {
      const t = await getTask(tenant, id);
      return t.body?.status === status ? t.body : undefined;
    },
    timeoutMs,
    `task ${id} ${status}`,
  );
}

/** Every item of a tenant (active items and final records). */
export async function itemsOf(tenant: string): Promise<Record<string, any>[]> {
  const items: Record<string, any>[] = [];
  let ExclusiveStartKey: Record<string, any> | undefined;
  do {
    const page = await doc.send(
      new ScanCommand({
        TableName: env.tableName,
        FilterExpression: 'tenant_id = :t',
        ExpressionAttributeValues: { ':t': tenant },
        ExclusiveStartKey,
        ConsistentRead: true,
      }),
    );
    items.push(...(page.Items ?? []));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return items;
}

/** Executions of the local state machine whose input names this tenant. */
export async function executionsOf(tenant: string) {
  const all = [];
  for await (const page of paginateListExecutions(
    { client: sfn, pageSize: 1000 },
    { stateMachineArn: env.stateMachineArn },
  ))
    all.push(...(page.executions ?? []));
  const described = await Promise.all(
    all.map((e) => sfn.send(new DescribeExecutionCommand({ executionArn: e.executionArn }))),
  );
  return described.filter((d) => JSON.parse(d.input ?? '{}').tenant_id === tenant);
}

/** Local-only controls of the runner and the handler's fault injection (local/local-only/test-controls.ts); not AWS APIs. */
export async function localControl(
  operation: string,
  input: Record<string, unknown>,
  endpoint = env.sfnEndpoint,
): Promise<void> {
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: { 'x-amz-target': `AWSStepFunctions.${operation}`, 'content-type': 'application/x-amz-json-1.0' },
    body: JSON.stringify(input),
  });
  if (!res.ok) throw new Error(`${operation} failed: ${res.status} ${await res.text()}`);
}
/** Executions for this tenant wait before their first state until released. */
export const holdExecutions = (tenant: string) => localControl('LocalHold', { field: 'tenant_id', value: tenant });
export const releaseExecutions = (tenant: string) =>
  localControl('LocalRelease', { field: 'tenant_id', value: tenant });
/** The API handler's next `times` calls of `command` that name this tenant fail with `error`. */
export const injectHandlerFault = (tenant: string, command: string, error: string, times: number) =>
  localControl('LocalInjectFault', { command, error, match: tenant, times });
/** The workflow's next `times` attempts of `state` for this tenant fail with `error` (and `cause`, if given). */
export const injectStateFault = (tenant: string, state: string, error: string, times: number, cause?: string) =>
  localControl('LocalInjectStateFault', { state, error, cause, match: tenant, times });
/** The next execution of this tenant ends without its EventBridge event (the finalizer never hears of it). */
export const dropEndEvent = (tenant: string) => localControl('LocalDropEndEvents', { match: tenant, times: 1 });

/** Polls until check() returns a value (not undefined), or fails after timeoutMs. */
export async function eventually<T>(
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A value the test needs to go on: the test fails, naming it, when it is missing. */
export function present<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`expected ${what}, found none`);
  return value;
}

/** The first execution listed for a tenant (tests that start one). */
export async function firstExecutionOf(tenant: string) {
  return present((await executionsOf(tenant))[0], `an execution of ${tenant}`);
}

/** Runs fn over items with at most `limit` in flight. */
export async function pool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  // One iterator shared by the workers: each takes the next item when it is free.
  const queue = items.entries();
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      for (const [i, item] of queue) results[i] = await fn(item);
    }),
  );
  return results;
}

/** The real workflow, except that starting never returns: a creator that died right after its claim. */
export function withHangingStart(workflow: Workflow): Workflow {
  return Object.assign(Object.create(workflow) as Workflow, { start: () => new Promise<void>(() => undefined) });
}

/** Lets `service` (built on withHangingStart) claim the video and die there; returns the active item it left. */
export async function strandedTask(service: TaskService, tenant: string, video: string): Promise<Record<string, any>> {
  void service.track({ tenantId: tenant, videoFilename: video });
  return eventually(async () => (await itemsOf(tenant)).find((i) => i.item_type === 'active'));
}

/** A new task of (tenant, video) as the service would claim it now: not started, the default lease (3600 + 300 s). */
export function newTask(tenant: string, video: string): ActiveTask {
  const now = new Date();
  return {
    taskId: newTestId(tenant, video),
    tenantId: tenant,
    videoFilename: video,
    status: TaskStatus.NotStarted,
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    leaseExpiresAt: Math.floor(now.getTime() / 1000) + 3900,
    retainUntil: Math.floor(now.getTime() / 1000) + 86400,
  };
}
