// The local demo page: the client (client/) and the DOM, nothing else. Bundled by esbuild when npm start starts.
import {
  ApiError,
  NetworkError,
  TaskNotFoundError,
  createTrackingClient,
  createVideoAnalyses,
  isFinal,
  type Task,
  type TaskStatus,
  type TokenProvider,
} from '../../../client';

const params = new URLSearchParams(location.search);
/** `?api=http://127.0.0.1:8000` lets a page on another origin (a frontend dev server) call the local API (CORS). */
const baseUrl = params.get('api') ?? '';
/** `?page_size=N` (1-100): tasks per page of the list. */
const pageSize = Number(params.get('page_size')) || 20;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const form = $<HTMLFormElement>('start');
const tenantInput = $<HTMLInputElement>('tenant');
const videoInput = $<HTMLInputElement>('video');
const cancelButton = $<HTMLButtonElement>('cancel');
const taskIdText = $('task-id');
const statusText = $('task-status');
const errorText = $('task-error');
const resultText = $('task-result');
const notice = $('notice');
const taskList = $('task-list');
const listTenant = $('list-tenant');
const listNote = $('list-note');
const pager = $('pager');
const newerButton = $<HTMLButtonElement>('list-newer');
const olderButton = $<HTMLButtonElement>('list-older');
const pageText = $('list-page');
const authMode = document.querySelector<HTMLElement>('[data-testid="auth-mode"]')!;

/** Tenant and video survive a reload; `?tenant=&video=` set them once and are then dropped from the address. */
const FORM_KEY = 'video-tracking:demo:form';
function storedForm(): { tenant?: string; video?: string } {
  try {
    return JSON.parse(localStorage.getItem(FORM_KEY) ?? '{}') as { tenant?: string; video?: string };
  } catch {
    return {};
  }
}
const saved = storedForm();
tenantInput.value = params.get('tenant') ?? saved.tenant ?? 'tenant1';
videoInput.value = params.get('video') ?? saved.video ?? 'test.mp4';
const saveForm = () =>
  localStorage.setItem(FORM_KEY, JSON.stringify({ tenant: tenantInput.value, video: videoInput.value }));
saveForm();
if (params.has('tenant') || params.has('video')) {
  params.delete('tenant');
  params.delete('video');
  history.replaceState(null, '', `${location.pathname}${params.size ? `?${params}` : ''}`);
}

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

const getToken = await developmentTokens();
const client = createTrackingClient({
  baseUrl,
  getToken,
  onRetry: ({ status, delayMs }) => {
    const seconds = Math.round(delayMs / 100) / 10;
    if (status === undefined) showUnreachable(`retrying in ${seconds} s`);
    else notice.textContent = `The service is busy (${status}); retrying in ${seconds} s`;
  },
});
const analyses = createVideoAnalyses({ client });

/** The task this tab shows, and the poll that follows it. */
let shown: Shown | undefined;
let following: AbortController | undefined;

type Shown = Pick<Task, 'tenantId' | 'videoFilename' | 'taskId' | 'status'> & Partial<Pick<Task, 'result' | 'error'>>;

/**
 * The last task shown for each (tenant, video), kept by the page: the client forgets a task once it has ended, but a
 * person who reloads still wants to see how it ended.
 */
const lastTaskKey = (tenantId: string, videoFilename: string) =>
  `video-tracking:demo:last-task:${JSON.stringify([tenantId, videoFilename.normalize('NFC')])}`;

function show(task: Shown | undefined): void {
  shown = task;
  if (task) localStorage.setItem(lastTaskKey(task.tenantId, task.videoFilename), task.taskId);
  taskIdText.textContent = task?.taskId ?? '';
  statusText.textContent = task?.status ?? '';
  statusText.className = `badge ${task?.status ?? ''}`;
  errorText.textContent = task?.error ? describeError(task.error) : '';
  resultText.textContent = task?.result === undefined ? '' : `Result: ${JSON.stringify(task.result)}`;
  cancelButton.disabled = !task || isFinal(task.status);
}

function showTask(task: Task): void {
  show(task);
  void refreshList();
}

