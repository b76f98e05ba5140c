import { createHmac, createSecretKey, type KeyObject, randomBytes } from 'node:crypto';
import { activeTaskKey } from './table';

/**
 * Task ids and the active-task key, derived with the stack's key (Lambda env TASK_ID_KEY). A task id is base64url
 * (no padding) of 32 bytes: 16 random bytes ‖ the video digest, the first 16 bytes of
 * HMAC-SHA256(key, tenant ‖ U+0000 ‖ NFC(video_filename)). So a read by id finds the active item with no link item,
 * an id cannot be guessed (the random half), and it does not reveal its video name (the digest is keyed).
 */
const RANDOM_BYTES = 16;
const DIGEST_BYTES = 16;
/** 32 bytes in base64url without padding; within Step Functions' 80-character execution names. */
export const TASK_ID_LENGTH = 43;
const TASK_ID_ALPHABET = /^[A-Za-z0-9_-]+$/;

/** Ids' random bytes are drawn this many ids at a time: one CSPRNG call per draw (as Node's randomUUID buffers). */
const IDS_PER_DRAW = 256;
let randomPool = Buffer.alloc(0);
let poolOffset = 0;

/**
 * 16 fresh random bytes for a task id. Every POST makes an id before its claim decides whether it is needed, so this
 * is on the duplicate path: one randomBytes call per id cost more than the id's HMAC.
 */
function idRandomBytes(): Buffer {
  if (poolOffset + RANDOM_BYTES > randomPool.length) {
    randomPool = randomBytes(RANDOM_BYTES * IDS_PER_DRAW);
    poolOffset = 0;
  }
  const bytes = randomPool.subarray(poolOffset, poolOffset + RANDOM_BYTES);
  poolOffset += RANDOM_BYTES;
  return bytes;
}

export class TaskKeys {
  private readonly key: KeyObject;
  /** The last digest computed: a POST derives its new task id and its active key from the same (tenant, video). */
  private last?: { tenantId: string; videoFilename: string; digest: Buffer };

  constructor(key: string) {
    if (!key) throw new Error('The task id key is empty; the stack sets TASK_ID_KEY for every function.');
    // Imported once: HMAC over a string key would import it again on every digest.
    this.key = createSecretKey(Buffer.from(key, 'utf8'));
  }

  /** base64url of the first 16 bytes of the keyed digest of (tenant, video). */
  videoDigest(tenantId: string, videoFilename: string): string {
    return this.digestBytes(tenantId, videoFilename).toString('base64url');
  }

  /** A new task id for (tenant, video); `random` is only given by tests that need a fixed id. */
  newTaskId(tenantId: string, videoFilename: string, random: Buffer = idRandomBytes()): string {
    if (random.length !== RANDOM_BYTES) throw new Error(`a task id takes ${RANDOM_BYTES} random bytes`);
    return Buffer.concat([random, this.digestBytes(tenantId, videoFilename)]).toString('base64url');
  }

  /** The partition key of the active item of (tenant, video). */
  activeKey(tenantId: string, videoFilename: string): string {
    return activeTaskKey(tenantId, this.videoDigest(tenantId, videoFilename));
  }

  /** The active item's key a task of this tenant with this id would have; undefined for a malformed id. */
  activeKeyOfId(tenantId: string, taskId: string): string | undefined {
    const digest = videoDigestOfId(taskId);
    return digest === undefined ? undefined : activeTaskKey(tenantId, digest);
  }

  private digestBytes(tenantId: string, videoFilename: string): Buffer {
    const last = this.last;
    if (last && last.tenantId === tenantId && last.videoFilename === videoFilename) return last.digest;
    const digest = createHmac('sha256', this.key)
      .update(`${tenantId}\u0000${videoFilename.normalize('NFC')}`, 'utf8')
      .digest()
      .subarray(0, DIGEST_BYTES);
    this.last = { tenantId, videoFilename, digest };
    return digest;
  }
}

/** The video digest a task id carries (base64url); undefined unless the id is exactly what newTaskId makes. */
export function videoDigestOfId(taskId: string): string | undefined {
  if (taskId.length !== TASK_ID_LENGTH || !TASK_ID_ALPHABET.test(taskId)) return undefined;
  const bytes = Buffer.from(taskId, 'base64url');
  // The last character holds 2 unused bits: only one spelling of the 32 bytes is an id.
  if (bytes.length !== RANDOM_BYTES + DIGEST_BYTES || bytes.toString('base64url') !== taskId) return undefined;
  return bytes.subarray(RANDOM_BYTES).toString('base64url');
}
