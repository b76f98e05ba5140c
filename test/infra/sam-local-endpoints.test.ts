import { Aspects } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { SamLocalEndpoints } from '../../lib/sam-local-endpoints';
import { TrackingStack } from '../../lib/tracking-stack';
import { TASK_ID_KEYRING_ENV, TASK_ID_SECRET_ARN_ENV } from '../../lambda/shared/deployment-names';
import { defaultTrackingStack, unbundledApp } from '../support/synth';

describe('sam local invoke support', () => {
  test('the deployable template never points the SDK at local endpoints, nor declares an inline keyring', () => {
    // GIVEN the app as bin/app.ts builds it THEN
    expect(JSON.stringify(defaultTrackingStack().json)).not.toMatch(/AWS_ENDPOINT_URL/);
    expect(JSON.stringify(defaultTrackingStack().json)).not.toContain(TASK_ID_KEYRING_ENV);
  });

  test('the app refuses -c localEndpoints=true unless the output is cdk.out.sam (so cdk deploy cannot ship it)', () => {
    const parent = mkdtempSync(path.join(tmpdir(), 'app-'));
    // No esbuild bundling: only whether the app synthesizes matters here.
    const context = JSON.stringify({ localEndpoints: 'true', 'aws:cdk:bundling-stacks': [] });
    const run = (outdir: string) =>
      spawnSync(process.execPath, ['--import', 'tsx', 'bin/app.ts'], {
        cwd: path.join(__dirname, '../..'),
        env: { ...process.env, CDK_OUTDIR: path.join(parent, outdir), CDK_CONTEXT_JSON: context },
        encoding: 'utf8',
      });
    const refused = run('cdk.out');
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(
      /localEndpoints=true is only for sam local invoke: synthesize it with `npm run sam:synth`/,
    );
    const sam = run('cdk.out.sam');
    expect(sam.stderr).not.toMatch(/only for sam local invoke/);
    expect(sam.status).toBe(0);
    expect(existsSync(path.join(parent, 'cdk.out.sam', 'VideoTracking.template.json'))).toBe(true);
  }, 120_000);

  test('the SamLocalEndpoints aspect declares the endpoint variables and the inline keyring on each function sam:prepare configures, and only there', () => {
    // GIVEN
    const app = unbundledApp();
    // WHEN
    Aspects.of(app).add(new SamLocalEndpoints());
    const t = Template.fromStack(new TrackingStack(app, 'Sam'));
    // THEN
    const variables = Object.values(t.findResources('AWS::Lambda::Function')).map(
      (fn) => fn.Properties.Environment.Variables as Record<string, unknown>,
    );
    const withEndpoints = variables.filter(
      (v) =>
        v.AWS_ENDPOINT_URL_DYNAMODB === 'http://dynamodb:8000' &&
        v.AWS_ENDPOINT_URL_SFN === 'http://stepfunctions:8083',
    );
    expect(withEndpoints).toHaveLength(3);
    expect(variables.filter((v) => 'STATE_MACHINE_ARN' in v)).toEqual(withEndpoints);
    // … and the inline keyring, declared (sam:prepare sets it) wherever the stack gives the keyring secret's ARN
    const keyed = variables.filter((v) => TASK_ID_SECRET_ARN_ENV in v);
    expect(keyed).toHaveLength(3);
    expect(variables.filter((v) => TASK_ID_KEYRING_ENV in v)).toEqual(keyed);
    for (const v of keyed) expect(v[TASK_ID_KEYRING_ENV]).toBe('');
  });
});
