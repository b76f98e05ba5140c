import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { type Browser, chromium } from 'playwright-core';
import { videoStorageKey } from '../../client/video-analyses';
import { env, uniqueTenant } from '../integration/support';

// A real Vite + React 19 + TanStack Query 5 app on the client (test/browser/tanstack-app), built by Vite from the
// client's source, served from the origin the API's CORS allows, in Debian's Chromium: one GET per poll.
const ROOT = path.resolve(__dirname, '../..');
const APP = path.join(__dirname, 'tanstack-app');
const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run'];
const INTERVAL_MS = 500;

const available = existsSync(CHROMIUM);
if (!available && process.env.CI)
  throw new Error(`${CHROMIUM} is missing in CI: .ci/run must install Debian's chromium package.`);
if (!available)
  console.warn(
    `\n!!! SKIPPING the TanStack app test: ${CHROMIUM} is missing. Install it: apt-get install -y chromium\n`,
  );
const describeInBrowser = available ? describe : describe.skip;

jest.setTimeout(60_000);

/**
 * Vite's JS API, in a Node.js process of its own: Vite is ES modules only, which jest's CommonJS runtime cannot
 * load. No plugin: Vite's esbuild compiles the TSX (React's automatic runtime); the aliases point the package's
 * name at client/'s source, whose `./x.js` imports Vite resolves to the `.ts` files.
 */
async function buildApp(outDir: string): Promise<void> {
  const config = {
    root: APP,
    logLevel: 'silent',
    configFile: false,
    esbuild: { jsx: 'automatic' },
    resolve: {
      alias: [
        { find: '@video-tracking/client/tanstack', replacement: path.join(ROOT, 'client/tanstack.ts') },
        { find: '@video-tracking/client', replacement: path.join(ROOT, 'client/index.ts') },
      ],
    },
    build: { outDir, emptyOutDir: true },
  };
  const script = `import { build } from 'vite'; await build(${JSON.stringify(config)});`;
  await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT });
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/**
 * The built app on the origin the API allows. demo-page.test.ts serves there too, and jest may run both files at
 * once: wait for the port rather than fail.
 */
async function serve(dir: string, origin: string): Promise<Server> {
  const server = createServer((req, res) => {
    const pathname = new URL(req.url ?? '/', origin).pathname;
    const file = path.join(dir, pathname === '/' ? 'index.html' : pathname);
    if (!file.startsWith(dir + path.sep) || !existsSync(file)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(Number(new URL(origin).port), '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
      return server;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

let outDir: string;
let server: Server | undefined;
let browser: Browser | undefined;

beforeAll(async () => {
  if (!available) return;
  outDir = mkdtempSync(path.join(tmpdir(), 'tanstack-app-'));
  await buildApp(outDir);
  server = await serve(outDir, process.env.LOCAL_CORS_ORIGIN!);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS, timeout: 30_000 });
});

afterAll(async () => {
  await browser?.close();
  server?.closeAllConnections();
  server?.close();
  if (outDir) rmSync(outDir, { recursive: true, force: true });
});

describeInBrowser('a Vite + React + TanStack Query app on the client', () => {
  test('follows a task with one GET per poll, stops when it ends, and clears the stored id', async () => {
    const tenant = uniqueTenant('tanstack-app');
    const video = 'app.mp4';
    const page = await browser!.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      // The look-up's 404 (no active task) is an answer, which Chromium logs as a failed load all the same.
      if (message.type() === 'error' && !/status of 404/.test(message.text())) errors.push(message.text());
    });
    // Every GET of a task by id, with when it left.
    const gets: number[] = [];
    page.on('request', (request) => {
      if (request.method() === 'GET' && /^\/api\/v1\/track\/[^/]+$/.test(new URL(request.url()).pathname))
        gets.push(Date.now());
    });
    const query = new URLSearchParams({ api: env.apiUrl, tenant, video, interval: String(INTERVAL_MS) });
    await page.goto(`${process.env.LOCAL_CORS_ORIGIN}/?${query.toString()}`);
    await page.locator('main[data-ready="true"]').waitFor({ timeout: 10_000 });
    expect(await page.getByTestId('active').textContent()).toBe('none');

    // WHEN the video is analysed and the app follows its task until it ends (the local analysis takes 3 s)
    await page.getByTestId('analyse').click();
    const taskId = (await page.getByTestId('task-id').textContent({ timeout: 10_000 }))!;
    const storedId = () => page.evaluate((key) => localStorage.getItem(key), videoStorageKey(tenant, video));
    expect(await storedId()).toBe(taskId);
    await page.getByTestId('task-status').filter({ hasText: 'completed' }).waitFor({ timeout: 20_000 });
    const whenDone = gets.length;
    await page.waitForTimeout(3 * INTERVAL_MS);

    // THEN one loop: never two GETs within half an interval, at most one per interval, none after the end
    const first = gets[0]!;
    const last = gets[gets.length - 1]!;
    const gaps = gets.slice(1).map((at, i) => at - gets[i]!);
    console.log(`tanstack-app: ${gets.length} GETs over ${last - first} ms, gaps ${gaps.join(', ')} ms`);
    expect(gets.length).toBeGreaterThanOrEqual(2);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(INTERVAL_MS / 2);
    expect(gets.length).toBeLessThanOrEqual(Math.ceil((last - first) / INTERVAL_MS) + 1);
    expect(gets.length).toBe(whenDone);
    // AND the stored id is gone, and the typed cache holds the final task
    expect(await storedId()).toBeNull();
    expect(await page.getByTestId('cached-status').textContent()).toBe('completed');
    expect(errors).toEqual([]);
    await page.close();
  });
});
