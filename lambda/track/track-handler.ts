import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { type AuthConfig, type Caller, callerFromClaims, tenantFor } from '../core/caller';
import { DependencyUnavailable, InvalidRequest, TaskNotFound } from '../core/errors';
import type { ServiceLog } from '../core/ports';
import type { TaskService } from '../core/task-service';
import type { Task } from '../core/task';
import { isTaskId, parseListParameters, parseTrackRequest, parseVideoFilename } from '../core/validation';
import { Route } from '../shared/api-routes';
import { AuthMode, DEFAULT_TENANT_CLAIM } from '../shared/auth-modes';
import { RequestOutcome } from '../shared/observability-names';
import { BASE_HEADERS, errorResponse, type HttpResponse, json, problem } from './http';
import { parseIdempotencyKey } from './idempotency-key-header';

/** Marks an answer that repeats an earlier request's under the same Idempotency-Key. */
const REPLAYED = { 'Idempotent-Replayed': 'true' };

export const MAX_BODY_BYTES = 64 * 1024;
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const ITEM = new RegExp(`^${Route.Collection}/([^/]+)$`);
const LISTING_PARAMETERS = ['limit', 'cursor', 'status'] as const;

/** Counts each request's outcome; Powertools Metrics (CloudWatch EMF) in Lambda. */
export type RecordOutcome = (outcome: RequestOutcome) => void;

export function outcomeOf(status: number): RequestOutcome {
  // Only POST answers 201.
  if (status === 201) return RequestOutcome.TaskCreated;
  if (status === 503) return RequestOutcome.DependencyUnavailable;
  if (status >= 500) return RequestOutcome.InternalError;
  if (status >= 400) return RequestOutcome.ClientError;
  return RequestOutcome.Success;
}

const NO_AUTH: AuthConfig = { mode: AuthMode.None, tenantClaim: DEFAULT_TENANT_CLAIM };

/** Parses the API Gateway event and maps the outcome to HTTP; the rules live in TaskService. */
export function createTrackHandler(
  service: TaskService,
  log: ServiceLog,
  recordOutcome: RecordOutcome = () => undefined,
  auth: AuthConfig = NO_AUTH,
) {
  return async function handle(event: APIGatewayProxyEventV2): Promise<HttpResponse> {
    const started = performance.now();
    const method = event.requestContext.http.method;
    const path = event.rawPath;
    let response: HttpResponse;
    let taskId: string | undefined;
    let duplicate = false;
    try {
      // A CORS preflight reaches the function only through its unauthenticated OPTIONS route: nothing to do.
      if (method === 'OPTIONS') response = { statusCode: 204, headers: { ...BASE_HEADERS } };
      else
        ({
          response,
          taskId,
          duplicate = false,
        } = await route(service, callerFromClaims(auth, claimsOf(event)), event, method, path));
    } catch (error) {
      response = errorResponse(error);
      // A failed read or cancel names its task in the path; a POST that created one before failing, in the error.
      taskId = taskIdInPath(path) ?? (error instanceof DependencyUnavailable ? error.taskId : undefined);
      if (response.statusCode >= 500) log.error('request failed', { error, method, path, task_id: taskId });
    }
    log.info('request', {
      method,
      path,
      status: response.statusCode,
      task_id: taskId,
      duration_ms: Math.round(performance.now() - started),
    });
    recordOutcome(duplicate ? RequestOutcome.TaskExisting : outcomeOf(response.statusCode));
    return response;
  };
}

async function route(
  service: TaskService,
  caller: Caller,
  event: APIGatewayProxyEventV2,
  method: string,
  path: string,
): Promise<{ response: HttpResponse; taskId?: string; duplicate?: boolean }> {
  if (path === Route.Collection) {
    if (method === 'POST') return track(service, caller, event);
    if (method === 'GET') {
      const q = event.queryStringParameters ?? {};
      const tenantId = tenantFor(caller, q.tenant_id, 'query');
      if (q.video_filename === undefined) {
        const page = await service.list(tenantId, parseListParameters(q));
        return { response: json(200, { tasks: page.tasks.map(taskBody), next_cursor: page.nextCursor }) };
      }
      const listing = LISTING_PARAMETERS.find((name) => q[name] !== undefined);
      if (listing)
        throw new InvalidRequest(listing, `${listing} is only allowed without video_filename (the listing).`);
      const task = await service.getActive(tenantId, parseVideoFilename(q.video_filename));
      return { response: json(200, taskBody(task)), taskId: task.taskId };
    }
    return { response: methodNotAllowed(method, 'GET, POST') };
  }
  const segment = ITEM.exec(path)?.[1];
  if (segment !== undefined) {
    const id = safeDecode(segment);
    if (method !== 'GET' && method !== 'DELETE') return { response: methodNotAllowed(method, 'GET, DELETE') };
    const tenantId = tenantFor(caller, event.queryStringParameters?.tenant_id, 'query');
    if (!isTaskId(id)) throw new TaskNotFound(`task ${id}`);
    const task = method === 'GET' ? await service.get(tenantId, id) : await service.cancel(tenantId, id);
    return { response: json(200, taskBody(task)), taskId: id };
  }
  return { response: problem(404, 'not-found', 'Not found', `No route for ${method} ${path}.`) };
}

