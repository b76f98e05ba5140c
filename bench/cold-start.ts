/**
 * `npm run bench:cold-start`: what the X-Ray Tracer costs a cold start. Bundles each function entry the way the
 * stack does (lib/private/tracking-function.ts: esbuild, minified, source maps, AWS SDK v3 external), once as is and once
 * with @aws-lambda-powertools/tracer replaced by a pass-through stand-in, then loads each bundle in fresh Node
 * processes (as Lambda's init phase does) and prints the median and p90 load time and the bundle sizes.
 * Local figures: a Lambda arm64 core at 256 MB is slower, so read the difference, not the absolute values.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { build, type Plugin } from 'esbuild';
import { AuthMode, ServiceName } from '../lambda/shared/names';

const ROOT = path.resolve(__dirname, '..');
const ENTRIES = { [ServiceName.TrackApi]: 'lambda/track/index.ts', [ServiceName.TaskFinalizer]: 'lambda/finalizer/index.ts' };
const RUNS = Number(process.env.RUNS ?? 25);

/** The Tracer surface the entries use, doing nothing: what the bundle would be without X-Ray. */
const noTracer: Plugin = {
  name: 'no-tracer',
  setup(build) {
    build.onResolve({ filter: /^@aws-lambda-powertools\/tracer$/ }, () => ({ path: 'tracer', namespace: 'no-tracer' }));
    build.onLoad({ filter: /.*/, namespace: 'no-tracer' }, () => ({
      contents: 'export class Tracer { captureAWSv3Client(client) { return client; } }',
      loader: 'js',
    }));
  },
};

async function bundle(entry: string, outdir: string, withTracer: boolean): Promise<string> {
  const outfile = path.join(outdir, 'index.js');
  await build({
    entryPoints: [path.join(ROOT, entry)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node24',
    minify: true,
    sourcemap: true,
    external: ['@aws-sdk/*'],
    plugins: withTracer ? [] : [noTracer],
    logLevel: 'warning',
  });
  return outfile;
}

/** Milliseconds the require of the bundle takes, in a fresh process with the function's NODE_OPTIONS. */
function loadTime(file: string): number {
  const script = `const t=process.hrtime.bigint();require(${JSON.stringify(file)});process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))`;
  const env = {
    ...process.env,
    NODE_OPTIONS: '--enable-source-maps',
    // As in Lambda, so the Tracer and the X-Ray SDK take their Lambda code paths at import.
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
    LAMBDA_TASK_ROOT: path.dirname(file),
    AWS_LAMBDA_FUNCTION_NAME: 'cold-start-bench',
    AWS_REGION: 'us-east-1',
    // The API handler refuses to start without it, as the stack always sets it.
    AUTH_MODE: AuthMode.Cognito,
    // The bundles leave the AWS SDK out (the runtime provides it); here it resolves from the project.
    NODE_PATH: path.join(ROOT, 'node_modules'),
  };
  const run = spawnSync(process.execPath, ['-e', script], { env, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`loading ${file} failed: ${run.stderr}`);
  return Number(run.stdout);
}

const kib = (file: string) => (statSync(file).size / 1024).toFixed(1);
const at = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))].toFixed(1);

async function main() {
  const work = mkdtempSync(path.join(tmpdir(), 'cold-start-'));
  try {
    console.log(`Bundle load time (require in a fresh node ${process.version} process, NODE_OPTIONS=--enable-source-maps, ${RUNS} runs each, the two builds alternating so both see the same machine load)\n`);
    console.log('| function | build | index.js | index.js.map | load p50 | load p90 | Tracer cost (median of paired differences) |');
    console.log('|---|---|---:|---:|---:|---:|---:|');
    for (const [name, entry] of Object.entries(ENTRIES)) {
      const without = await bundle(entry, path.join(work, `${name}-without`), false);
      const withTracer = await bundle(entry, path.join(work, `${name}-with`), true);
      const a: number[] = [];
      const b: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        a.push(loadTime(without));
        b.push(loadTime(withTracer));
      }
      const diff = a.map((x, i) => b[i] - x).sort((x, y) => x - y);
      const row = (label: string, file: string, times: number[], cost: string) => {
        const sorted = [...times].sort((x, y) => x - y);
        console.log(`| ${name} | ${label} | ${kib(file)} KiB | ${kib(`${file}.map`)} KiB | ${at(sorted, 0.5)} ms | ${at(sorted, 0.9)} ms | ${cost} |`);
      };
      row('without Tracer', without, a, '');
      row('with Tracer', withTracer, b, `${at(diff, 0.5)} ms`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
