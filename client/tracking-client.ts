import createClient from 'openapi-fetch';
import type { components, paths } from './api-types.js';
import {
  backoffDelay,
  idempotencyKeyHeader,
  newIdempotencyKey,
  retryAfterSeconds,
  sleep,
  untilAborted,
  unverifiedClaims,
} from './internal.js';

type ApiTask = components['schemas']['Task'];
export type TaskStatus = components['schemas']['TaskStatus'];
export type Problem = components['schemas']['Problem'];
export type GatewayMessage = components['schemas']['GatewayMessage'];

/** A task as the client returns it: the contract's `Task`, in camelCase. */
export interface Task {
  readonly taskId: string;
  readonly tenantId: string;
  readonly videoFilename: string;
  readonly status: TaskStatus;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  /** What the analysis returned (a `completed` task). */
  readonly result?: unknown;
  /** Why a task failed or was cancelled by the system. */
  readonly error?: { readonly error: string; readonly message: string };
}

/** One page of the tenant's tasks, newest first; pass `nextCursor` as `cursor` for the next, until it is null. */
export interface TaskPage {
  readonly tasks: readonly Task[];
  readonly nextCursor: string | null;
}

/** What startAnalysis answers: the task (new, or the one already active for the video). */
export interface StartedAnalysis {
  readonly taskId: string;
  readonly status: TaskStatus;
  /** True when this call created the task (201); false when it joined the active one. */
  readonly created: boolean;
  /**
   * True when the server replayed the answer it gave to an earlier request with this call's idempotency key
   * (`Idempotent-Replayed: true`): an earlier attempt reached it, e.g. one whose answer was lost on the network.
   */
  readonly replayed: boolean;
}

export const FINAL_STATUSES: readonly TaskStatus[] = ['completed', 'failed', 'cancelled'];
export const isFinal = (status: TaskStatus): boolean => FINAL_STATUSES.includes(status);

/**
 * Supplies the bearer token; undefined sends no Authorization header (auth none / iam). Under the default
 * `auth=cognito` return the signed-in user's Cognito **ID token** (it carries `custom:tenant_id`; the access token
 * does not, and is refused with 403 tenant-claim-invalid); under `auth=jwt`, the token carrying the configured tenant
 * claim. `tenantId` is the call's, if it named one. Called before every request (retries and polling reads too), so
 * return a cached token while it is valid (Amplify's `fetchAuthSession()` caches and refreshes by itself). `refresh`
 * is true after a 401: return a new token, not a cached one.
 */
export type TokenProvider = (request: {
  readonly tenantId: string | undefined;
  readonly refresh: boolean;
}) => string | undefined | Promise<string | undefined>;

/** What a failed attempt is about to cost: the client waits `delayMs` before attempt `attempt + 1`. */
export interface RetryNotice {
  /** The answer's status; undefined when the request failed on the network. */
  readonly status: number | undefined;
  readonly attempt: number;
  readonly delayMs: number;
}

export interface TrackingClientOptions {
  /** The API's base URL, e.g. `https://abc.execute-api.eu-west-1.amazonaws.com`; '' for the page's own origin. */
  readonly baseUrl: string;
  /** The Cognito ID token (default stack) or your issuer's token: see TokenProvider. Leave out without authentication. */
  readonly getToken?: TokenProvider;
  /** Attempts per call on a network error, a 5xx or a 429 (every call is idempotent, POST included). @default 4 */
  readonly maxAttempts?: number;
  /** Called before each wait for another attempt. */
  readonly onRetry?: (notice: RetryNotice) => void;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** @default Math.random (the jitter) */
  readonly random?: () => number;
}

/**
 * Every call's options. `tenantId`: required without authentication; with a token leave it out (the server takes
 * the tenant from the token) or send the token's own.
 */
export interface CallOptions {
  readonly tenantId?: string;
  readonly signal?: AbortSignal;
}

export interface TaskCallOptions extends CallOptions {
  readonly taskId: string;
}

export interface VideoCallOptions extends CallOptions {
  readonly videoFilename: string;
}

export interface StartAnalysisOptions extends VideoCallOptions {
  /**
   * The user action's idempotency key, sent as `Idempotency-Key` (an RFC 8941 sf-string: quoted). Make one per user
   * action and pass it again when the same action is repeated (a retry of your own); the server answers the same key
   * and body within 24 h with its first answer. @default a new crypto.randomUUID() per call, kept across the call's
   * own retries
   */
  readonly idempotencyKey?: string;
}

