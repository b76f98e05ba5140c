import { isFinal, type Task, type TrackingClient } from './tracking-client.js';

export interface TaskQueryOptions {
  readonly queryKey: readonly ['video-tracking', 'task', string | null, string];
  readonly queryFn: (context: { signal: AbortSignal }) => Promise<Task>;
  /** Polls every `intervalMs` while the task is active; stops (false) once it is final. */
  readonly refetchInterval: (query: { state: { data: Task | undefined } }) => number | false;
}

/**
 * @deprecated Use `@video-tracking/client/tanstack`: typed keys, and `videoTaskQueryOptions` also removes the
 * video's stored id when the task ends. Kept for existing callers.
 *
 * Options TanStack Query's `useQuery` / `queryClient.fetchQuery` take as they are (no dependency on it): the task
 * read by id, refetched while it is active. A TaskNotFoundError is the query's error.
 */
export function taskQueryOptions(
  client: TrackingClient,
  task: { taskId: string; tenantId?: string },
  intervalMs = 2000,
): TaskQueryOptions {
  const { taskId, tenantId } = task;
  return {
    queryKey: ['video-tracking', 'task', tenantId ?? null, taskId],
    queryFn: ({ signal }) => client.getTask({ taskId, tenantId, signal }),
    refetchInterval: (query) => (query.state.data && isFinal(query.state.data.status) ? false : intervalMs),
  };
}
