import { createRequire } from 'node:module';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { build, type BuildOptions } from 'esbuild';
import { FUNCTION_DEFAULTS } from '../lib/private/tracking-function';

export const ROOT = path.resolve(__dirname, '..');

/**
 * esbuild options for a function entry as the stack bundles it (FUNCTION_DEFAULTS of lib/private/tracking-function.ts:
 * minified, source maps without sources content, AWS SDK v3 external), so the benches measure the code Lambda runs.
 */
export function esbuildOptions(entry: string, outfile: string, overrides: Partial<BuildOptions> = {}): BuildOptions {
  const { bundling } = FUNCTION_DEFAULTS;
  return {
    entryPoints: [path.join(ROOT, entry)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: bundling.target,
    minify: bundling.minify,
    sourcemap: bundling.sourceMap,
    sourcesContent: bundling.sourcesContent,
    external: [...bundling.externalModules],
    metafile: true,
    logLevel: 'warning',
    ...overrides,
  };
}

/**
 * Bundles `entry` as the stack does and requires it in this process: the code Lambda runs (minified, no tsx
 * transform). Written under node_modules/.cache so its external @aws-sdk packages resolve to the project's (the
 * same SDK instances as the bench's own clients), and removed once loaded. No source map: the entries' lazy stack
 * mapping would replace Error.prepareStackTrace for the whole bench process.
 */
export async function requireBundled<T>(entry: string): Promise<T> {
  const cache = path.join(ROOT, 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  const dir = mkdtempSync(path.join(cache, 'bench-bundle-'));
  try {
    const file = path.join(dir, 'index.js');
    await build(esbuildOptions(entry, file, { sourcemap: false, metafile: false }));
    return createRequire(__filename)(file) as T;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
