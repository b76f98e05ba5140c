import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { at } from '../../support/at';

const ROOT = path.resolve(__dirname, '../../..');
const SOURCE_DIRS = ['bin', 'lib', 'lambda', 'local', 'bench'];

function sources(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => path.join(dir, f));
}

/** Module specifiers a file imports (static imports, re-exports, require and dynamic import). */
function importsOf(file: string): string[] {
  const text = readFileSync(path.join(ROOT, file), 'utf8');
  const found = [...text.matchAll(/(?:from|import|require)\s*\(?\s*'([^']+)'/g)].map((m) => at(m, 1));
  return found.filter((spec) => !spec.startsWith('node:'));
}

/** Every file reachable from `entries` by relative imports, and every package they import. */
function closure(entries: string[]): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = [...entries];
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    if (files.has(file)) continue;
    files.add(file);
    for (const spec of importsOf(file)) {
      if (!spec.startsWith('.')) packages.add(spec);
      else queue.push(path.relative(ROOT, path.resolve(ROOT, path.dirname(file), spec)) + '.ts');
    }
  }
  return { files, packages };
}

describe('import graph', () => {
  it('the CDK app (bin/, lib/) reaches no Lambda adapter and no AWS SDK client', () => {
    // GIVEN every file the app loads
    const { files, packages } = closure([...sources('bin'), ...sources('lib')]);
    // THEN none of them is an adapter, and no package is the SDK
    expect([...files].filter((f) => f.startsWith(path.join('lambda', 'adapters')))).toEqual([]);
    expect([...packages].filter((p) => p.startsWith('@aws-sdk/'))).toEqual([]);
  });

  it('the core and the shared names import no SDK and no adapter', () => {
    const { files, packages } = closure([
      ...sources(path.join('lambda', 'core')),
      ...sources(path.join('lambda', 'shared')),
    ]);
    expect(
      [...files].filter(
        (f) => !f.startsWith(path.join('lambda', 'core')) && !f.startsWith(path.join('lambda', 'shared')),
      ),
    ).toEqual([]);
    // valibot (request validation) is the core's one package: plain TypeScript, no I/O.
    expect([...packages].filter((p) => p !== 'valibot')).toEqual([]);
  });
});

describe('one home for shared names', () => {
  const files = SOURCE_DIRS.flatMap(sources);
  const holding = (pattern: RegExp) => files.filter((f) => pattern.test(readFileSync(path.join(ROOT, f), 'utf8')));

  it.each([
    ['the app name / metric namespace', /'VideoTracking'/],
    ['the auth modes', /'cognito'/],
    ['the Cognito tenant claim', /'custom:tenant_id'/],
    ['the collection route', /'\/api\/v1\/track'/],
    ['the sweep index name', /'active-by-age'/],
    ['the execution-status map', /TIMED_OUT: 'timed_out'/],
    ['the service names', /'task-finalizer'/],
  ])('%s is spelled in one file', (_what, pattern) => {
    expect(holding(pattern)).toHaveLength(1);
  });
});
