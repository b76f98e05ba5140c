import { createHmac } from 'node:crypto';

/**
 * What the service minted before the generated secret (main at 2137035, lambda/shared/task-keys.ts and
 * lambda/core/cursor.ts then), frozen here so tests can prove an upgrade keeps them working. The key was
 * TASK_ID_KEY, the stack's UUID: the salt of today's keyring.
 */
export function legacyTaskId(key: string, tenantId: string, videoFilename: string, random: Buffer): string {
  return Buffer.concat([random, legacyDigest(key, tenantId, videoFilename)]).toString('base64url');
}

export function legacyDigest(key: string, tenantId: string, videoFilename: string): Buffer {
  return createHmac('sha256', key)
    .update(`${tenantId}\u0000${videoFilename.normalize('NFC')}`, 'utf8')
    .digest()
    .subarray(0, 16);
}

export function legacySignCursor(key: string, tenantId: string, position: Record<string, string>): string {
  const payload = Buffer.from(JSON.stringify(position)).toString('base64url');
  const mac = createHmac('sha256', key)
    .update('list-cursor')
    .update('\u0000')
    .update(tenantId)
    .update('\u0000')
    .update(payload)
    .digest();
  return `${payload}.${mac.toString('base64url')}`;
}
