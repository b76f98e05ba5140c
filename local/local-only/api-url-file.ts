import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { PROJECT_ROOT } from '../template';

/** Where `npm start` writes the URL its banner prints, so `npm run token` finds it on any PORT (git-ignored). */
export const API_URL_FILE = path.join(PROJECT_ROOT, '.local-data', 'api-url.json');

interface ApiUrlRecord {
  readonly url: string;
  /** The `npm start` process: a file left by one that was killed (kill -9) names a process that is gone. */
  readonly pid: number;
}

/** Records this process's API URL (the last `npm start` wins). */
export function writeApiUrl(url: string, file = API_URL_FILE): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const record: ApiUrlRecord = { url, pid: process.pid };
  writeFileSync(file, `${JSON.stringify(record)}\n`);
}

/** Removes the file if this process wrote it: another `npm start` may have written its own since. */
export function removeApiUrl(file = API_URL_FILE): void {
  if (readRecord(file)?.pid === process.pid) rmSync(file, { force: true });
}

/** The URL of the running `npm start`; undefined when none wrote one or the one that did has exited. */
export function readApiUrl(file = API_URL_FILE): string | undefined {
  const record = readRecord(file);
  return record && isRunning(record.pid) ? record.url : undefined;
}

function readRecord(file: string): ApiUrlRecord | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
  const { url, pid } = (parsed ?? {}) as Partial<ApiUrlRecord>;
  return typeof url === 'string' && Number.isInteger(pid) ? { url, pid: pid as number } : undefined;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0); // signal 0: only checks that the process exists
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
