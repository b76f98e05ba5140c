// @video-tracking/client/tanstack: TanStack Query options with typed keys. Only types come from
// @tanstack/query-core (an optional peer dependency): this module runs without it.
import type { DataTag } from '@tanstack/query-core';
import { isFinal, type ListTasksOptions, type Task, type TaskPage, type TrackingClient } from './tracking-client.js';
import type { VideoAnalyses, VideoTaskOptions } from './video-analyses.js';

/** Every key of this module starts with it: `queryClient.invalidateQueries({ queryKey: [TRACKING_QUERY_ROOT] })`. */
export const TRACKING_QUERY_ROOT = 'video-tracking';

/** One task by id; `null` is the tenant left out (a token's). */
export type TaskQueryKey = DataTag<readonly ['video-tracking', 'task', string | null, string], Task>;
/** One page of the listing: the query's filters and cursor, each null when left out. */
export type TaskListQueryKey = DataTag<
  readonly [
    'video-tracking',
    'tasks',
    string | null,
    { readonly limit: number | null; readonly cursor: string | null; readonly status: 'active' | 'finished' | null },
  ],
  TaskPage
>;
/** The video's active task, looked up on the server; its data is null when none is active. */
export type ActiveTaskQueryKey = DataTag<
  readonly ['video-tracking', 'active-task', string | null, string],
  Task | null
>;

/**
 * What `useQuery`, `queryClient.fetchQuery` and the other frameworks' adapters take (spread it to add options).
 * `retry: false`: every client call already retries (see the README); with `maxAttempts: 1` pass `retry` yourself.
 */
export interface TrackingQueryOptions<TData, TKey> {
  readonly queryKey: TKey;
  readonly queryFn: (context: { readonly signal: AbortSignal }) => Promise<TData>;
  readonly retry: false;
}

export interface TaskQueryOptions extends TrackingQueryOptions<Task, TaskQueryKey> {
  /** `intervalMs` while the task is active (or not read yet); false, no more polling, once it is final. */
  readonly refetchInterval: (query: { readonly state: { readonly data: Task | undefined } }) => number | false;
}

export interface PollOptions {
  /** The pause between two reads of an active task. @default 2000 */
  readonly intervalMs?: number;
}

const taskKey = (tenantId: string | undefined, taskId: string) =>
  [TRACKING_QUERY_ROOT, 'task', tenantId ?? null, taskId] as const as TaskQueryKey;

function pollingTask(
  queryKey: TaskQueryKey,
  queryFn: TaskQueryOptions['queryFn'],
  { intervalMs = 2000 }: PollOptions,
): TaskQueryOptions {
  return {
    queryKey,
    queryFn,
    retry: false,
    refetchInterval: ({ state }) => (state.data && isFinal(state.data.status) ? false : intervalMs),
  };
}

/**
 * A task read by id, refetched every `intervalMs` while it is active: one GET per interval, no other loop. For a
 * task started with `createVideoAnalyses`, use videoTaskQueryOptions, which also removes the video's stored id.
 */
export function taskQueryOptions(
  client: TrackingClient,
  { taskId, tenantId }: { readonly taskId: string; readonly tenantId?: string },
  poll: PollOptions = {},
): TaskQueryOptions {
  return pollingTask(taskKey(tenantId, taskId), ({ signal }) => client.getTask({ taskId, tenantId, signal }), poll);
}

/**
 * The follower of a video's task in a TanStack page, in place of `followVideoTask` (do not call both: that would be
 * two polling loops): one GET per `intervalMs` while the task is active, and once it has ended (or is unknown) its
 * stored id is removed, as `followVideoTask` does. Shares its key, and so its cache entry, with taskQueryOptions.
 */
export function videoTaskQueryOptions(
  analyses: VideoAnalyses,
  video: Omit<VideoTaskOptions, 'signal'>,
  poll: PollOptions = {},
): TaskQueryOptions {
  return pollingTask(
    taskKey(video.tenantId, video.taskId),
    ({ signal }) => analyses.readVideoTask({ ...video, signal }),
    poll,
  );
}

/** One page of the tenant's tasks; pass the page's `nextCursor` as `cursor` for the next (a key of its own). */
export function taskListQueryOptions(
  client: TrackingClient,
  { tenantId, limit, cursor, status }: Omit<ListTasksOptions, 'signal'> = {},
): TrackingQueryOptions<TaskPage, TaskListQueryKey> {
  const filters = { limit: limit ?? null, cursor: cursor ?? null, status: status ?? null };
  return {
    queryKey: [TRACKING_QUERY_ROOT, 'tasks', tenantId ?? null, filters] as const as TaskListQueryKey,
    queryFn: ({ signal }) => client.listTasks({ tenantId, limit, cursor, status, signal }),
    retry: false,
  };
}

/** The video's active task, looked up on the server (GET by video); null, never undefined, when none is active. */
export function activeTaskQueryOptions(
  client: TrackingClient,
  { tenantId, videoFilename }: { readonly tenantId?: string; readonly videoFilename: string },
): TrackingQueryOptions<Task | null, ActiveTaskQueryKey> {
  return {
    queryKey: [
      TRACKING_QUERY_ROOT,
      'active-task',
      tenantId ?? null,
      videoFilename.normalize('NFC'),
    ] as const as ActiveTaskQueryKey,
    queryFn: async ({ signal }) => (await client.findActiveTask({ tenantId, videoFilename, signal })) ?? null,
    retry: false,
  };
}
