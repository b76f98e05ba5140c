import { createHmac, timingSafeEqual } from 'node:crypto';
import { InvalidRequest } from './errors';

/**
 * The listing's opaque cursor: base64url(JSON position) "." base64url(HMAC-SHA256(key, tenant ‖ U+0000 ‖ payload)).
 * Bound to the tenant it was issued to, so a cursor edited or taken from another tenant is refused before any read.
 */
const DOMAIN = 'list-cursor';

export type CursorPosition = Readonly<Record<string, string>>;

export function signCursor(key: string, tenantId: string, position: CursorPosition): string {
  const payload = Buffer.from(JSON.stringify(position)).toString('base64url');
  return `${payload}.${mac(key, tenantId, payload).toString('base64url')}`;
}

/** @throws InvalidRequest (field `cursor`) unless the cursor is one signCursor issued to this tenant. */
export function openCursor(key: string, tenantId: string, cursor: string): CursorPosition {
  const [payload, signature, extra] = cursor.split('.');
  const expected = mac(key, tenantId, payload ?? '');
  const given = Buffer.from(signature ?? '', 'base64url');
  if (extra !== undefined || !payload || given.length !== expected.length || !timingSafeEqual(given, expected))
    throw invalidCursor();
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

function mac(key: string, tenantId: string, payload: string): Buffer {
  return createHmac('sha256', key)
    .update(DOMAIN)
    .update('\u0000')
    .update(tenantId)
    .update('\u0000')
    .update(payload)
    .digest();
}
