/**
 * Item keys of the task table. The active-task key is a length-prefixed pair, so it is injective over any two
 * strings: ("a#b", "c") -> "ACTIVE#3#a#b#c" and ("a", "b#c") -> "ACTIVE#1#a#b#c" differ.
 * Bounded size: 128-character tenant + 1024-byte filename + 12 bytes of framing < DynamoDB's 2048-byte partition key.
 */
export const ACTIVE_PREFIX = 'ACTIVE#';
export const TASK_PREFIX = 'TASK#';

export function activeTaskKey(tenantId: string, videoFilename: string): string {
  return `${ACTIVE_PREFIX}${tenantId.length}#${tenantId}#${videoFilename}`;
}

/** Inverse of activeTaskKey; used by tests to prove injectivity and by operators reading raw items. */
export function parseActiveTaskKey(key: string): { tenantId: string; videoFilename: string } | undefined {
  const match = /^ACTIVE#(0|[1-9][0-9]*)#/.exec(key);
  if (!match) return undefined;
  const start = match[0].length;
  const end = start + Number(match[1]);
  if (key.length < end + 1 || key[end] !== '#') return undefined;
  return { tenantId: key.slice(start, end), videoFilename: key.slice(end + 1) };
}

export function taskRecordKey(taskId: string): string {
  return `${TASK_PREFIX}${taskId}`;
}
