// The local demo page: the client (client/) and the DOM, nothing else. Bundled by esbuild when npm start starts.
import { ApiError, createTrackingClient, createVideoAnalyses, isFinal, type Task, type TaskStatus, type TokenProvider } from '../../../client';

const params = new URLSearchParams(location.search);
/** `?api=http://127.0.0.1:8000` lets a page on another origin (a frontend dev server) call the local API (CORS). */
const baseUrl = params.get('api') ?? '';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const tenantInput = $<HTMLInputElement>('tenant');
const videoInput = $<HTMLInputElement>('video');
const analyseButton = $<HTMLButtonElement>('analyse');
const cancelButton = $<HTMLButtonElement>('cancel');
const taskIdText = $('task-id');
const statusText = $('task-status');
const notice = $('notice');
const recentList = $('recent-tasks');
const authMode = document.querySelector<HTMLElement>('[data-testid="auth-mode"]')!;

tenantInput.value = params.get('tenant') ?? 'tenant1';
videoInput.value = params.get('video') ?? 'test.mp4';

/**
 * Under `AUTH=jwt npm start` the local issuer hands out development tokens (GET /local/auth, POST /local/token); in
 * any other mode the API takes no token. Tokens are cached per tenant until shortly before they expire.
 */
async function developmentTokens(): Promise<TokenProvider | undefined> {
  const auth = await fetch(`${baseUrl}/local/auth`)
    .then((r) => (r.ok ? (r.json() as Promise<{ mode: string }>) : { mode: 'none' }))
    .catch(() => ({ mode: 'none' }));
  authMode.textContent = auth.mode;
  if (auth.mode !== 'jwt') return undefined;
  const cache = new Map<string, { token: string; expiresAt: number }>();
  return async ({ tenantId = '', refresh }) => {
    const hit = cache.get(tenantId);
    if (hit && !refresh && hit.expiresAt > Date.now() + 30_000) return hit.token;
    const res = await fetch(`${baseUrl}/local/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tenant_id: tenantId, ttl_seconds: 3600 }),
    });
    if (!res.ok) throw new Error(`POST /local/token answered ${res.status}`);
    const { id_token, expires_in } = (await res.json()) as { id_token: string; expires_in: number };
    cache.set(tenantId, { token: id_token, expiresAt: Date.now() + expires_in * 1000 });
    return id_token;
  };
}

interface RecentTask {
  task_id: string;
  tenant_id: string;
  video_filename: string;
  status: TaskStatus;
}
const RECENT_KEY = 'video-tracking:demo:recent';

function recentTasks(): RecentTask[] {
  try {
    return JSON.parse(localStorage.getItem(RECENT_KEY) ?? '[]') as RecentTask[];
  } catch {
    return [];
  }
}

function noteRecent(task: RecentTask): void {
  const list = [task, ...recentTasks().filter((t) => t.task_id !== task.task_id)].slice(0, 10);
  localStorage.setItem(RECENT_KEY, JSON.stringify(list));
  renderRecent();
}

function renderRecent(): void {
  recentList.replaceChildren(
    ...recentTasks().map((t) => {
      const item = document.createElement('li');
      item.dataset.taskId = t.task_id;
      item.textContent = `${t.tenant_id} / ${t.video_filename}: ${t.status} (${t.task_id})`;
      return item;
    }),
  );
}

const getToken = await developmentTokens();
const client = createTrackingClient({
  baseUrl,
  getToken,
  onRetry: ({ status, delayMs }) => {
    notice.textContent = `The service is busy (${status}); retrying in ${Math.round(delayMs / 100) / 10} s`;
  },
});
const analyses = createVideoAnalyses({ client });

/** The task this tab shows, and the poll that follows it. */
let shown: { tenantId: string; videoFilename: string; taskId: string; status: TaskStatus } | undefined;
let following: AbortController | undefined;

function show(task: { tenantId: string; videoFilename: string; taskId: string; status: TaskStatus } | undefined): void {
  shown = task;
  taskIdText.textContent = task?.taskId ?? '';
  statusText.textContent = task?.status ?? '';
  cancelButton.disabled = !task || isFinal(task.status);
  if (task) noteRecent({ task_id: task.taskId, tenant_id: task.tenantId, video_filename: task.videoFilename, status: task.status });
}

function showTask(task: Task): void {
  show(task);
}

function fail(error: unknown): void {
  if ((error as Error).name === 'AbortError') return;
  if (error instanceof ApiError && error.problemType === '/problems/tenant-quota-exceeded') {
    const { limit, active_count } = error.body as { limit?: number; active_count?: number };
    notice.textContent = `Not started: this tenant already has ${active_count} active analyses, its limit is ${limit}. Wait for one to end (or cancel one), then try again.`;
    return;
  }
  notice.textContent = error instanceof ApiError ? error.message : `Failed: ${(error as Error).message}`;
}

/** Shows the task and polls it until it ends; the entry is removed then (VideoAnalyses.followVideoTask). */
function follow(tenantId: string, videoFilename: string, taskId: string, status: TaskStatus): void {
  if (shown?.taskId === taskId && following && !following.signal.aborted) return;
  following?.abort();
  const controller = new AbortController();
  following = controller;
  show({ tenantId, videoFilename, taskId, status });
  analyses
    .followVideoTask({
      tenantId,
      videoFilename,
      taskId,
      signal: controller.signal,
      initialDelayMs: 500,
      maxDelayMs: 2000,
      onUpdate: (task) => {
        if (!controller.signal.aborted) showTask(task);
      },
    })
    .catch(fail);
}

const current = () => ({ tenantId: tenantInput.value.trim(), videoFilename: videoInput.value });

/** The stored task of the video in the inputs, checked against the server. */
async function resume(): Promise<void> {
  following?.abort();
  show(undefined);
  const { tenantId, videoFilename } = current();
  if (!tenantId || !videoFilename) return;
  const task = await analyses.resumeVideo({ tenantId, videoFilename });
  if (task) follow(tenantId, videoFilename, task.taskId, task.status);
}

analyseButton.addEventListener('click', () => {
  const { tenantId, videoFilename } = current();
  notice.textContent = '';
  analyses
    .analyseVideo({ tenantId, videoFilename })
    .then((analysis) => {
      follow(tenantId, videoFilename, analysis.taskId, analysis.status);
    })
    .catch(fail);
});

cancelButton.addEventListener('click', () => {
  if (!shown) return;
  const { tenantId, videoFilename, taskId } = shown;
  following?.abort();
  analyses.cancelVideoTask({ tenantId, videoFilename, taskId }).then(showTask).catch(fail);
});

tenantInput.addEventListener('change', () => void resume().catch(fail));
videoInput.addEventListener('change', () => void resume().catch(fail));

// Another tab started (or joined) a task for the video this tab shows: show it too.
analyses.onOtherTabChange((change) => {
  const { tenantId, videoFilename } = current();
  if (change.taskId && change.tenantId === tenantId && change.videoFilename.normalize('NFC') === videoFilename.normalize('NFC')) {
    follow(tenantId, videoFilename, change.taskId, 'not_started');
  }
});

renderRecent();
await resume().catch(fail);
document.body.dataset.ready = 'true';
