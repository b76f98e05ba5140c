import {
  type Cipheriv,
  createCipheriv,
  createHmac,
  createSecretKey,
  hkdfSync,
  type KeyObject,
  randomBytes,
} from 'node:crypto';
import type { Keyring } from './keyring';
import { activeTaskKey } from './table';

/**
 * Task ids and the active-task key, from the keyring (lambda/shared/keyring.ts; docs/ARCHITECTURE.md, "Task ids").
 *
 * - The active item of (tenant, video) has the key ACTIVE#tenant#digest, where digest is the first 16 bytes of
 *   HMAC-SHA256(salt, tenant ‖ U+0000 ‖ NFC(video_filename)): every claim of one video meets the same item.
 * - A task id is base64url (44 characters) of 33 bytes: version ‖ nonce ‖ sealed digest, where nonce is 16 random bytes
 *   and sealed = digest XOR AES-256(idKey(version), nonce). The nonce makes an id unguessable and two ids of one video
 *   unrelated; the secret key hides the digest, so an id reveals nothing of its video name even to whoever knows the
 *   salt. A read by id unseals the digest and finds the active item with no link item.
 * - An id made before the keyring (43 characters) is nonce ‖ digest in the clear, the digest under the same salt: it
 *   is still read, and a claim of its video still meets its active item.
 */
const NONCE_BYTES = 16;
const DIGEST_BYTES = 16;
/** The ids made today: version byte, nonce, sealed digest. Within Step Functions' 80-character execution names. */
export const TASK_ID_LENGTH = 44;
/** The ids made before the keyring (nonce ‖ digest); still read. */
export const LEGACY_TASK_ID_LENGTH = 43;
const TASK_ID_ALPHABET = /^[A-Za-z0-9_-]+$/;

/** HKDF "info" of each use of a secret key: the id seal and the cursor signature never share key material. */
const ID_KEY_INFO = 'video-tracking/task-id/v1';
const CURSOR_KEY_INFO = 'video-tracking/list-cursor/v1';

/** Ids' random bytes are drawn this many ids at a time: one CSPRNG call per draw (as Node's randomUUID buffers). */
const IDS_PER_DRAW = 256;
let randomPool = Buffer.alloc(0);
let poolOffset = 0;

/**
 * 16 fresh random bytes for a task id. Every POST makes an id before its claim decides whether it is needed, so this
 * is on the duplicate path: one randomBytes call per id cost more than the id's HMAC.
 */
function idRandomBytes(): Buffer {
  if (poolOffset + NONCE_BYTES > randomPool.length) {
    randomPool = randomBytes(NONCE_BYTES * IDS_PER_DRAW);
    poolOffset = 0;
  }
  const bytes = randomPool.subarray(poolOffset, poolOffset + NONCE_BYTES);
  poolOffset += NONCE_BYTES;
  return bytes;
}

/** The keys the listing's cursors are signed with (lambda/core/cursor.ts); TaskKeys is the one implementation. */
export interface CursorKeys {
  /** The version new cursors name, and its key. */
  cursorSigningKey(): { readonly version: number; readonly key: KeyObject };
  /** The key of `version`, reading the keyring again once if this one does not have it. */
  cursorKey(version: number): Promise<KeyObject | undefined>;
  /** The key of cursors issued before versions existed: the salt (lambda/core/cursor.ts says why that is harmless). */
  legacyCursorKey(): string;
}

export interface TaskKeysOptions {
  /**
   * Reads the keyring again: called when an id or a cursor names a version this keyring does not have (a rotation
   * after this instance started; docs/OPERATIONS.md, "The task id key"); concurrent callers share one call. It decides
   * how often it really reads, and throws when it will not (lambda/adapters/task-id-keyring.ts: a 503 within 30 s of
   * the last read), so a version it has not read yet is never answered as unknown.
   * @default - none: an unknown version stays unknown
   */
  readonly reload?: () => Promise<Keyring>;
}

interface VersionKeys {
  /** AES-256-ECB under the version's id key: stateless block by block, so one instance serves every id. */
  readonly id: Cipheriv;
  readonly cursor: KeyObject;
}

export class TaskKeys implements CursorKeys {
  private salt!: KeyObject;
  private saltText!: string;
  private current!: number;
  private versions!: ReadonlyMap<number, VersionKeys>;
  private reloading?: Promise<void>;
  /** The last digest computed: a POST derives its new task id and its active key from the same (tenant, video). */
  private last?: { tenantId: string; videoFilename: string; digest: Buffer };

  constructor(
    keyring: Keyring,
    private readonly options: TaskKeysOptions = {},
  ) {
    this.use(keyring);
  }

  /** The version new ids and cursors are made with. */
  get currentVersion(): number {
    return this.current;
  }

  /** base64url of the first 16 bytes of the salted digest of (tenant, video). */
  videoDigest(tenantId: string, videoFilename: string): string {
    return this.digestBytes(tenantId, videoFilename).toString('base64url');
  }

  /** A new task id for (tenant, video); `nonce` is only given by tests that need a fixed id. */
  newTaskId(tenantId: string, videoFilename: string, nonce: Buffer = idRandomBytes()): string {
    if (nonce.length !== NONCE_BYTES) throw new Error(`a task id takes ${NONCE_BYTES} random bytes`);
    const keys = this.versions.get(this.current) as VersionKeys;
    const sealed = xor(this.digestBytes(tenantId, videoFilename), keystream(keys.id, nonce));
    return Buffer.concat([Buffer.of(this.current), nonce, sealed]).toString('base64url');
  }

  /** The partition key of the active item of (tenant, video). */
  activeKey(tenantId: string, videoFilename: string): string {
    return activeTaskKey(tenantId, this.videoDigest(tenantId, videoFilename));
  }

