import { createHmac, type KeyObject, timingSafeEqual } from 'node:crypto';
import { MAX_KEY_VERSION } from '../shared/keyring';
import type { CursorKeys } from '../shared/task-keys';
import { InvalidRequest } from './errors';

/**
 * The listing's opaque cursor: version "." base64url(JSON position) "." base64url(HMAC-SHA256(cursor key of version,
 * "list-cursor" ‖ U+0000 ‖ tenant ‖ U+0000 ‖ version ‖ U+0000 ‖ payload)). Bound to the tenant it was issued to, so a
 * cursor edited or taken from another tenant is refused before any read.
 *
 * A cursor issued before key versions (payload "." signature, signed with the salt, the stack's old key) is still
 * accepted. Its key is public, so such a cursor can be forged, but only by the tenant it is for and only to a position
 * in its own listing: the index reader refuses a position outside the caller's partition
 * (lambda/adapters/dynamodb/tenant-index.ts), so a forger reads nothing it could not list.
 */
const DOMAIN = 'list-cursor';
const VERSION = /^[1-9][0-9]{0,2}$/;

export type CursorPosition = Readonly<Record<string, string>>;

export function signCursor(keys: CursorKeys, tenantId: string, position: CursorPosition): string {
  const { version, key } = keys.cursorSigningKey();
  const payload = Buffer.from(JSON.stringify(position)).toString('base64url');
  return `${version}.${payload}.${mac(key, tenantId, `${version}\u0000${payload}`).toString('base64url')}`;
}

/** @throws InvalidRequest (field `cursor`) unless the cursor is one signCursor issued to this tenant. */
export async function openCursor(keys: CursorKeys, tenantId: string, cursor: string): Promise<CursorPosition> {
  const parts = cursor.split('.');
  let payload: string | undefined;
  let signature: string | undefined;
  let expected: Buffer;
  if (parts.length === 2) {
    [payload, signature] = parts;
    expected = mac(keys.legacyCursorKey(), tenantId, payload ?? '');
  } else {
    const [version, versionPayload, versionSignature, extra] = parts;
    if (extra !== undefined || version === undefined || !VERSION.test(version) || Number(version) > MAX_KEY_VERSION)
      throw invalidCursor();
    const key = await keys.cursorKey(Number(version));
    if (!key) throw invalidCursor();
    [payload, signature] = [versionPayload, versionSignature];
    expected = mac(key, tenantId, `${version}\u0000${payload ?? ''}`);
  }
  const given = Buffer.from(signature ?? '', 'base64url');
  if (!payload || given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalidCursor();
  let position: unknown;
  try {
    position = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor();
  }
  if (
    typeof position !== 'object' ||
    position === null ||
    Array.isArray(position) ||
    !Object.values(position).every((v) => typeof v === 'string')
  ) {
    throw invalidCursor();
  }
  return position as CursorPosition;
}

export function invalidCursor(): InvalidRequest {
  return new InvalidRequest(
    'cursor',
    'cursor is not a cursor this API issued to this tenant; pass next_cursor back unchanged.',
  );
}

function mac(key: KeyObject | string, tenantId: string, signed: string): Buffer {
  return createHmac('sha256', key)
    .update(DOMAIN)
    .update('\u0000')
    .update(tenantId)
    .update('\u0000')
    .update(signed)
    .digest();
}
