import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import * as path from 'node:path';

/** Source maps read so far, by bundle file; undefined: the file has none. */
const maps = new Map<string, SourceMap | undefined>();

function mapOf(file: string): SourceMap | undefined {
  if (!maps.has(file)) {
    let map: SourceMap | undefined;
    try {
      map = new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')));
    } catch {
      map = undefined;
    }
    maps.set(file, map);
  }
  return maps.get(file);
}

/** One stack frame, its bundle position replaced by the TypeScript source's when the bundle has a map. */
function frame(callSite: NodeJS.CallSite, bundleDir: string): string {
  const text = callSite.toString();
  const file = callSite.getFileName();
  const line = callSite.getLineNumber();
  const column = callSite.getColumnNumber();
  if (!file || line === null || column === null || path.dirname(file) !== bundleDir) return text;
  const entry = mapOf(file)?.findEntry(line - 1, column - 1);
  if (!entry || !('originalSource' in entry)) return text;
  const source = entry.originalSource.startsWith('file:')
    ? new URL(entry.originalSource).pathname
    : path.resolve(bundleDir, entry.originalSource);
  return text.replace(`${file}:${line}:${column}`, `${source}:${entry.originalLine + 1}:${entry.originalColumn + 1}`);
}

/**
 * Stack traces that name the TypeScript sources, paid for at the first stack formatted instead of at load: Node's
 * --enable-source-maps scans every line of a bundle as it loads (~7 ms for the API's, a tenth of the AWS SDK's own
 * load), this reads the bundle's .map when a stack is first formatted. `bundleFile` is the caller's `__filename`:
 * in Lambda the bundle, whose directory's frames are mapped; from source (tsx, jest: no .map beside it) nothing is
 * installed, and nothing either when Node's own source maps are on.
 */
export function installLazySourceMaps(bundleFile: string): void {
  if (process.sourceMapsEnabled || !existsSync(`${bundleFile}.map`)) return;
  const bundleDir = path.dirname(bundleFile);
  Error.prepareStackTrace = (error: Error, callSites: NodeJS.CallSite[]) => {
    const header = Error.prototype.toString.call(error);
    return callSites.length === 0
      ? header
      : `${header}\n${callSites.map((c) => `    at ${frame(c, bundleDir)}`).join('\n')}`;
  };
}
