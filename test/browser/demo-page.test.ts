import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { type BrowserContext, chromium, type Locator, type Page } from 'playwright-core';
import { videoStorageKey } from '../../client/video-analyses';
import { freePort } from '../../local/free-port';
import {
  cancel,
  env,
  eventually,
  executionsOf,
  getTask,
  holdExecutions,
  post,
  releaseExecutions,
  uniqueTenant,
} from '../integration/support';
import { assertMatchesContract } from '../support/openapi-contract';

/** Debian's package; never a downloaded browser. `.ci/run` installs it. */
const CHROMIUM = '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const available = existsSync(CHROMIUM);
if (!available && process.env.CI)
  throw new Error(`${CHROMIUM} is missing in CI: .ci/run must install Debian's chromium package.`);
if (!available)
  console.warn(`\n!!! SKIPPING the browser tests: ${CHROMIUM} is missing. Install it: apt-get install -y chromium\n`);
const describeInBrowser = available ? describe : describe.skip;

// Each test waits for what a person would see; the workflow itself takes a few seconds (3 s analyses).
jest.setTimeout(60_000);

let context: BrowserContext;
let userDataDir: string;
const contractFailures: string[] = [];

beforeAll(async () => {
  if (!available) return;
  // A fresh profile per run; the pages of one context share localStorage and BroadcastChannel, like the tabs of a browser.
  userDataDir = mkdtempSync(path.join(tmpdir(), 'chromium-profile-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    timeout: 30_000,
  });
});