const describeError = (error: NonNullable<Task['error']>) => `${error.error}: ${error.message}`;

/** No answer at all (refused, reset, DNS, CORS): fetch rejects with a TypeError, there is no status to show. */
// The client's final NetworkError after its retries, or a fetch TypeError seen by onRetry while it retries.
const isNetworkError = (error: unknown) =>
  error instanceof NetworkError || (!(error instanceof ApiError) && (error as Error).name === 'TypeError');

/** The notice while the API cannot be reached; cleared by the next listing that gets an answer. */
let unreachable = false;
function showUnreachable(what: string): void {
  unreachable = true;
  notice.textContent = `Cannot reach the API; ${what}`;
}

function fail(error: unknown): void {
  if ((error as Error).name === 'AbortError') return;
  if (isNetworkError(error)) {
    showUnreachable(`try again later (${(error as Error).message})`);
    return;
  }
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
  else await showLastTask(tenantId, videoFilename);
}

/** No active task: the video's last task as it ended (result or failure), looked up by the id the page kept. */
async function showLastTask(tenantId: string, videoFilename: string): Promise<void> {
  const key = lastTaskKey(tenantId, videoFilename);
  const taskId = localStorage.getItem(key);
  if (!taskId) return;
  const task = await client.getTask({ tenantId, taskId }).catch((error: unknown) => {
    if (!(error instanceof TaskNotFoundError)) throw error;
    localStorage.removeItem(key); // past its retention
  });
  const stillThisVideo = current().tenantId === tenantId && current().videoFilename === videoFilename;
  if (!task || shown || !stillThisVideo) return;
  if (isFinal(task.status)) show(task);
  else follow(tenantId, videoFilename, task.taskId, task.status);
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const { tenantId, videoFilename } = current();
  notice.textContent = '';
  analyses
    .analyseVideo({ tenantId, videoFilename })
    .then((analysis) => {
      follow(tenantId, videoFilename, analysis.taskId, analysis.status);
      void refreshList();
    })
    .catch(fail);
});

/** Cancels any active task of the tenant: the one shown above, or one from the list. */
function cancelTask(task: Pick<Task, 'tenantId' | 'videoFilename' | 'taskId'>): void {
  if (shown?.taskId === task.taskId) following?.abort();
  analyses
    .cancelVideoTask(task)
    .then((cancelled) => {
      if (shown?.taskId === cancelled.taskId) show(cancelled);
      void refreshList();
    })
    .catch(fail);
}

cancelButton.addEventListener('click', () => {
  if (shown) cancelTask(shown);
});

const LIST_REFRESH_MS = 2000;
let listing: AbortController | undefined;
let listTimer: ReturnType<typeof setTimeout> | undefined;
/** The cursor of each page seen so far (the first page has none), the page shown, and the next page's cursor. */
let cursors: (string | undefined)[] = [undefined];
let pageIndex = 0;
let nextCursor: string | null = null;

function firstPage(): void {
  cursors = [undefined];
  pageIndex = 0;
  nextCursor = null;
}

newerButton.addEventListener('click', () => {
  pageIndex = Math.max(0, pageIndex - 1);
  void refreshList();
});
olderButton.addEventListener('click', () => {
  if (!nextCursor) return;
  cursors = [...cursors.slice(0, pageIndex + 1), nextCursor];
  pageIndex += 1;
  void refreshList();
});

function renderPager(): void {
  pager.hidden = pageIndex === 0 && !nextCursor;
  pageText.textContent = `Page ${pageIndex + 1}`;
  newerButton.disabled = pageIndex === 0;
  olderButton.disabled = !nextCursor;
}

/**
 * One page of the tenant's tasks from the listing (GET /api/v1/track without a video), newest first, refreshed every
 * 2 s; Older and Newer move through the listing's cursors.
 */
