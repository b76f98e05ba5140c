import { existsSync, readFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import * as path from 'node:path';

/** A call site as V8's stack trace API hands it to `Error.prepareStackTrace` (https://v8.dev/docs/stack-trace-api). */
type CallSite = NodeJS.CallSite & { toString(): string };

/** Source maps read so far, by bundle file; undefined: the file has none. */
const maps = new Map<string, SourceMap | undefined>();

function mapOf(file: string): SourceMap | undefined {
  if (!maps.has(file)) {
    let map: SourceMap | undefined;
    try {
      map = new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')) as SourceMapPayload);
    } catch {
      map = undefined;
    }
    maps.set(file, map);
  }
  return maps.get(file);
}

/** One stack frame, its bundle position replaced by the TypeScript source's when the bundle has a map. */
function frame(callSite: CallSite, bundleDir: string): string {
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

function stack(error: Error, callSites: CallSite[], map: (callSite: CallSite) => string): string {
  const header = Error.prototype.toString.call(error);
  return callSites.length === 0 ? header : `${header}\n${callSites.map((c) => `    at ${map(c)}`).join('\n')}`;
}

/**
 * Whether this runtime calls `Error.prepareStackTrace` as the hook needs: with call sites whose text names their
 * `file:line:column`. Node keeps V8's API, but no Node document promises it.
 */
export function stackHookHonoured(): boolean {
  const previous = Object.getOwnPropertyDescriptor(Error, 'prepareStackTrace');
  let honoured = false;
  try {
    Error.prepareStackTrace = (_error: Error, callSites: CallSite[]) => {
      const site = callSites[0];
      honoured =
        site !== undefined &&
        site.toString().includes(`${site.getFileName()}:${site.getLineNumber()}:${site.getColumnNumber()}`);
      return '';
    };
    void new Error('probe').stack;
  } catch {
    honoured = false;
  } finally {
    if (previous) Object.defineProperty(Error, 'prepareStackTrace', previous);
    else Reflect.deleteProperty(Error, 'prepareStackTrace');
  }
  return honoured;
}

export interface LazySourceMapsOptions {
  /** @default stackHookHonoured */
  readonly hookHonoured?: () => boolean;
}

/**
 * Stack traces that name the TypeScript sources, paid for at the first stack formatted instead of at load. Node's
 * --enable-source-maps scans every line of a bundle as it loads: ~7 ms of CPU for the API's, +7-12 % on its cold
 * start (docs/OPERATIONS.md, "Tracing, source maps and the cold start"). `bundleFile` is the caller's `__filename`:
 * in Lambda the bundle, whose directory's frames are mapped. Nothing is installed from source (tsx, jest: no .map
 * beside it), when Node's own source maps are on, or when the runtime no longer calls the hook as V8 documents it
 * (the stacks then name the bundle). Returns whether it installed the hook.
 */
export function installLazySourceMaps(bundleFile: string, options: LazySourceMapsOptions = {}): boolean {
  if (process.sourceMapsEnabled || !existsSync(`${bundleFile}.map`)) return false;
  if (!(options.hookHonoured ?? stackHookHonoured)()) return false;
  const bundleDir = path.dirname(bundleFile);
  Error.prepareStackTrace = (error: Error, callSites: CallSite[]) => {
    try {
      return stack(error, callSites, (c) => frame(c, bundleDir));
    } catch {
      // A map we cannot apply must not cost the error its stack.
      return stack(error, callSites, (c) => c.toString());
    }
  };
  return true;
}
