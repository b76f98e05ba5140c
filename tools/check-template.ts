/**
 * `npm run check:template`: cfn-lint (AWS's CloudFormation linter, Python) on the template of every variant in
 * tools/synth-variants.ts. Run it before `cdk deploy`; CI runs it too. Without cfn-lint it says how to get it and
 * exits 0 (it is not on the npm registry).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { synthVariant, VARIANTS } from './synth-variants';

// W3005 ("dependency already enforced by a GetAtt"): CDK itself writes DependsOn on each function's role beside the
// Role GetAtt; redundant, harmless, and not ours to change. Suppressed by id only, nothing broader.
const IGNORED_RULES = ['W3005'];

function main(): number {
  const version = spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' });
  if (version.error || version.status !== 0) {
    console.log('check:template skipped: cfn-lint is not installed (pip install cfn-lint, then run it again).');
    return 0;
  }
  const work = mkdtempSync(path.join(tmpdir(), 'check-template-'));
  try {
    const templates = Object.entries(VARIANTS).map(([name, context]) => {
      const started = Date.now();
      const template = synthVariant(context, path.join(work, name), { bundle: false });
      console.log(
        `synthesized ${name} (${JSON.stringify(context)}) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      return template;
    });
    // One cfn-lint process for all templates: its start-up is most of its time.
    const lint = spawnSync('cfn-lint', ['--ignore-checks', ...IGNORED_RULES, '--', ...templates], { encoding: 'utf8' });
    process.stdout.write(lint.stdout.split(work).join('<variant>'));
    process.stderr.write(lint.stderr);
    // cfn-lint's exit code is a bit mask: 2 errors, 4 warnings, 8 informational; 1 is its own failure.
    const errors = (lint.status ?? 1) & 3;
    console.log(
      `${version.stdout.trim()} on ${templates.length} variants: ${errors ? 'FAILED' : 'no errors'}${lint.status ? ` (exit ${lint.status})` : ''}`,
    );
    return errors ? 1 : 0;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

process.exitCode = main();