afterAll(async () => {
  await context?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

afterEach(() => {
  // Every API answer the page received, checked against docs/openapi.yaml like the integration tests' call().
  expect(contractFailures.splice(0)).toEqual([]);
});

type Tab = Page & { posts: number[]; consoleErrors: string[] };

/**
 * A tab on the demo page for (tenant, video), ready when the page has checked its stored task. Counts its POSTs and
 * collects what it logs as an error (a 404 for its icon would be one).
 */
async function openTab(
  tenant: string,
  video: string,
  origin = env.apiUrl,
  api?: string,
  more: Record<string, string> = {},
): Promise<Tab> {
  const page = (await context.newPage()) as Tab;
  page.posts = [];
  page.consoleErrors = [];
  page.on('console', (message) => {
    if (message.type() === 'error') page.consoleErrors.push(`${message.text()} (${message.location().url})`);
  });
  page.on('pageerror', (error) => page.consoleErrors.push(error.message));
  page.on('request', (request) => {
    if (request.method() === 'POST' && new URL(request.url()).pathname === '/api/v1/track') page.posts.push(Date.now());
  });
  page.on('response', async (response) => {
    const url = new URL(response.url());
    // Same-origin answers only: a cross-origin one carries API Gateway's Access-Control-* headers, asserted there.
    if (url.origin !== new URL(origin).origin || !url.pathname.startsWith('/api/') || api) return;
    const request = response.request();
    let body: string;
    try {
      body = await response.text();
    } catch {
      return; // the tab closed before the body arrived: nothing left to check
    }
    await assertMatchesContract({
      method: request.method(),
      path: url.pathname + url.search,
      status: response.status(),
      headers: new Headers(await response.allHeaders()),
      text: body,
    }).catch((error: Error) => contractFailures.push(error.message));
  });
  const query = new URLSearchParams({ tenant, video, ...(api ? { api } : {}), ...more });
  await page.goto(`${origin}/?${query.toString()}`);
  await page.locator('body[data-ready="true"]').waitFor();
  return page;
}

const text = (page: Page, testId: string) => page.getByTestId(testId);
const storedId = (page: Page, tenant: string, video: string) =>
  page.evaluate((key) => localStorage.getItem(key), videoStorageKey(tenant, video));

describeInBrowser('the demo page in headless Chromium', () => {
  test('two tabs, each triple-clicked: one task, at most one POST per tab; a reload finds it; completion shown and the entry removed; a new click starts a new task', async () => {
    const tenant = uniqueTenant('browser');
    await holdExecutions(tenant);
    const [a, b] = [await openTab(tenant, 'movie.mp4'), await openTab(tenant, 'movie.mp4')];

    // WHEN both tabs are triple-clicked at once
    await Promise.all([
      a.getByTestId('analyse').click({ clickCount: 3, delay: 0 }),
      b.getByTestId('analyse').click({ clickCount: 3, delay: 0 }),
    ]);

    // THEN both show one task id, held at not_started, and each tab sent at most one POST
    await expectText(a, 'task-status', 'not_started');
    await expectText(b, 'task-status', 'not_started');
    const id = (await text(a, 'task-id').textContent())!;
    expect(id).toMatch(/^[A-Za-z0-9_-]{44}$/);
    expect(await text(b, 'task-id').textContent()).toBe(id);
    expect(a.posts.length).toBeLessThanOrEqual(1);
    expect(b.posts.length).toBeLessThanOrEqual(1);
    expect(a.posts.length + b.posts.length).toBeGreaterThanOrEqual(1);
    expect(await storedId(a, tenant, 'movie.mp4')).toBe(id);

    // WHEN tab a reloads THEN it finds the active task again, without a POST
    await a.reload();
    await a.locator('body[data-ready="true"]').waitFor();
    await expectText(a, 'task-id', id);
    expect(a.posts.length).toBeLessThanOrEqual(1);

    // WHEN the workflow runs THEN both tabs show completion and the entry is gone
    await releaseExecutions(tenant);
    await expectText(a, 'task-status', 'completed');
    await expectText(b, 'task-status', 'completed');
    await eventually(
      async () => ((await storedId(a, tenant, 'movie.mp4')) === null ? true : undefined),
      10_000,
      'the entry removed',
    );
    await expectShown(row(a, id).getByTestId('row-status'), 'completed');

    // WHEN Analyse is clicked after completion THEN a new task starts
    await a.getByTestId('analyse').click();
    await eventually(
      async () => ((await text(a, 'task-id').textContent()) !== id ? true : undefined),
      20_000,
      'a new task id',
    );
    await expectText(a, 'task-status', 'completed', 30_000);
    expect(await executionsOf(tenant)).toHaveLength(2);
    await Promise.all([a.close(), b.close()]);
  });

  test('cancel: the task ends cancelled, the page says so and forgets it', async () => {
    const tenant = uniqueTenant('browser-cancel');
    await holdExecutions(tenant);
    const page = await openTab(tenant, 'cancel.mp4');
    await page.getByTestId('analyse').click();
    await expectText(page, 'task-status', 'not_started');
    const id = (await text(page, 'task-id').textContent())!;

    await page.getByTestId('cancel').click();

    await expectText(page, 'task-status', 'cancelled');
    expect((await getTask(tenant, id)).body.status).toBe('cancelled');
    expect(await storedId(page, tenant, 'cancel.mp4')).toBeNull();
    await releaseExecutions(tenant);
    await page.close();
  });

  test('a 503 is retried after its Retry-After, and the person is told', async () => {
    const tenant = uniqueTenant('browser-503');
    await holdExecutions(tenant);
    const page = await openTab(tenant, 'busy.mp4');
    // The API's own 503 answer (lambda/track/http.ts) for the first POST: DynamoDB cannot be made busy on demand locally.
    let refused = 0;
    await page.route('**/api/v1/track', async (route) => {
      if (route.request().method() !== 'POST' || refused++ > 0) return route.continue();
      await route.fulfill({
        status: 503,
        headers: {
          'content-type': 'application/problem+json',
          'cache-control': 'no-store',
          'x-content-type-options': 'nosniff',
          'retry-after': '1',
        },
        body: JSON.stringify({
          type: '/problems/service-unavailable',
          title: 'Service unavailable',
          status: 503,
          detail: 'A backing service is busy or unavailable. Retry after the delay given in Retry-After.',
        }),
      });
    });

    await page.getByTestId('analyse').click();

    await expectText(page, 'notice', 'The service is busy (503); retrying in 1 s');
    await expectText(page, 'task-status', 'not_started');
    expect(page.posts).toHaveLength(2);
    // Retry-After: 1 means not before a second has passed (a busy machine only makes the gap longer).
    const [first = 0, second = 0] = page.posts;
    expect(second - first).toBeGreaterThanOrEqual(950);
    await releaseExecutions(tenant);
    await page.close();
  });

  test("the tenant's limit (429 tenant-quota-exceeded): not retried, and the person is told what happened", async () => {
    const tenant = uniqueTenant('browser-429');
    const page = await openTab(tenant, 'over.mp4');
    // The API's own 429 answer (lambda/track/http.ts): the shared local system runs with the default limit of 100.
    await page.route('**/api/v1/track', async (route) => {
      if (route.request().method() !== 'POST') return route.continue();
      await route.fulfill({
        status: 429,
        headers: { 'content-type': 'application/problem+json', 'cache-control': 'no-store' },
        body: JSON.stringify({
          type: '/problems/tenant-quota-exceeded',
          title: 'Tenant quota exceeded',
          status: 429,
          detail: 'Full.',
          limit: 5,
          active_count: 5,
        }),
      });
    });

    await page.getByTestId('analyse').click();

    await expectText(
      page,
      'notice',
      'Not started: this tenant already has 5 active analyses, its limit is 5. Wait for one to end (or cancel one), then try again.',
    );
    expect(page.posts).toHaveLength(1);
    await page.close();
  });

  test('a page on another origin calls the API through CORS; an origin not allowed is refused by the browser', async () => {
    const allowed = await servePageFrom(env.apiUrl, Number(new URL(process.env.LOCAL_CORS_ORIGIN!).port));
    const other = await servePageFrom(env.apiUrl, await freePort());
    try {
      const tenant = uniqueTenant('browser-cors');
      const page = await openTab(tenant, 'cors.mp4', process.env.LOCAL_CORS_ORIGIN, env.apiUrl);
      const answer = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().startsWith(env.apiUrl));
      await page.getByTestId('analyse').click();
      const response = await answer;
      expect(response.status()).toBe(201);
      expect(await response.headerValue('access-control-allow-origin')).toBe(process.env.LOCAL_CORS_ORIGIN);
      await expectText(page, 'task-status', 'completed', 30_000);

      const refused = await openTab(
        tenant,
        'cors-refused.mp4',
        `http://127.0.0.1:${(other.address() as AddressInfo).port}`,
        env.apiUrl,
      );
      await refused.getByTestId('analyse').click();
      // The browser hides why (no CORS header): to the page, as to fetch, the API cannot be reached.
      await expectContains(refused, 'notice', 'Cannot reach the API');
      expect(await executionsOf(tenant)).toHaveLength(1);
      await Promise.all([page.close(), refused.close()]);
    } finally {
      for (const server of [allowed, other]) {
        server.closeAllConnections();
        server.close();
      }
    }
  });
});

describeInBrowser("the demo page: the tenant's tasks", () => {
  test("a reload keeps the tenant and the video typed last, and shows that video's active task again", async () => {
    const tenant = uniqueTenant('browser-reload');
    await holdExecutions(tenant);
    const page = await openTab(tenant, 'first.mp4');
    // The address no longer names them: what survives the reload is the page's own storage.
    expect(new URL(page.url()).search).toBe('');
    await page.getByTestId('video').fill('second.mp4');
    await page.getByTestId('video').dispatchEvent('change');
    await page.getByTestId('analyse').click();
    await expectText(page, 'task-status', 'not_started');
    const id = (await text(page, 'task-id').textContent())!;

    await page.reload();
    await page.locator('body[data-ready="true"]').waitFor();

    expect(await page.getByTestId('tenant').inputValue()).toBe(tenant);
    expect(await page.getByTestId('video').inputValue()).toBe('second.mp4');
    await expectText(page, 'task-id', id);
    await expectShown(row(page, id).getByTestId('row-status'), 'not_started');
    expect(page.consoleErrors).toEqual([]);
    await releaseExecutions(tenant);
    await page.close();
  });

  test("lists the tenant's tasks newest first with live statuses, a failure's reason and a result; Cancel on every active one", async () => {
    const tenant = uniqueTenant('browser-list');
    const other = uniqueTenant('browser-list-other');
    await holdExecutions(tenant);
    // GIVEN three tasks of the tenant (one cancelled) and one of another tenant, none of them the page's video
    const done = (await post(tenant, 'done.mp4')).body.task_id;
    const broken = (await post(tenant, 'fail-broken.mp4')).body.task_id;
    const gone = (await post(tenant, 'gone.mp4')).body.task_id;
    expect((await cancel(tenant, gone)).status).toBe(200);
    await post(other, 'not-mine.mp4');

    const page = await openTab(tenant, 'page.mp4');

    // THEN the list shows exactly the tenant's three, newest first, each with its status
    await expectShown(row(page, done).getByTestId('row-status'), 'not_started');
    const listed = await page
      .getByTestId('task-row')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-task-id')));
    expect(listed).toEqual([gone, broken, done]);
    await expectShown(row(page, gone).getByTestId('row-status'), 'cancelled');
    expect(await row(page, gone).getByTestId('row-cancel').count()).toBe(0);
    expect(await row(page, done).getByTestId('row-cancel').count()).toBe(1);
    expect(await page.getByTestId('task-list').textContent()).not.toContain('not-mine.mp4');

    // WHEN the workflow runs THEN the statuses change on the page by themselves, with the result and the reason
    await releaseExecutions(tenant);
    await expectShown(row(page, done).getByTestId('row-status'), 'completed', 30_000);
    await expectShown(row(page, broken).getByTestId('row-status'), 'failed', 30_000);
    expect(await row(page, done).getByTestId('row-detail').textContent()).toMatch(
      /^Result: \{"placeholder":true,"video_filename":"done.mp4"/,
    );
    expect(await row(page, broken).getByTestId('row-detail').textContent()).toMatch(
      /^AnalysisRejected: The analysis rejected this video/,
    );
    expect(await row(page, done).getByTestId('row-cancel').count()).toBe(0);
    expect(page.consoleErrors).toEqual([]);
    await page.close();
  });

  test("Cancel in the list cancels that task (not the page's video) and the row says so", async () => {
    const tenant = uniqueTenant('browser-list-cancel');
    await holdExecutions(tenant);
    const id = (await post(tenant, 'elsewhere.mp4')).body.task_id;
    const page = await openTab(tenant, 'page.mp4');
    await expectShown(row(page, id).getByTestId('row-status'), 'not_started');

    await row(page, id).getByTestId('row-cancel').click();

    await expectShown(row(page, id).getByTestId('row-status'), 'cancelled');
    expect((await getTask(tenant, id)).body.status).toBe('cancelled');
    expect(page.consoleErrors).toEqual([]);
    await releaseExecutions(tenant);
    await page.close();
  });

  test("the video's own failed task shows its reason; a completed one its result", async () => {
    const tenant = uniqueTenant('browser-detail');
    const page = await openTab(tenant, 'fail-bad.mp4');
    await page.getByTestId('analyse').click();
    await expectText(page, 'task-status', 'failed', 30_000);
    expect(await text(page, 'task-error').textContent()).toMatch(/^AnalysisRejected: The analysis rejected this video/);
    expect(await text(page, 'task-result').textContent()).toBe('');

    await page.getByTestId('video').fill('good.mp4');
    await page.getByTestId('video').dispatchEvent('change');
    await page.getByTestId('analyse').click();
    await expectText(page, 'task-status', 'completed', 30_000);
    expect(await text(page, 'task-result').textContent()).toMatch(
      /^Result: \{"placeholder":true,"video_filename":"good.mp4"/,
    );
    expect(await text(page, 'task-error').textContent()).toBe('');
    expect(page.consoleErrors).toEqual([]);
    await page.close();
  });
});

describeInBrowser('the demo page when the API is down, after a reload, and page by page', () => {
  test('the API unreachable: the page says so, the list keeps its rows with a note; both clear when it is back', async () => {
    const tenant = uniqueTenant('browser-down');
    const id = (await post(tenant, 'listed.mp4')).body.task_id;
    const page = await openTab(tenant, 'page.mp4');
    await row(page, id).waitFor();

    // WHEN every API call fails on the network (no answer at all, as with npm start stopped)
    await page.route('**/api/v1/**', (route) => route.abort('connectionrefused'));

    // THEN the person is told the API cannot be reached (no "busy (undefined)"), and the rows stay, marked stale
    await expectContains(page, 'notice', 'Cannot reach the API; retrying');
    expect(await text(page, 'notice').textContent()).not.toContain('undefined');
    await expectContains(page, 'list-note', 'it may be stale');
    expect(await row(page, id).count()).toBe(1);
    expect(await page.getByTestId('task-list').textContent()).not.toContain('No tasks yet');

    // WHEN the API answers again THEN the next listing clears both
    await page.unroute('**/api/v1/**');
    await eventually(
      async () => ((await text(page, 'list-note').textContent()) === '' ? true : undefined),
      15_000,
      'the stale note cleared',
    );
    expect(await text(page, 'notice').textContent()).toBe('');
    await page.close();
  });

  test("a reload after the video's task ended shows that task and how it ended", async () => {
    const tenant = uniqueTenant('browser-outcome');
    const page = await openTab(tenant, 'fail-outcome.mp4');
    await page.getByTestId('analyse').click();
    await expectText(page, 'task-status', 'failed', 30_000);
    const id = (await text(page, 'task-id').textContent())!;
    expect(await storedId(page, tenant, 'fail-outcome.mp4')).toBeNull();

    await page.reload();
    await page.locator('body[data-ready="true"]').waitFor();

    await expectText(page, 'task-id', id);
    await expectText(page, 'task-status', 'failed');
    expect(await text(page, 'task-error').textContent()).toMatch(/^AnalysisRejected: The analysis rejected this video/);
    expect(page.posts).toHaveLength(1);
    expect(page.consoleErrors).toEqual([]);
    await page.close();
  });

  test("the list pages through the listing's cursor: Older shows the next page, Newer the one before", async () => {
    const tenant = uniqueTenant('browser-pages');
    await holdExecutions(tenant);
    const [oldest, middle, newest] = [
      (await post(tenant, 'one.mp4')).body.task_id,
      (await post(tenant, 'two.mp4')).body.task_id,
      (await post(tenant, 'three.mp4')).body.task_id,
    ];
    const page = await openTab(tenant, 'page.mp4', env.apiUrl, undefined, { page_size: '2' });
    const listed = () =>
      page.getByTestId('task-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-task-id')));

    // THEN the first page holds the two newest
    await row(page, middle).waitFor();
    expect(await listed()).toEqual([newest, middle]);
    await expectText(page, 'list-page', 'Page 1');

    // WHEN Older THEN the next page: the oldest, and no page after it
    await page.getByTestId('list-older').click();
    await expectText(page, 'list-page', 'Page 2');
    await row(page, oldest).waitFor();
    expect(await listed()).toEqual([oldest]);
    expect(await page.getByTestId('list-older').isDisabled()).toBe(true);

    // WHEN Newer THEN the first page again
    await page.getByTestId('list-newer').click();
    await row(page, newest).waitFor();
    expect(await listed()).toEqual([newest, middle]);
    expect(page.consoleErrors).toEqual([]);
    await releaseExecutions(tenant);
    await page.close();
  });
});

describeInBrowser('the demo page under AUTH=jwt', () => {
  test('gets a development token from the local issuer and works with it', async () => {
    const jwtApi = process.env.LOCAL_JWT_API_URL!;
    const tenant = uniqueTenant('browser-jwt');
    const page = await openTab(tenant, 'token.mp4', jwtApi);
    const sent = page.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith('/api/v1/track'));
    await expectText(page, 'auth-mode', 'jwt');

    await page.getByTestId('analyse').click();

    expect(await (await sent).headerValue('authorization')).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    await expectText(page, 'task-status', 'completed', 30_000);
    await page.close();
  });
});

