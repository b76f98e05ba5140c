import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

export const ROOT = path.join(__dirname, '..');

/** The stack variants CI checks: every auth mode, the optional features together, and an existing table and keyring. */
export const VARIANTS: Readonly<Record<string, Record<string, string>>> = {
  default: {},
  jwt: { auth: 'jwt', jwtIssuer: 'https://login.example.com/', jwtAudience: 'spa,api://tracking' },
  iam: { auth: 'iam' },
  none: { auth: 'none' },
  features: { corsAllowOrigins: 'https://app.example.com', alarmEmail: 'ops@example.com', removalPolicy: 'destroy' },
  budget: { alarmEmail: 'ops@example.com', budgetUsd: '25' },
  // A restore into a new stack (docs/OPERATIONS.md, Restore): on an existing table and the old stack's keyring, so no
  // table or secret resource, every name and grant on these.
  existingTable: {
    tableName: 'VideoTracking-restored',
    taskIdSecret: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:VideoTracking-task-ids-AbCdEf',
  },
};

/**
 * Synthesizes bin/app.ts into `outdir` as `cdk synth -c …` would (cdk.json's context, then the variant's). With
 * `bundle: false` esbuild is skipped: the template is the same apart from asset hashes, but the assets are not
 * deployable (a function's asset is then the project folder). Returns the template's path; throws with the app's
 * output when synthesis fails.
 */
export function synthVariant(context: Record<string, string>, outdir: string, options: { bundle: boolean }): string {
  const cdkJson = JSON.parse(readFileSync(path.join(ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> };
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'bin/app.ts'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: {
      ...process.env,
      CDK_OUTDIR: outdir,
      // The CLI refuses aws:-prefixed context from users; the app reads it as the CLI would pass it (ours: no stack bundled).
      CDK_CONTEXT_JSON: JSON.stringify({
        ...cdkJson.context,
        ...context,
        ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }),
      }),
    },
  });
  if (run.status !== 0)
    throw new Error(`synthesis with ${JSON.stringify(context)} failed:\n${run.stderr}${run.stdout}`);
  const stackName = context.stackName ?? 'VideoTracking';
  return path.join(outdir, `${stackName}.template.json`);
}
