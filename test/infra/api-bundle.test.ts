import { App } from 'aws-cdk-lib';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { TrackingStack } from '../../lib/tracking-stack';
import { TASK_ID_KEYRING_ENV } from '../../lambda/shared/deployment-names';
import { LOCAL_KEYRING_JSON } from '../../local/local-aws';
import { type FunctionProperties, loadStack, resourcesOfType } from '../../local/template';

let outdir: string;
let assetDir: string;
let finalizerAssetDir: string;
let bundle: string;
let sources: string[];

const mapSources = (file: string) => (JSON.parse(readFileSync(`${file}.map`, 'utf8')) as { sources: string[] }).sources;

beforeAll(() => {
  // GIVEN the app synthesized as `cdk synth` does, its functions bundled by esbuild
  outdir = mkdtempSync(path.join(tmpdir(), 'api-bundle-'));
  // Asset metadata on, as the cdk CLI sets it, so the template names each function's bundle folder.
  const app = new App({ outdir, context: { 'aws:cdk:enable-asset-metadata': true } });
  new TrackingStack(app, 'Bundle');
  app.synth();
  const { template } = loadStack(outdir);
  // The API handler, found as the local system finds it: the Track function that starts executions.
  const [, api] = resourcesOfType(template, 'AWS::Lambda::Function').find(
    ([id, fn]) =>
      /Track/.test(id) &&
      (fn.Properties as FunctionProperties | undefined)?.Environment?.Variables?.WORKFLOW_TIMEOUT_SECONDS,
  )!;
  assetDir = path.join(outdir, String(api.Metadata?.['aws:asset:path']));
  const [, finalizer] = resourcesOfType(template, 'AWS::Lambda::Function').find(([id]) => /^Finalizer/.test(id))!;
  finalizerAssetDir = path.join(outdir, String(finalizer.Metadata?.['aws:asset:path']));
  bundle = readFileSync(path.join(assetDir, 'index.js'), 'utf8');
  sources = mapSources(path.join(assetDir, 'index.js'));
}, 120_000);

afterAll(() => rmSync(outdir, { recursive: true, force: true }));

test('the deployed API bundle is built from lambda/track/index.ts and contains no fault-injection code', () => {
  // THEN the bundle is the API handler's (its source map names the entry and the handler module) …
  expect(sources.some((s) => s.endsWith('lambda/track/index.ts'))).toBe(true);
  expect(sources.some((s) => s.endsWith('lambda/track/track-handler.ts'))).toBe(true);
  // … and neither the module nor its strings are in it: the local system passes fault injection in, the stack never does
  expect(sources.filter((s) => /fault-injection/.test(s))).toEqual([]);
  expect(bundle).not.toContain('video-tracking.fault-injection');
  expect(bundle).not.toContain('injected fault');
  expect(bundle).not.toContain('faultInjection');
});

/** Runs the API bundle as Lambda would (its directory as LAMBDA_TASK_ROOT) with one invalid POST; no AWS call is made. */
function invokeBundle(env: Record<string, string>): { statusCode: number; tracerLoaded: boolean } {
  const event = path.join(__dirname, '../../events/post-track-invalid.json');
  const script = `require(${JSON.stringify(path.join(assetDir, 'index.js'))}).handler(JSON.parse(require('node:fs').readFileSync(${JSON.stringify(event)}, 'utf8')))
    .then((r) => process.stdout.write(JSON.stringify({ statusCode: r.statusCode, tracerLoaded: Object.keys(require.cache).some((f) => f.endsWith('xray-tracer.js')) })))`;
  const child = spawnSync(process.execPath, ['-e', script], {
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH,
      // The runtime provides the AWS SDK; here it resolves from the project.
      NODE_PATH: path.join(__dirname, '../../node_modules'),
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
      LAMBDA_TASK_ROOT: assetDir,
      AWS_REGION: 'us-east-1',
      AWS_XRAY_CONTEXT_MISSING: 'IGNORE_ERROR',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
      AUTH_MODE: 'cognito',
      TENANT_CLAIM: 'custom:tenant_id',
      TABLE_NAME: 'tasks',
      STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:123456789012:stateMachine:analysis',
      [TASK_ID_KEYRING_ENV]: LOCAL_KEYRING_JSON,
      ...env,
    },
  });
  if (child.status !== 0) throw new Error(child.stderr);
  return JSON.parse(child.stdout.slice(child.stdout.lastIndexOf('{"statusCode"')));
}

const traceHeader = (sampled: 0 | 1) =>
  `Root=1-5759e988-bd862e3fe1be46a994272793;Parent=557abcec3ee5a047;Sampled=${sampled}`;

describe('X-Ray tracing stays out of the cold start', () => {
  test('the X-Ray SDK is not in index.js but in xray-tracer.js beside it, for the API handler and the finalizer', () => {
    for (const dir of [assetDir, finalizerAssetDir]) {
      // THEN index.js carries neither the Tracer nor the X-Ray SDK …
      expect(
        mapSources(path.join(dir, 'index.js')).filter((s) =>
          /aws-xray-sdk-core|@aws-lambda-powertools\/tracer/.test(s),
        ),
      ).toEqual([]);
      // … the tracer bundle does, with its source map
      expect(existsSync(path.join(dir, 'xray-tracer.js'))).toBe(true);
      expect(mapSources(path.join(dir, 'xray-tracer.js')).some((s) => /aws-xray-sdk-core/.test(s))).toBe(true);
      expect(
        mapSources(path.join(dir, 'xray-tracer.js')).some((s) => s.endsWith('lambda/adapters/xray-tracer.ts')),
      ).toBe(true);
    }
  });

  test('the built API handler loads xray-tracer.js for a sampled invocation only', () => {
    expect(invokeBundle({ _X_AMZN_TRACE_ID: traceHeader(0) })).toEqual({ statusCode: 400, tracerLoaded: false });
    expect(invokeBundle({ _X_AMZN_TRACE_ID: traceHeader(1) })).toEqual({ statusCode: 400, tracerLoaded: true });
    expect(invokeBundle({ _X_AMZN_TRACE_ID: traceHeader(1), POWERTOOLS_TRACE_ENABLED: 'false' })).toEqual({
      statusCode: 400,
      tracerLoaded: false,
    });
  });

  test('without --enable-source-maps, a stack trace from the bundle still names the TypeScript source', () => {
    // GIVEN the bundle loaded without AUTH_MODE, which throws at init, and the error's stack printed
    const script = `try { require(${JSON.stringify(path.join(assetDir, 'index.js'))}) } catch (e) { process.stdout.write(e.stack) }`;
    const child = spawnSync(process.execPath, ['-e', script], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, NODE_PATH: path.join(__dirname, '../../node_modules') },
    });
    // THEN its frames point at lambda/core/caller.ts and lambda/track/index.ts, not at the minified index.js
    expect(child.stdout).toMatch(/AUTH_MODE is not set/);
    expect(child.stdout).toMatch(/lambda\/core\/caller\.ts:\d+:\d+\)/);
    expect(child.stdout).toMatch(/lambda\/track\/index\.ts:\d+:\d+\)/);
    expect(child.stdout).not.toMatch(/index\.js:\d+:\d+/);
  });
});