async function track(
  service: TaskService,
  caller: Caller,
  event: APIGatewayProxyEventV2,
): Promise<{ response: HttpResponse; taskId?: string; duplicate?: boolean }> {
  const contentType = header(event, 'content-type');
  if (contentType && !/^application\/([\w.+-]+\+)?json\s*(;|$)/i.test(contentType)) {
    return {
      response: problem(
        415,
        'unsupported-media-type',
        'Unsupported media type',
        `The body must be application/json, got ${contentType}.`,
        {
          headers: { 'Accept-Post': 'application/json' },
        },
      ),
    };
  }
  const idempotencyKey = parseIdempotencyKey(header(event, 'idempotency-key'));
  const bytes =
    event.body === undefined ? Buffer.alloc(0) : Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
  if (bytes.length > MAX_BODY_BYTES) {
    return {
      response: problem(
        413,
        'payload-too-large',
        'Payload too large',
        `The body must be at most ${MAX_BODY_BYTES} bytes.`,
      ),
    };
  }
  let raw: string;
  try {
    // JSON text is UTF-8 (RFC 8259 §8.1). A lossy decode would turn different byte names into one U+FFFD name.
    raw = UTF8.decode(bytes);
  } catch {
    throw new InvalidRequest(undefined, 'The request body is not valid UTF-8.');
  }
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    throw new InvalidRequest(undefined, 'The request body must be a JSON object; it is not valid JSON.');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidRequest(undefined, 'The request body must be a JSON object.');
  }
  const fields = body as Record<string, unknown>;
  const tenantId = tenantFor(caller, fields.tenant_id, 'body');
  const request = parseTrackRequest({ ...fields, tenant_id: tenantId });
  const outcome = await service.track(request, idempotencyKey === undefined ? undefined : { idempotencyKey });
  const task = outcome.task;
  if (outcome.kind === 'created') {
    return {
      response: json(
        201,
        {
          task_id: task.taskId,
          status: task.status,
          tenant_id: task.tenantId,
          video_filename: task.videoFilename,
          created_at: task.createdAt,
        },
        // Without a token the tenant comes from the request, so the link must carry it to be followable as it stands.
        {
          Location: `${Route.Collection}/${task.taskId}${caller.tenantId === undefined ? `?tenant_id=${encodeURIComponent(task.tenantId)}` : ''}`,
        },
      ),
      taskId: task.taskId,
    };
  }
  // The key's task has ended: the whole task, its result or error included, as GET by id shows it.
  if (outcome.kind === 'replayed')
    return { response: json(200, taskBody(task), REPLAYED), taskId: task.taskId, duplicate: true };
  return {
    response: json(
      200,
      { task_id: task.taskId, status: task.status, message: 'Analysis already in progress' },
      outcome.replayed ? REPLAYED : {},
    ),
    taskId: task.taskId,
    duplicate: true,
  };
}

function taskIdInPath(path: string): string | undefined {
  const segment = ITEM.exec(path)?.[1];
  const id = segment === undefined ? undefined : safeDecode(segment);
  return id !== undefined && isTaskId(id) ? id : undefined;
}

/** A malformed escape (e.g. %E0) cannot name a task: treated like any other unknown id. */
function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function methodNotAllowed(method: string, allow: string): HttpResponse {
  return problem(405, 'method-not-allowed', 'Method not allowed', `${method} is not supported here; use ${allow}.`, {
    headers: { Allow: allow },
  });
}

/** Where API Gateway's JWT authorizer puts the verified claims (payload 2.0: requestContext.authorizer.jwt.claims). */
function claimsOf(event: APIGatewayProxyEventV2): Record<string, unknown> | undefined {
  const context = event.requestContext as { authorizer?: { jwt?: { claims?: Record<string, unknown> } } };
  return context.authorizer?.jwt?.claims;
}

function header(event: APIGatewayProxyEventV2, name: string): string | undefined {
  const headers = event.headers ?? {};
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key ? headers[key] : undefined;
}

/** The public shape of a task: snake_case, optional members only when known. */
export function taskBody(task: Task): Record<string, unknown> {
  return {
    task_id: task.taskId,
    tenant_id: task.tenantId,
    video_filename: task.videoFilename,
    status: task.status,
    created_at: task.createdAt,
    updated_at: task.updatedAt,
    started_at: task.startedAt,
    finished_at: task.finishedAt,
    result: task.result,
    error: task.error,
  };
}