export interface ListTasksOptions extends CallOptions {
  /** 1-100. @default 20 (the server's) */
  readonly limit?: number;
  /** The previous page's `nextCursor`. */
  readonly cursor?: string;
  readonly status?: 'active' | 'finished';
}

export interface WaitOptions extends TaskCallOptions {
  /** Called with every status read, the first one included. */
  readonly onUpdate?: (task: Task) => void;
  /** First pause between reads. @default 1000 */
  readonly initialDelayMs?: number;
  /** Longest pause between reads. @default 10000 */
  readonly maxDelayMs?: number;
}

/** An answer other than the documented success: `body` is the problem document or API Gateway's `{message}`. */
export class ApiError extends Error {
  override readonly name: string = 'ApiError';
  constructor(
    readonly status: number,
    readonly body: Problem | GatewayMessage | undefined,
    readonly retryAfterSeconds: number | undefined,
  ) {
    super(
      body && 'detail' in body
        ? `${status} ${body.title}: ${body.detail}`
        : `${status} ${body?.message ?? 'unexpected answer'}`,
    );
  }

  /** The problem type, e.g. `/problems/task-finished`; undefined for API Gateway's own answers. */
  get problemType(): string | undefined {
    return this.body && 'type' in this.body ? this.body.type : undefined;
  }
}

/**
 * No answer after the client's attempts: fetch rejected each time (a TypeError such as 'Failed to fetch'). A
 * browser reports a CORS refusal the same way, so the message names both; `cause` is the last fetch error.
 */
export class NetworkError extends TypeError {
  override readonly name: string = 'NetworkError';
  constructor(
    readonly attempts: number,
    cause: unknown,
  ) {
    const origin = (globalThis as { location?: { origin?: string } }).location?.origin;
    super(
      `No answer from the API after ${attempts} attempt(s) (${(cause as Error | undefined)?.message ?? String(cause)}): ` +
        'the network or the API is down, or, in a browser, the API refused this origin (CORS), which a page cannot ' +
        `tell apart. If the API is on another origin, allow ${origin && origin !== 'null' ? origin : "this page's origin"}: ` +
        "the stack's corsAllowOrigins context, or CORS_ALLOW_ORIGINS for npm start.",
      { cause },
    );
  }
}

/** The task does not exist for this tenant (404): unknown, malformed, or another tenant's. */
export class TaskNotFoundError extends ApiError {
  override readonly name: string = 'TaskNotFoundError';
  constructor(
    readonly taskId: string,
    body: Problem | GatewayMessage | undefined,
  ) {
    super(404, body, undefined);
  }
}

/** A tenant over its quota is told so by a 429 of this type: waiting a few seconds would not help. */
const QUOTA_EXCEEDED = '/problems/tenant-quota-exceeded';

function retryable(status: number, error: unknown): boolean {
  if (status === 429)
    return !(error && typeof error === 'object' && (error as { type?: unknown }).type === QUOTA_EXCEEDED);
  return status >= 500 && status <= 599;
}

const toTask = (task: ApiTask): Task => ({
  taskId: task.task_id,
  tenantId: task.tenant_id,
  videoFilename: task.video_filename,
  status: task.status,
  createdAt: task.created_at,
  updatedAt: task.updated_at,
  ...(task.started_at !== undefined && { startedAt: task.started_at }),
  ...(task.finished_at !== undefined && { finishedAt: task.finished_at }),
  ...(task.result !== undefined && { result: task.result }),
  ...(task.error !== undefined && { error: task.error }),
});

export type TrackingClient = ReturnType<typeof createTrackingClient>;

/**
 * The API's calls, one HTTP operation each (types generated from docs/openapi.yaml by openapi-typescript, calls by
 * openapi-fetch). Every call is idempotent, so every call retries network errors, 5xx and 429 (not a quota 429)
 * with one backoff (Retry-After when given, else exponential with jitter), up to `maxAttempts`. Runs in browsers and
 * in Node.js 20+.
 */