async function refreshList(): Promise<void> {
  clearTimeout(listTimer);
  listing?.abort();
  const controller = new AbortController();
  listing = controller;
  const { tenantId } = current();
  listTenant.textContent = tenantId;
  const cursor = cursors[pageIndex];
  try {
    if (tenantId) {
      const page = await client.listTasks({ tenantId, limit: pageSize, cursor, signal: controller.signal });
      const { tasks } = page;
      nextCursor = page.nextCursor;
      renderList(tasks);
      renderPager();
      listNote.textContent = '';
      if (unreachable) {
        unreachable = false;
        notice.textContent = '';
      }
      // The video's active task, started elsewhere (another device, a script): shown above too, without a 404 look-up;
      // with nothing shown, the video's newest task as it ended.
      if (pageIndex > 0) return;
      const video = current().videoFilename.normalize('NFC');
      const ofVideo = tasks.filter((t) => t.videoFilename === video);
      const active = ofVideo.find((t) => !isFinal(t.status));
      const newest = ofVideo[0];
      if (current().tenantId !== tenantId) return;
      if (active && active.taskId !== shown?.taskId && (!shown || isFinal(shown.status)))
        follow(tenantId, active.videoFilename, active.taskId, active.status);
      else if (newest && !shown) show(newest);
    }
  } catch (error) {
    if (controller.signal.aborted) return;
    if (cursor && error instanceof ApiError && error.status === 400) {
      // A cursor the server no longer takes (another tenant's, or edited): start again from the newest tasks.
      firstPage();
      return;
    }
    // The rows stay as last listed: a person still sees the tasks, and is told they may have changed since.
    const when = lastListed ? `as of ${lastListed.toLocaleTimeString()}` : 'not loaded yet';
    listNote.textContent = `Could not refresh the list (${when}); it may be stale.`;
    if (isNetworkError(error)) showUnreachable('retrying…');
    else fail(error);
  } finally {
    if (listing === controller) listTimer = setTimeout(() => void refreshList(), LIST_REFRESH_MS);
  }
}

let lastListed: Date | undefined;

function renderList(tasks: readonly Task[]): void {
  lastListed = new Date();
  if (!tasks.length) {
    const empty = element('li', 'empty', 'No tasks yet.');
    taskList.replaceChildren(empty);
    return;
  }
  taskList.replaceChildren(...tasks.map(taskRow));
}

function taskRow(task: Task): HTMLLIElement {
  const row = element('li');
  row.dataset.testid = 'task-row';
  row.dataset.taskId = task.taskId;
  const status = element('span', `badge ${task.status}`, task.status);
  status.dataset.testid = 'row-status';
  row.append(element('span', 'video', task.videoFilename), status);
  if (isFinal(task.status)) row.append(element('span'));
  else {
    const cancel = element('button', 'secondary small', 'Cancel');
    cancel.type = 'button';
    cancel.dataset.testid = 'row-cancel';
    cancel.addEventListener('click', () => {
      cancel.disabled = true;
      cancelTask(task);
    });
    row.append(cancel);
  }
  row.append(element('span', 'meta', `${new Date(task.createdAt).toLocaleString()} · ${task.taskId}`));
  const detail = task.error
    ? element('span', 'meta detail error', describeError(task.error))
    : task.result !== undefined
      ? element('span', 'meta detail result', `Result: ${JSON.stringify(task.result)}`)
      : undefined;
  if (detail) {
    detail.dataset.testid = 'row-detail';
    row.append(detail);
  }
  return row;
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, className = '', text = ''): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  node.textContent = text;
  return node;
}

const changed = () => {
  saveForm();
  firstPage();
  notice.textContent = '';
  void resume().catch(fail);
  void refreshList();
};
tenantInput.addEventListener('change', changed);
videoInput.addEventListener('change', changed);

// Another tab started (or joined) a task for the video this tab shows: show it too.
analyses.onOtherTabChange((change) => {
  const { tenantId, videoFilename } = current();
  if (
    change.taskId &&
    change.tenantId === tenantId &&
    change.videoFilename.normalize('NFC') === videoFilename.normalize('NFC')
  ) {
    follow(tenantId, videoFilename, change.taskId, 'not_started');
  }
});

// Not awaited: the client retries a listing that cannot be fetched, and the page is usable meanwhile.
void refreshList();
await resume().catch(fail);
document.body.dataset.ready = 'true';
