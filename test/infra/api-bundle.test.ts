import { App } from 'aws-cdk-lib';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { TrackingStack } from '../../lib/tracking-stack';
import { loadStack, resourcesOfType } from '../../local/template';

let outdir: string;
let bundle: string;
let sources: string[];

beforeAll(() => {
  // GIVEN the app synthesized as `cdk synth` does, its functions bundled by esbuild
  outdir = mkdtempSync(path.join(tmpdir(), 'api-bundle-'));
  // Asset metadata on, as the cdk CLI sets it, so the template names each function's bundle folder.
  const app = new App({ outdir, context: { 'aws:cdk:enable-asset-metadata': true } });
  new TrackingStack(app, 'Bundle');
  app.synth();
  const { template } = loadStack(outdir);
  // The API handler, found as the local system finds it: the Track function that starts executions.
  const [, api] = resourcesOfType(template, 'AWS::Lambda::Function').find(([id, fn]) => /Track/.test(id) && fn.Properties?.Environment?.Variables?.WORKFLOW_TIMEOUT_SECONDS)!;
  const assetDir = path.join(outdir, api.Metadata!['aws:asset:path']);
  bundle = readFileSync(path.join(assetDir, 'index.js'), 'utf8');
  sources = (JSON.parse(readFileSync(path.join(assetDir, 'index.js.map'), 'utf8')) as { sources: string[] }).sources;
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
