import { InvalidRequest } from '../core/errors';

/** The draft's bound on a key (IETF httpapi "The Idempotency-Key HTTP Header Field"); longer is 400. */
export const IDEMPOTENCY_KEY_MAX_LENGTH = 255;
export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';

/** RFC 8941 sf-string: printable ASCII between quotes, `\"` and `\\` the only escapes. */
const SF_STRING = /^"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"$/;
/** A bare value, as most clients (Stripe's among them) send a UUID: visible ASCII without quotes, commas or spaces. */
const BARE = /^[\x21\x23-\x2b\x2d-\x7e]+$/;

/**
 * The key of an Idempotency-Key header: the content of its sf-string, or a bare value taken as it stands (so `"abc"`
 * and `abc` are one key). Absent: undefined. Empty, longer than 255 characters or malformed: InvalidRequest.
 */
export function parseIdempotencyKey(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  const quoted = SF_STRING.exec(trimmed);
  const key = quoted ? quoted[1]!.replace(/\\(["\\])/g, '$1') : BARE.test(trimmed) ? trimmed : undefined;
  if (key === undefined)
    throw new InvalidRequest(
      IDEMPOTENCY_KEY_HEADER,
      `${IDEMPOTENCY_KEY_HEADER} must be a quoted string ("...") of printable ASCII, or a bare value of visible ASCII without quotes, commas or spaces.`,
    );
  if (key === '') throw new InvalidRequest(IDEMPOTENCY_KEY_HEADER, `${IDEMPOTENCY_KEY_HEADER} must not be empty.`);
  if (key.length > IDEMPOTENCY_KEY_MAX_LENGTH)
    throw new InvalidRequest(
      IDEMPOTENCY_KEY_HEADER,
      `${IDEMPOTENCY_KEY_HEADER} must be at most ${IDEMPOTENCY_KEY_MAX_LENGTH} characters.`,
    );
  return key;
}
