/**
 * The task-id keyring: the JSON a Secrets Manager secret holds (in Lambda; the stack generates it at deploy) or the
 * local system passes inline. No SDK import: the stack, the functions and the tools share this shape.
 *
 *   {"active_key_salt": "<salt>", "current": "1", "key_1": "<64 random characters>", "key_2": "…"}
 *
 * - `active_key_salt` keys the digest inside the active item's table key (lambda/shared/task-keys.ts). It is not a
 *   secret (ids no longer carry that digest in the clear) and never changes: it is the key ids were derived with before
 *   the generated secret, so the active items written before an upgrade keep their keys.
 * - `key_<n>` (n = 1…255) are the secret keys: new ids and cursors are made with `key_<current>`; an id or cursor names
 *   the version it was made with, so every key stays in the keyring (rotation adds one, docs/OPERATIONS.md).
 */
export const KeyringField = {
  salt: 'active_key_salt',
  current: 'current',
  keyPrefix: 'key_',
} as const;

/** The key the stack generates at deploy: `key_1`, the first version. */
export const FIRST_KEY_VERSION = 1;
export const MAX_KEY_VERSION = 255;
/** Shorter keys are refused: the generated ones have 64 characters of 62 (about 381 bits). */
export const MIN_KEY_LENGTH = 32;
/** Length of a generated key (Secrets Manager's GenerateSecretString, the rotation tool). */
export const GENERATED_KEY_LENGTH = 64;

export interface Keyring {
  /** Keys the active items' digests; public by design (see above). */
  readonly salt: string;
  /** The version new ids and cursors are made with. */
  readonly current: number;
  /** Every key version still accepted, by version. */
  readonly keys: ReadonlyMap<number, string>;
}

/** The name of key version `version` in the keyring's JSON. */
export function keyField(version: number): string {
  return `${KeyringField.keyPrefix}${version}`;
}

const KEY_FIELD = /^key_([1-9][0-9]{0,2})$/;

/**
 * The keyring a secret string holds. The errors name the field at fault and never echo a value (they end up in logs).
 * @throws Error on anything but the shape above.
 */
export function parseKeyring(secretString: string): Keyring {
  let json: unknown;
  try {
    json = JSON.parse(secretString);
  } catch {
    throw new Error('The task id keyring is not JSON (docs/OPERATIONS.md, "The task id key").');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new Error('The task id keyring is not a JSON object.');
  const fields = json as Record<string, unknown>;
  const salt = fields[KeyringField.salt];
  if (typeof salt !== 'string' || salt.length === 0)
    throw new Error(`The task id keyring has no "${KeyringField.salt}" string.`);
  const current = Number(fields[KeyringField.current]);
  if (!Number.isInteger(current) || current < FIRST_KEY_VERSION || current > MAX_KEY_VERSION)
    throw new Error(`The task id keyring's "${KeyringField.current}" is not a key version (1 to ${MAX_KEY_VERSION}).`);
  const keys = new Map<number, string>();
  for (const [name, value] of Object.entries(fields)) {
    const match = KEY_FIELD.exec(name);
    if (!match) continue;
    const version = Number(match[1]);
    if (version > MAX_KEY_VERSION) throw new Error(`The task id keyring's "${name}" is above key_${MAX_KEY_VERSION}.`);
    if (typeof value !== 'string' || value.length < MIN_KEY_LENGTH)
      throw new Error(`The task id keyring's "${name}" is not a string of at least ${MIN_KEY_LENGTH} characters.`);
    keys.set(version, value);
  }
  if (!keys.has(current))
    throw new Error(`The task id keyring's current version ${current} has no "${keyField(current)}".`);
  return { salt, current, keys };
}

/** The JSON of a keyring, fields in the order above (the rotation tool writes it back). */
export function formatKeyring(keyring: Keyring): string {
  const fields: Record<string, string> = {
    [KeyringField.salt]: keyring.salt,
    [KeyringField.current]: String(keyring.current),
  };
  for (const version of [...keyring.keys.keys()].sort((a, b) => a - b))
    fields[keyField(version)] = keyring.keys.get(version) as string;
  return JSON.stringify(fields);
}
