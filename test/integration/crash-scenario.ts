import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { contractFetch, env, eventually, localControl, uniqueTenant } from './support';

/**
 * `npm start` with DATA_DIR, stopped the hard way and started again. Each instance is `node --import tsx
 * local/start.ts` in a process group of its own (as a terminal runs it), reusing the assembly global-setup
 * synthesized, with short timings so the repair bound is seconds, not minutes.
 */
const ROOT = path.resolve(__dirname, '../..');
const GRACE_SECONDS = 2;
const SWEEP_SECONDS = 2;
/** What npm start promises after a restart: every task ends or has a live execution within 60 s. */
const RESTART_BOUND_MS = 60_000;

interface Instance {
  readonly child: ChildProcess;
  readonly apiUrl: string;
  /** The instance's local Step Functions endpoint, for the runner's local controls. */
  readonly sfnEndpoint: string;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
}

async function startLocal(dataDir: string, analysisDelayMs: number): Promise<Instance> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: '0',
      DATA_DIR: dataDir,
      CDK_OUT: env.cdkOut,
      SKIP_SYNTH: '1',
      ANALYSIS_DELAY_MS: String(analysisDelayMs),
      REDRIVE_GRACE_SECONDS: String(GRACE_SECONDS),
      SWEEP_INTERVAL_SECONDS: String(SWEEP_SECONDS),
      POWERTOOLS_LOG_LEVEL: 'ERROR',
    },
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const port = await eventually(
    () => /API on http:\/\/localhost:(\d+)/.exec(output)?.[1],
    60_000,
    `npm start to listen:\n${output}`,
  );
  const sfnEndpoint = /Step Functions endpoint on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
  if (!sfnEndpoint) throw new Error(`npm start printed no Step Functions endpoint:\n${output}`);
  return { child, apiUrl: `http://127.0.0.1:${port}`, sfnEndpoint, output: () => output, exited };
}

/** The restarted instances' answers are held to the contract too. */
async function api(instance: Instance, method: string, p: string, body?: unknown) {
  const res = await contractFetch(`${instance.apiUrl}${p}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const read = (i: Instance, tenant: string, id: string) => api(i, 'GET', `/api/v1/track/${id}?tenant_id=${tenant}`);

/** Processes whose command line names this data folder (DynamoDB Local's JVM names it in -dbPath). */
function processesUsing(dataDir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(dataDir)) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

async function noneLeft(dataDir: string): Promise<void> {
  await eventually(
    () => (processesUsing(dataDir).length === 0 ? true : undefined),
    15_000,
    `every process using ${dataDir} to exit`,
  );
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // Already gone.
  }
}

/** The crash scenario for one signal; each signal has its own test file, so jest runs them side by side. */
export function crashScenario(signal: 'SIGKILL' | 'SIGINT', runningEnds: 'failed' | 'cancelled'): void {
  describe(`npm start with DATA_DIR, its whole process group sent ${signal}, then started again`, () => {
    let dataDir: string;
    const instances: Instance[] = [];

    beforeAll(() => {
      dataDir = mkdtempSync(path.join(tmpdir(), 'video-tracking-crash-'));
    });

    afterAll(async () => {
      for (const i of instances) killGroup(i.child, 'SIGKILL');
      await noneLeft(dataDir).catch(() => undefined);
      rmSync(dataDir, { recursive: true, force: true });
    });

    test(`every task ends with no request but reads (running ones ${runningEnds}), then each video takes a new task`, async () => {
      const tenant = uniqueTenant(`crash-${signal.toLowerCase()}`);
      // GIVEN two running analyses (long enough to outlive the stop) and one task whose execution never began
      const first = await startLocal(dataDir, 60_000);
      instances.push(first);
      const running = await Promise.all(
        ['r1.mp4', 'r2.mp4'].map((v) => api(first, 'POST', '/api/v1/track', { tenant_id: tenant, video_filename: v })),
      );
      for (const r of running)
        await eventually(
          async () => ((await read(first, tenant, r.body.task_id)).body.status === 'running' ? true : undefined),
          20_000,
        );
      await localControl('LocalHold', { field: 'video_filename', value: 'held.mp4' }, first.sfnEndpoint);
      const held = await api(first, 'POST', '/api/v1/track', { tenant_id: tenant, video_filename: 'held.mp4' });
      expect(held.status).toBe(201);
      const tasks = [
        ...running.map((r) => ({ id: r.body.task_id, video: r.body.video_filename })),
        { id: held.body.task_id, video: 'held.mp4' },
      ];

      // WHEN the whole process group gets the signal
      killGroup(first.child, signal);
      let timer: NodeJS.Timeout | undefined;
      const code = await Promise.race([
        first.exited,
        new Promise((r) => (timer = setTimeout(() => r('timeout'), 30_000))),
      ]);
      // A pending 30 s timer would keep jest alive after the run (the tests run in band on 2 cores).
      clearTimeout(timer);
      expect(code).not.toBe('timeout');
      // THEN nothing is left running, DynamoDB Local included
      await noneLeft(dataDir);
      if (signal === 'SIGINT') expect(first.output()).toContain('[local] SIGINT: stopping');

      // WHEN npm start runs again on the same data, with nothing but reads
      const second = await startLocal(dataDir, 500);
      instances.push(second);
      const restarted = Date.now();
      const ended = await eventually(
        async () => {
          const reads = await Promise.all(tasks.map((t) => read(second, tenant, t.id)));
          return reads.every((r) => ['completed', 'failed', 'cancelled'].includes(r.body.status))
            ? reads.map((r) => r.body)
            : undefined;
        },
        RESTART_BOUND_MS,
        `every task to end after the restart:\n${second.output()}`,
      );

      // THEN every task ended within the bound: the running ones as the stop left them, the one never begun ran
      expect(Date.now() - restarted).toBeLessThan(RESTART_BOUND_MS);
      expect(ended[0].status).toBe(runningEnds);
      expect(ended[1].status).toBe(runningEnds);
      expect(ended[2].status).toBe(signal === 'SIGINT' ? 'cancelled' : 'completed');
      // AND each video takes a new task
      for (const t of tasks)
        expect(
          (await api(second, 'POST', '/api/v1/track', { tenant_id: tenant, video_filename: t.video })).status,
        ).toBe(201);

      killGroup(second.child, 'SIGTERM');
      await second.exited;
      await noneLeft(dataDir);
    }, 180_000);
  });
}
