/**
 * The measured figures the model runs on, read from the documents the benches write: the read and write units per
 * path (docs/ARCHITECTURE.md, between the cost-table markers, `npm run bench:cost-table`) and the handler's duration,
 * log bytes and states per task (docs/BENCHMARKS.md, "Cost per 1M POSTs", `npm run bench`). The same figures the cost
 * tables use; when a bench rewrites them, the model follows.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ROOT } from './stack-config';

const START = '<!-- cost-table:start';
const END = '<!-- cost-table:end -->';

/** Units of one path as the cost table gives them: `table` and one entry per index, and the reads. */
export interface PathRow {
  readonly path: string;
  readonly answer: string;
  readonly readUnits: number;
  /** `table`, then one key per index (`active-by-age`, `by-tenant`, …). */
  readonly write: Readonly<Record<string, number>>;
}

/** The rows of the cost table in `doc` (docs/ARCHITECTURE.md), keyed by path. */
export function parseCostTable(doc: string): Map<string, PathRow> {
  const start = doc.indexOf(START);
  const end = doc.indexOf(END);
  if (start < 0 || end < start) throw new Error(`capacity: the cost-table markers (${START} … ${END}) are missing.`);
  const lines = doc
    .slice(doc.indexOf('\n', start) + 1, end)
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('|'));
  const cells = (line: string) =>
    line
      .slice(1, line.endsWith('|') ? -1 : undefined)
      .split('|')
      .map((c) => c.trim());
  const [header, , ...body] = lines;
  if (!header) throw new Error('capacity: the cost table has no header.');
  const columns = cells(header);
  const at = (name: string) => {
    const i = columns.indexOf(name);
    if (i < 0) throw new Error(`capacity: the cost table has no column "${name}".`);
    return i;
  };
  const indexColumns = columns
    .map((c, i) => ({ name: /^WRU `(.+)`$/.exec(c)?.[1], i }))
    .filter((c): c is { name: string; i: number } => c.name !== undefined);
  const rows = new Map<string, PathRow>();
  for (const line of body) {
    const c = cells(line);
    const num = (i: number) => {
      const v = Number(c[i]);
      if (c[i] === undefined || !Number.isFinite(v))
        throw new Error(`capacity: not a number in the cost table: ${line}`);
      return v;
    };
    const write: Record<string, number> = { table: num(at('WRU table')) };
    for (const { name, i } of indexColumns) write[name] = num(i);
    const pathName = c[0] ?? '';
    rows.set(pathName, {
      path: pathName,
      answer: c[1] ?? '',
      readUnits: num(at('RRU table')) + num(at('RRU indexes')),
      write,
    });
  }
  return rows;
}

/** The row of `name`; throws naming the doc when the bench no longer writes it. */
export function row(rows: Map<string, PathRow>, name: string): PathRow {
  const found = rows.get(name);
  if (!found) throw new Error(`capacity: no row "${name}" in the cost table of docs/ARCHITECTURE.md.`);
  return found;
}

export const sumWrite = (r: PathRow) => Object.values(r.write).reduce((s, n) => s + n, 0);

/** What one request costs the handler, and how many states a task enters (docs/BENCHMARKS.md). */
export interface BenchProfile {
  readonly newMs: number;
  readonly duplicateMs: number;
  readonly newLogBytes: number;
  readonly duplicateLogBytes: number;
  readonly statesPerTask: number;
  /** The stack's monthly cost at idle, when the doc gives it. */
  readonly idlePerMonth?: number;
}

export function parseBenchProfile(doc: string): BenchProfile {
  const need = (re: RegExp, what: string) => {
    const m = re.exec(doc);
    if (!m) throw new Error(`capacity: docs/BENCHMARKS.md no longer gives ${what} (${re.source}).`);
    return m;
  };
  const duration = need(/new (\d+) ms, duplicate (\d+) ms/, "the handler's durations");
  const logs = need(/new (\d+) B, duplicate (\d+) B measured/, "the handler's log bytes");
  const states = need(/Step Functions Standard transitions \((\d+) per task\)/, 'the state transitions per task');
  const idle = /\*\*at idle\*\* \| \| \*\*\$([0-9.]+)\*\*/.exec(doc);
  return {
    newMs: Number(duration[1]),
    duplicateMs: Number(duration[2]),
    newLogBytes: Number(logs[1]),
    duplicateLogBytes: Number(logs[2]),
    statesPerTask: Number(states[1]),
    idlePerMonth: idle ? Number(idle[1]) : undefined,
  };
}

export interface Measured {
  readonly rows: Map<string, PathRow>;
  readonly bench: BenchProfile;
}

export function readMeasured(root = ROOT): Measured {
  return {
    rows: parseCostTable(readFileSync(path.join(root, 'docs', 'ARCHITECTURE.md'), 'utf8')),
    bench: parseBenchProfile(readFileSync(path.join(root, 'docs', 'BENCHMARKS.md'), 'utf8')),
  };
}
