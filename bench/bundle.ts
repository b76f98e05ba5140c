import * as path from 'node:path';
import type { BuildOptions } from 'esbuild';
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
