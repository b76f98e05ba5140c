import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { chromium } from 'playwright-core';
import { at } from '../support/at';

// client/ as another project gets it: packed, installed from the tarball into an empty project, imported by name.
const ROOT = path.resolve(__dirname, '../..');
const CHROMIUM = '/usr/bin/chromium';
jest.setTimeout(180_000);

/** npm under the Node.js running the tests; offline, so only the tarballs given can satisfy a dependency. */
const npm = (cwd: string, ...args: string[]) =>
  execFileSync('npm', [...args, '--offline', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd,
    encoding: 'utf8',
    stdio: 'pipe',
    env: { ...process.env, PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH}` },
  });

/** The code another project writes: the package's start call against a fetch that answers 201, then 200 with a task. */
const APP = `
import { createTrackingClient, TaskNotFoundError } from '@video-tracking/client';
const task = { task_id: '1ed83eec-0a4e-4b8f-9c36-7d3c1f1a2b3c', tenant_id: 't1', video_filename: 'a.mp4', status: 'completed', created_at: '2026-11-28T17:18:52.254Z', updated_at: '2026-11-28T17:18:52.254Z' };
const fetch = async (request) => request.method === 'POST'
  ? new Response(JSON.stringify({ task_id: task.task_id, status: 'not_started' }), { status: 201, headers: { 'content-type': 'application/json' } })
  : new Response(JSON.stringify(task), { status: 200, headers: { 'content-type': 'application/json' } });
const client = createTrackingClient({ baseUrl: 'http://api.test', fetch });
export const run = async () => ({
  started: await client.startAnalysis({ tenantId: 't1', videoFilename: 'a.mp4' }),
  read: await client.getTask({ tenantId: 't1', taskId: task.task_id }),
  notFoundError: typeof TaskNotFoundError,
});
`;
const EXPECTED = {
  started: { created: true, replayed: false, taskId: '1ed83eec-0a4e-4b8f-9c36-7d3c1f1a2b3c', status: 'not_started' },
  read: expect.objectContaining({
    taskId: '1ed83eec-0a4e-4b8f-9c36-7d3c1f1a2b3c',
    videoFilename: 'a.mp4',
    status: 'completed',
  }),
  notFoundError: 'function',
};

const MANIFEST = JSON.parse(readFileSync(path.join(ROOT, 'client/package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

/**
 * client/ as a fresh clone has it, alone in a temporary directory (no repository root above it to lend a tsc or
 * types), and node_modules as `npm install` in it would make: the declared dependencies and devDependencies only,
 * linked from this repository's install rather than installed (no registry needed, and seconds instead of a
 * download of typescript), with the `tsc` bin npm would link. A build that needs anything undeclared fails here.
 */
function freshClient(work: string): string {
  const dir = path.join(work, 'clone/client');
  mkdirSync(path.join(dir, 'node_modules/.bin'), { recursive: true });
  // What a clone holds: the tracked files, and new ones not ignored (so a file not yet committed counts too).
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', 'client'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  for (const file of files.split('\n').filter(Boolean)) {
    mkdirSync(path.dirname(path.join(work, 'clone', file)), { recursive: true });
    copyFileSync(path.join(ROOT, file), path.join(work, 'clone', file));
  }
  for (const name of Object.keys({ ...MANIFEST.dependencies, ...MANIFEST.devDependencies })) {
    mkdirSync(path.dirname(path.join(dir, 'node_modules', name)), { recursive: true });
    symlinkSync(path.join(ROOT, 'node_modules', name), path.join(dir, 'node_modules', name), 'dir');
  }
  symlinkSync('../typescript/bin/tsc', path.join(dir, 'node_modules/.bin/tsc'));
  return dir;
}

let work: string;
let app: string;
beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), 'client-package-'));
  // GIVEN the client packed from a fresh clone's client/ (its prepack builds dist/), and its dependencies packed
  // from this repository's install
  const packed = (dir: string, ...args: string[]) =>
    path.join(work, JSON.parse(npm(dir, 'pack', '--json', '--pack-destination', work, ...args))[0].filename);
  const client = packed(freshClient(work));
  const fetchLib = packed(path.join(ROOT, 'node_modules/openapi-fetch'), '--ignore-scripts');
  const helpers = packed(path.join(ROOT, 'node_modules/openapi-typescript-helpers'), '--ignore-scripts');
  // WHEN an empty project installs the client's tarball
  app = path.join(work, 'app');
  execFileSync('mkdir', [app]);
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  npm(app, 'install', client, fetchLib, helpers);
  writeFileSync(path.join(app, 'app.mjs'), APP);
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  rmSync(path.join(ROOT, 'client/dist'), { recursive: true, force: true });
});

test('client/ declares what its build needs: typescript, at a version this repository runs', () => {
  // `cd client && npm install && npm pack` in a fresh clone installs this range; the build above used the root's.
  const declared = MANIFEST.devDependencies.typescript;
  const root = (
    JSON.parse(readFileSync(path.join(ROOT, 'node_modules/typescript/package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
  const [major, minor, patch] = root.split('.').map(Number);
  const range = /^~(\d+)\.(\d+)\.(\d+)$/.exec(declared ?? '');
  expect(range).not.toBeNull();
  const [, rMajor, rMinor, rPatch] = (range ?? []).map(Number);
  expect([major, minor]).toEqual([rMajor, rMinor]);
  expect(patch).toBeGreaterThanOrEqual(rPatch ?? Infinity);
});

test('the tarball holds the build, its declarations and the README; nothing of the sources', () => {
  const installed = path.join(app, 'node_modules/@video-tracking/client');
  expect(existsSync(path.join(installed, 'dist/index.js'))).toBe(true);
  expect(readFileSync(path.join(installed, 'dist/index.d.ts'), 'utf8')).toMatch(/createTrackingClient/);
  expect(existsSync(path.join(installed, 'README.md'))).toBe(true);
  expect(existsSync(path.join(installed, 'tracking-client.ts'))).toBe(false);
  // Only the declared entry point: the internals are not importable.
  const internal = `import('@video-tracking/client/dist/internal.js').then(() => console.log('open'), (e) => console.log(e.code))`;
  expect(
    execFileSync(process.execPath, ['--input-type=module', '-e', internal], { cwd: app, encoding: 'utf8' }).trim(),
  ).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
});

test('the TanStack subpath is in the tarball, exported, and runs without @tanstack/query-core (an optional peer)', () => {
  const installed = path.join(app, 'node_modules/@video-tracking/client');
  expect(existsSync(path.join(installed, 'dist/tanstack.js'))).toBe(true);
  expect(readFileSync(path.join(installed, 'dist/tanstack.d.ts'), 'utf8')).toMatch(/DataTag/);
  const manifest = JSON.parse(readFileSync(path.join(installed, 'package.json'), 'utf8'));
  expect(manifest.peerDependenciesMeta).toEqual({ '@tanstack/query-core': { optional: true } });
  // npm installs no optional peer: the subpath only takes its types from it.
  expect(existsSync(path.join(app, 'node_modules/@tanstack/query-core'))).toBe(false);
  const subpath = `
    import { createTrackingClient } from '@video-tracking/client';
    import { taskQueryOptions } from '@video-tracking/client/tanstack';
    const options = taskQueryOptions(createTrackingClient({ baseUrl: 'http://api.test' }), { taskId: 't' });
    console.log(JSON.stringify(options.queryKey));`;
  expect(
    execFileSync(process.execPath, ['--input-type=module', '-e', subpath], { cwd: app, encoding: 'utf8' }).trim(),
  ).toBe('["video-tracking","task",null,"t"]');
});

test('runs in Node.js from the empty project', () => {
  const out = execFileSync(
    process.execPath,
    ['--input-type=module', '-e', "import { run } from './app.mjs'; console.log(JSON.stringify(await run()));"],
    { cwd: app, encoding: 'utf8' },
  );
  expect(JSON.parse(out)).toEqual(EXPECTED);
});

test('type-checks in the empty project under moduleResolution NodeNext (the declarations resolve)', () => {
  writeFileSync(
    path.join(app, 'check.ts'),
    "import { createTrackingClient, type Task } from '@video-tracking/client';\nconst t: Promise<Task> = createTrackingClient({ baseUrl: '' }).getTask({ taskId: 'x' });\nvoid t;\n",
  );
  const tsc = path.join(ROOT, 'node_modules/typescript/bin/tsc');
  execFileSync(
    process.execPath,
    [
      tsc,
      '--noEmit',
      '--strict',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--lib',
      'es2023,dom',
      'check.ts',
    ],
    { cwd: app, encoding: 'utf8' },
  );
});

// As the browser tests: skipped loudly without Debian's chromium, except in CI (`.ci/run` installs it).
if (!existsSync(CHROMIUM) && process.env.CI)
  throw new Error(`${CHROMIUM} is missing in CI: .ci/run must install Debian's chromium package.`);
if (!existsSync(CHROMIUM))
  console.warn(
    `\n!!! SKIPPING the client package's browser test: ${CHROMIUM} is missing. Install it: apt-get install -y chromium\n`,
  );
const browserTest = existsSync(CHROMIUM) ? test : test.skip;
browserTest('runs in Chromium, bundled by esbuild for the browser', async () => {
  const bundle = await build({
    stdin: {
      contents: "import { run } from './app.mjs'; window.result = run();",
      resolveDir: app,
      sourcefile: 'entry.mjs',
    },
    bundle: true,
    format: 'iife',
    platform: 'browser',
    write: false,
    absWorkingDir: app,
  });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu'],
    timeout: 30_000,
  });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.setContent('<!doctype html><title>app</title>');
    await page.addScriptTag({ content: at(bundle.outputFiles, 0).text });
    expect(await page.evaluate(() => (globalThis as unknown as { result: Promise<unknown> }).result)).toEqual(EXPECTED);
    expect(errors).toEqual([]);
  } finally {
    await browser.close();
  }
});