  /**
   * The active item's key a task of this tenant with this id would have, with the keys loaded now; undefined for a
   * malformed id or one naming a version this keyring does not have.
   */
  activeKeyOfId(tenantId: string, taskId: string): string | undefined {
    const digest = this.videoDigestOfId(taskId);
    return digest === undefined ? undefined : activeTaskKey(tenantId, digest);
  }

  /**
   * As activeKeyOfId, reading the keyring again when the id names a version it lacks.
   * @throws what `reload` throws (a 503 for the API: Secrets Manager failed, or was read less than 30 s ago)
   */
  async resolveActiveKeyOfId(tenantId: string, taskId: string): Promise<string | undefined> {
    const opened = this.openId(taskId);
    if (opened && 'unknownVersion' in opened && !(await this.reloadFor(opened.unknownVersion))) return undefined;
    return this.activeKeyOfId(tenantId, taskId);
  }

  /**
   * The video digest an id carries (base64url): in the clear in an id of 43 characters, sealed under its version's key
   * in one of 44. undefined unless the id is exactly what newTaskId makes (or made before the keyring) and its version
   * is loaded.
   */
  videoDigestOfId(taskId: string): string | undefined {
    const opened = this.openId(taskId);
    return opened && 'digest' in opened ? opened.digest : undefined;
  }

  private openId(taskId: string): { digest: string } | { unknownVersion: number } | undefined {
    const bytes = canonicalIdBytes(taskId);
    if (bytes === undefined) return undefined;
    if (bytes.length === NONCE_BYTES + DIGEST_BYTES)
      return { digest: bytes.subarray(NONCE_BYTES).toString('base64url') };
    const version = bytes[0] as number;
    const keys = this.versions.get(version);
    if (!keys) return { unknownVersion: version };
    const nonce = bytes.subarray(1, 1 + NONCE_BYTES);
    return { digest: xor(bytes.subarray(1 + NONCE_BYTES), keystream(keys.id, nonce)).toString('base64url') };
  }

  cursorSigningKey(): { version: number; key: KeyObject } {
    return { version: this.current, key: (this.versions.get(this.current) as VersionKeys).cursor };
  }

  async cursorKey(version: number): Promise<KeyObject | undefined> {
    const known = this.versions.get(version);
    if (known) return known.cursor;
    return (await this.reloadFor(version)) ? this.versions.get(version)?.cursor : undefined;
  }

  legacyCursorKey(): string {
    return this.saltText;
  }

  /** True once the keyring holds `version`, after reading it again (concurrent callers share one read). */
  private async reloadFor(version: number): Promise<boolean> {
    const { reload } = this.options;
    if (!reload) return false;
    if (!this.reloading) {
      this.reloading = reload()
        .then((keyring) => this.use(keyring))
        .finally(() => {
          this.reloading = undefined;
        });
    }
    await this.reloading;
    return this.versions.has(version);
  }

  private use(keyring: Keyring): void {
    // A changed salt would give every video a new active key: a second active task beside each one.
    if (this.saltText !== undefined && keyring.salt !== this.saltText)
      throw new Error('The task id keyring changed its active_key_salt: it must never change.');
    if (!keyring.keys.has(keyring.current)) throw new Error(`The task id keyring has no key ${keyring.current}.`);
    const versions = new Map<number, VersionKeys>();
    for (const [version, key] of keyring.keys) {
      versions.set(version, { id: blockCipher(derive(key, ID_KEY_INFO)), cursor: derive(key, CURSOR_KEY_INFO) });
    }
    // Imported once: HMAC over a string key would import it again on every digest.
    this.salt = createSecretKey(Buffer.from(keyring.salt, 'utf8'));
    this.saltText = keyring.salt;
    this.current = keyring.current;
    this.versions = versions;
  }

  private digestBytes(tenantId: string, videoFilename: string): Buffer {
    const last = this.last;
    if (last && last.tenantId === tenantId && last.videoFilename === videoFilename) return last.digest;
    const digest = createHmac('sha256', this.salt)
      .update(`${tenantId}\u0000${videoFilename.normalize('NFC')}`, 'utf8')
      .digest()
      .subarray(0, DIGEST_BYTES);
    this.last = { tenantId, videoFilename, digest };
    return digest;
  }
}

/** The bytes of an id of either length; undefined unless it is the one base64url spelling of them. */
function canonicalIdBytes(taskId: string): Buffer | undefined {
  if ((taskId.length !== TASK_ID_LENGTH && taskId.length !== LEGACY_TASK_ID_LENGTH) || !TASK_ID_ALPHABET.test(taskId))
    return undefined;
  const bytes = Buffer.from(taskId, 'base64url');
  // A 43-character id's last character holds 2 unused bits: only one spelling of the 32 bytes is an id.
  if (bytes.toString('base64url') !== taskId) return undefined;
  if (bytes.length === 1 + NONCE_BYTES + DIGEST_BYTES && bytes[0] === 0) return undefined;
  return bytes;
}

function derive(key: string, info: string): KeyObject {
  return createSecretKey(Buffer.from(hkdfSync('sha256', Buffer.from(key, 'utf8'), Buffer.alloc(0), info, 32)));
}

/**
 * AES-256 in ECB mode without padding: each 16-byte update is one block, independent of the ones before, so a single
 * cipher is reused (creating one per id cost about as much as the id's HMAC).
 */
function blockCipher(key: KeyObject): Cipheriv {
  return createCipheriv('aes-256-ecb', key, null).setAutoPadding(false);
}

/** AES-256 of the nonce: one block of keystream (the nonce is random per id, so no two ids share a block). */
function keystream(cipher: Cipheriv, nonce: Buffer): Buffer {
  return cipher.update(nonce);
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = (a[i] as number) ^ (b[i] as number);
  return out;
}
