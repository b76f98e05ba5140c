// A Vite + React + TanStack Query app on the client package, as a frontend developer writes one: analyseVideo as a
// mutation, the task followed by videoTaskQueryOptions (the only polling loop), the listing and the look-up as
// queries. The page's address names the API, the tenant, the video and the polling interval.
import { QueryClient, QueryClientProvider, useMutation, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { createRoot } from 'react-dom/client';
import { createTrackingClient, createVideoAnalyses, type Task } from '@video-tracking/client';
import { activeTaskQueryOptions, taskListQueryOptions, videoTaskQueryOptions } from '@video-tracking/client/tanstack';

const params = new URLSearchParams(location.search);
const tenantId = params.get('tenant') ?? 'tanstack-app';
const videoFilename = params.get('video') ?? 'app.mp4';
const intervalMs = Number(params.get('interval') ?? 2000);

const client = createTrackingClient({ baseUrl: params.get('api') ?? '' });
const analyses = createVideoAnalyses({ client });
const queryClient = new QueryClient();

function FollowedTask({ taskId }: { taskId: string }) {
  const { data: task, error } = useQuery(
    videoTaskQueryOptions(analyses, { tenantId, videoFilename, taskId }, { intervalMs }),
  );
  // The key is typed: the cache answers a Task, not unknown.
  const cached: Task | undefined = queryClient.getQueryData(
    videoTaskQueryOptions(analyses, { tenantId, videoFilename, taskId }).queryKey,
  );
  return (
    <p>
      <span data-testid="task-id">{taskId}</span> <span data-testid="task-status">{task?.status ?? 'loading'}</span>{' '}
      <span data-testid="cached-status">{cached?.status ?? ''}</span>
      {error && <span data-testid="error">{error.message}</span>}
    </p>
  );
}

function App() {
  const [taskId, setTaskId] = useState<string>();
  const active = useQuery(activeTaskQueryOptions(client, { tenantId, videoFilename }));
  const list = useQuery(taskListQueryOptions(client, { tenantId, limit: 5 }));
  const analyse = useMutation({
    mutationFn: () => analyses.analyseVideo({ tenantId, videoFilename }),
    onSuccess: (started) => setTaskId(started.taskId),
  });
  const ready = active.isFetched && list.isFetched;
  return (
    <main data-ready={ready}>
      <p data-testid="active">{active.data === null ? 'none' : (active.data?.taskId ?? '')}</p>
      <p data-testid="listed">{list.data?.tasks.length ?? ''}</p>
      <button data-testid="analyse" disabled={!ready || analyse.isPending} onClick={() => analyse.mutate()}>
        Analyse
      </button>
      {taskId && <FollowedTask taskId={taskId} />}
    </main>
  );
}

createRoot(document.getElementById('root')!).render(
  <QueryClientProvider client={queryClient}>
    <App />
  </QueryClientProvider>,
);
