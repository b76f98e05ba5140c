import { transformSync } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { installLazySourceMaps, stackHookHonoured } from '../../../lambda/adapters/lazy-source-maps';

// The `throw` is on line 3 of the TypeScript source.
const THROWER = ['export function fail(): never {', "  const reason = 'boom';", '  throw new Error(reason);', '}'].join(
  '\n',
);

/**
 * A bundle beside its map (as esbuild writes them, unless `map` replaces it) and the hook compiled apart, so a plain
 * Node process shows what Lambda's would: jest maps stacks on its own.
 */
function writeFiles(dir: string, map?: string) {
  const sourceFile = path.join(dir, 'src', 'thrower.ts');
  const bundleFile = path.join(dir, 'bundle', 'index.js');
  const hookFile = path.join(dir, 'lazy-source-maps.js');
  mkdirSync(path.dirname(bundleFile));
  const bundle = transformSync(THROWER, { loader: 'ts', format: 'cjs', sourcemap: 'external', sourcefile: sourceFile });
  writeFileSync(bundleFile, `${bundle.code}//# sourceMappingURL=index.js.map\n`);
  writeFileSync(`${bundleFile}.map`, map ?? bundle.map);
  const hookSource = path.join(__dirname, '../../../lambda/adapters/lazy-source-maps.ts');
  writeFileSync(hookFile, transformSync(readFileSync(hookSource, 'utf8'), { loader: 'ts', format: 'cjs' }).code);
  return { sourceFile, bundleFile, hookFile };
}

/** Installs the hook in a fresh Node process (`options` as source), then prints whether it did and the bundle's stack. */
function runInNode(files: ReturnType<typeof writeFiles>, options = '{}') {
  const script = [
    `const installed = require(${JSON.stringify(files.hookFile)}).installLazySourceMaps(${JSON.stringify(files.bundleFile)}, ${options});`,
    `try { require(${JSON.stringify(files.bundleFile)}).fail(); } catch (e) { process.stdout.write(JSON.stringify({ installed, stack: e.stack })); }`,
  ].join('\n');
  const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { PATH: process.env.PATH } });
  return JSON.parse(child.stdout) as { installed: boolean; stack: string };
}

describe('installLazySourceMaps', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'lazy-source-maps-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test("this Node calls Error.prepareStackTrace with V8's call sites, as the hook needs", () => {
    // Fails when a Node release changes the hook: the entries would then keep the bundle's positions.
    const before = Object.getOwnPropertyDescriptor(Error, 'prepareStackTrace');
    expect(stackHookHonoured()).toBe(true);
    expect(Object.getOwnPropertyDescriptor(Error, 'prepareStackTrace')).toEqual(before);
  });

  test("a frame of the bundle names its TypeScript source's line", () => {
    const files = writeFiles(dir);
    const { installed, stack } = runInNode(files);
    expect(installed).toBe(true);
    expect(stack).toMatch(/^Error: boom\n {4}at \S*fail \(/);
    expect(stack).toContain(`${files.sourceFile}:3:`);
    expect(stack).not.toContain(files.bundleFile);
  });

  test('a runtime that no longer calls the hook as V8 documents it keeps its own stacks: nothing is installed', () => {
    const files = writeFiles(dir);
    const { installed, stack } = runInNode(files, '{ hookHonoured: () => false }');
    expect(installed).toBe(false);
    expect(stack).toMatch(/^Error: boom\n {4}at \S*fail \(/);
    expect(stack).toContain(`${files.bundleFile}:`);
  });

  test('a map that cannot be read leaves the frames at their bundle positions', () => {
    const files = writeFiles(dir, 'not a source map');
    const { installed, stack } = runInNode(files);
    expect(installed).toBe(true);
    expect(stack).toMatch(/^Error: boom\n {4}at \S*fail \(/);
    expect(stack).toContain(`${files.bundleFile}:`);
  });

  test('nothing is installed for code run from source (no map beside it)', () => {
    const before = Object.getOwnPropertyDescriptor(Error, 'prepareStackTrace');
    expect(installLazySourceMaps(path.join(dir, 'index.ts'))).toBe(false);
    expect(Object.getOwnPropertyDescriptor(Error, 'prepareStackTrace')).toEqual(before);
  });
});