async function expectText(page: Page, testId: string, value: string, timeout = 20_000): Promise<void> {
  await expectShown(page.getByTestId(testId), value, timeout);
}

async function expectContains(page: Page, testId: string, part: string, timeout = 20_000): Promise<void> {
  await page.getByTestId(testId).filter({ hasText: part }).waitFor({ timeout });
}

async function expectShown(target: Locator, value: string, timeout = 20_000): Promise<void> {
  await target.filter({ hasText: value }).waitFor({ timeout });
  expect(await target.textContent()).toBe(value);
}

/** The row of a task in the page's list of the tenant's tasks. */
const row = (page: Page, taskId: string) => page.getByTestId('task-list').locator(`[data-task-id="${taskId}"]`);

/** A frontend dev server stand-in on another loopback origin: the demo page and its script, copied from the API server. */
async function servePageFrom(apiUrl: string, port: number): Promise<Server> {
  const files: Record<string, { type: string; body: string }> = {
    '/': { type: 'text/html; charset=utf-8', body: await (await fetch(`${apiUrl}/`)).text() },
    '/demo-page.js': {
      type: 'text/javascript; charset=utf-8',
      body: await (await fetch(`${apiUrl}/demo-page.js`)).text(),
    },
  };
  const server = createServer((req, res) => {
    const file = files[new URL(req.url ?? '/', 'http://localhost').pathname];
    res.writeHead(file ? 200 : 404, { 'content-type': file?.type ?? 'text/plain' });
    res.end(file?.body ?? 'not found');
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}