export function createTrackingClient(options: TrackingClientOptions) {
  const api = createClient<paths>({
    baseUrl: options.baseUrl,
    fetch: options.fetch ?? ((input) => globalThis.fetch(input)),
  });
  const maxAttempts = options.maxAttempts ?? 4;
  const random = options.random ?? Math.random;
  const polls = new Map<
    string,
    { promise: Promise<Task>; updates: Set<(task: Task) => void>; callers: number; stop: AbortController }
  >();

  async function authHeaders(tenantId: string | undefined, refresh: boolean): Promise<Record<string, string>> {
    const token = await options.getToken?.({ tenantId, refresh });
    return token ? { Authorization: `Bearer ${token}` } : {};
  }

  /** One call with the retries every call shares, and one new token after a 401. */
  async function send<R extends { response: Response; error?: unknown }>(
    tenantId: string | undefined,
    signal: AbortSignal | undefined,
    once: (headers: Record<string, string>) => Promise<R>,
  ): Promise<R> {
    let refreshed = false;
    for (let attempt = 1; ; attempt++) {
      let status: number | undefined;
      let retryAfter: number | undefined;
      try {
        const result = await once(await authHeaders(tenantId, refreshed));
        status = result.response.status;
        if (status === 401 && options.getToken && !refreshed) {
          refreshed = true;
          continue;
        }
        if (!retryable(status, result.error) || attempt >= maxAttempts) return result;
        retryAfter = retryAfterSeconds(result.response.headers.get('retry-after'));
      } catch (error) {
        // fetch rejects with a TypeError when the request never got an answer (refused, reset, DNS); by name, as
        // the error may come from another realm (a test runner's sandbox, an iframe's fetch).
        if (signal?.aborted || (error as Error | undefined)?.name !== 'TypeError') throw error;
        if (attempt >= maxAttempts) throw new NetworkError(attempt, error);
      }
      const delayMs = retryAfter !== undefined ? retryAfter * 1000 : backoffDelay(attempt - 1, 500, 8000, random);
      options.onRetry?.({ status, attempt, delayMs });
      await sleep(delayMs, signal);
    }
  }

  function fail(response: Response, error: unknown, taskId?: string): never {
    const body = error as Problem | GatewayMessage | undefined;
    if (taskId !== undefined && response.status === 404) throw new TaskNotFoundError(taskId, body);
    throw new ApiError(response.status, body, retryAfterSeconds(response.headers.get('retry-after')));
  }

  const tenantQuery = (tenantId: string | undefined) => (tenantId === undefined ? {} : { tenant_id: tenantId });

  async function getTask({ taskId, tenantId, signal }: TaskCallOptions): Promise<Task> {
    const { data, error, response } = await send(tenantId, signal, (headers) =>
      api.GET('/api/v1/track/{task_id}', {
        params: { path: { task_id: taskId }, query: tenantQuery(tenantId) },
        headers,
        signal,
      }),
    );
    return data ? toTask(data) : fail(response, error, taskId);
  }

  /** The polling loop behind waitForTask; errors other than an ApiError's retries already spent end it. */
  async function poll(wait: WaitOptions, signal: AbortSignal, updates: Set<(task: Task) => void>): Promise<Task> {
    const initial = wait.initialDelayMs ?? 1000;
    const max = wait.maxDelayMs ?? 10_000;
    for (let round = 0; ; round++) {
      const task = await getTask({ taskId: wait.taskId, tenantId: wait.tenantId, signal });
      for (const update of updates) update(task);
      if (isFinal(task.status)) return task;
      await sleep(backoffDelay(round, initial, max, random), signal);
    }
  }

  return {
    /**
     * POST: starts the analysis of a video, or joins the task already active for it (`created` false). Every
     * attempt of one call sends one `Idempotency-Key` (`idempotencyKey`, else a new UUID per call), so the call's
     * own retries never start a second analysis; `replayed` tells an answer the server replayed for the key.
     */
    async startAnalysis({
      videoFilename,
      tenantId,
      signal,
      idempotencyKey = newIdempotencyKey(),
    }: StartAnalysisOptions): Promise<StartedAnalysis> {
      const key = idempotencyKeyHeader(idempotencyKey);
      const { data, error, response } = await send(tenantId, signal, (headers) =>
        api.POST('/api/v1/track', {
          body: { ...tenantQuery(tenantId), video_filename: videoFilename },
          headers: { ...headers, 'Idempotency-Key': key },
          signal,
        }),
      );
      if (!data) return fail(response, error);
      return {
        created: response.status === 201,
        replayed: /^\s*(true|\?1)\s*$/i.test(response.headers.get('idempotent-replayed') ?? ''),
        taskId: data.task_id,
        status: data.status,
      };
    },

    /** GET by id. Rejects with TaskNotFoundError when there is no such task for this tenant. */
    getTask,

    /**
     * The claims of the token the client would send now (the token provider's, decoded, **not verified**), e.g.
     * `custom:tenant_id` to show the tenant; undefined without a token provider, a token, or a JWT.
     */
    async tokenClaims(): Promise<Readonly<Record<string, unknown>> | undefined> {
      const token = await options.getToken?.({ tenantId: undefined, refresh: false });
      return token ? unverifiedClaims(token) : undefined;
    },

    /** GET by video: the video's active task, or undefined when none is active (no task is missing then). */
    async findActiveTask({ videoFilename, tenantId, signal }: VideoCallOptions): Promise<Task | undefined> {
      const { data, error, response } = await send(tenantId, signal, (headers) =>
        api.GET('/api/v1/track', {
          params: { query: { ...tenantQuery(tenantId), video_filename: videoFilename } },
          headers,
          signal,
        }),
      );
      if (data && 'task_id' in data) return toTask(data);
      if (response.status === 404) return undefined;
      return fail(response, error);
    },

    /** GET the listing: one page of the tenant's tasks, newest first. */
    async listTasks({ tenantId, signal, limit, cursor, status }: ListTasksOptions = {}): Promise<TaskPage> {
      const query = {
        ...tenantQuery(tenantId),
        ...(limit !== undefined && { limit }),
        ...(cursor !== undefined && { cursor }),
        ...(status !== undefined && { status }),
      };
      const { data, error, response } = await send(tenantId, signal, (headers) =>
        api.GET('/api/v1/track', { params: { query }, headers, signal }),
      );
      if (data && 'tasks' in data) return { tasks: data.tasks.map(toTask), nextCursor: data.next_cursor };
      return fail(response, error);
    },

    /**
     * DELETE: cancels the task. A task that already completed or failed rejects with an ApiError 409 (`task_status`
     * in its body); an unknown one with TaskNotFoundError.
     */
    async cancelTask({ taskId, tenantId, signal }: TaskCallOptions): Promise<Task> {
      const { data, error, response } = await send(tenantId, signal, (headers) =>
        api.DELETE('/api/v1/track/{task_id}', {
          params: { path: { task_id: taskId }, query: tenantQuery(tenantId) },
          headers,
          signal,
        }),
      );
      return data ? toTask(data) : fail(response, error, taskId);
    },

    /**
     * Polls GET by id until the task is completed, failed or cancelled, and returns it. Pauses grow from
     * initialDelayMs to maxDelayMs with jitter. Calls for a task already being waited for share its polling (the
     * first call's delays): two views of one task send one request per round. Rejects with the signal's reason when
     * aborted (the polling stops when every caller has aborted), with TaskNotFoundError for an unknown task.
     */
    waitForTask(wait: WaitOptions): Promise<Task> {
      const key = JSON.stringify([wait.tenantId ?? null, wait.taskId]);
      let shared = polls.get(key);
      if (!shared) {
        const stop = new AbortController();
        const updates = new Set<(task: Task) => void>();
        const entry = { promise: poll(wait, stop.signal, updates), updates, callers: 0, stop };
        entry.promise.catch(() => undefined).finally(() => polls.get(key) === entry && polls.delete(key));
        polls.set(key, (shared = entry));
      }
      const entry = shared;
      // A wrapper per call, so two calls passing the same function both hear updates.
      const onUpdate = wait.onUpdate && ((task: Task) => wait.onUpdate!(task));
      if (onUpdate) entry.updates.add(onUpdate);
      entry.callers++;
      return untilAborted(entry.promise, wait.signal).finally(() => {
        if (onUpdate) entry.updates.delete(onUpdate);
        if (--entry.callers > 0) return;
        if (polls.get(key) === entry) polls.delete(key);
        entry.stop.abort(wait.signal?.reason);
      });
    },
  };
}
