import {
  ApiError,
  isFinal,
  TaskNotFoundError,
  type StartedAnalysis,
  type Task,
  type TrackingClient,
  type WaitOptions,
} from './tracking-client.js';
import { newIdempotencyKey } from './internal.js';

/** The slice of the Web Storage API this module uses (window.localStorage in a browser). */
export interface KeyValueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/**
 * What a tab learns about a video: its active task id, or undefined once that task has ended. `tenantId` is the
 * call's, else the token's; undefined for entries kept under a token's user.
 */
export interface ActiveTaskChange {
  readonly tenantId: string | undefined;
  readonly videoFilename: string;
  readonly taskId: string | undefined;
}

export interface VideoAnalysesOptions {
  readonly client: TrackingClient;
  /** @default globalThis.localStorage when there is one, else an in-memory map (Node.js) */
  readonly storage?: KeyValueStorage;
  /** Tabs of one origin that share this name see each other's tasks. @default 'video-tracking' */
  readonly channelName?: string;
  /**
   * With a token and no `tenantId`, the token's claim naming the tenant, which keys the stored ids (the stack's
   * `-c tenantClaim`; the server reads it verified, this module only decodes it). @default 'custom:tenant_id'
   */
  readonly tenantClaim?: string;
}

/** A video of the tenant; `tenantId` as in every client call (left out with a token). */
export interface VideoOptions {
  readonly tenantId?: string;
  readonly videoFilename: string;
  readonly signal?: AbortSignal;
}

export interface VideoTaskOptions extends VideoOptions {
  readonly taskId: string;
}

export type FollowOptions = VideoTaskOptions & Omit<WaitOptions, 'taskId' | 'tenantId' | 'signal'>;

const KEY_PREFIX = 'video-tracking:active-task:';

/** A token without the tenant claim: its user (issuer and subject), who belongs to one tenant. */
export interface TokenUser {
  readonly iss: string;
  readonly sub: string;
}

/**
 * Whose stored ids a call reads and writes: the call's tenant, else the token's tenant claim, else the token's
 * user; undefined (nothing stored) for a token that names neither, or no token and no tenant.
 */
type Owner = string | TokenUser | undefined;

/**
 * The localStorage key of a video's active task. Tenant and video both (the guide's `analysis_task_${video}` lets
 * two tenants' same-named videos collide), JSON-encoded so no separator inside a name can make two pairs one key,
 * and the name NFC-normalised as the server does, so an NFD and an NFC spelling share the entry. Not exported by
 * the package (the server has its own, different, active-task key).
 */
export function videoStorageKey(owner: string | TokenUser | undefined, videoFilename: string): string {
  const who = typeof owner === 'object' ? { iss: owner.iss, sub: owner.sub } : (owner ?? null);
  return KEY_PREFIX + JSON.stringify([who, videoFilename.normalize('NFC')]);
}

function memoryStorage(): KeyValueStorage {
  const map = new Map<string, string>();
  return {
    getItem: (k) => map.get(k) ?? null,
    setItem: (k, v) => void map.set(k, v),
    removeItem: (k) => void map.delete(k),
  };
}

/**
 * The guide's client-side advice, done right: one request in flight per (tenant, video) in a tab, the active task id
 * kept under a tenant-and-video key, the stored id checked against the server before use (so a stale entry never
 * hides a finished task) and removed on completed / failed / cancelled, and every tab told of the others' changes.
 */
export function createVideoAnalyses(options: VideoAnalysesOptions) {
  const { client } = options;
  const storage = options.storage ?? (globalThis as { localStorage?: KeyValueStorage }).localStorage ?? memoryStorage();
  const inFlight = new Map<string, Promise<StartedAnalysis>>();
  const listeners = new Set<(change: ActiveTaskChange) => void>();
  // BroadcastChannel reaches the other tabs (and workers) of this origin, in browsers and in Node.js alike.
  const channel =
    typeof BroadcastChannel === 'function' ? new BroadcastChannel(options.channelName ?? 'video-tracking') : undefined;
  // In Node.js an open channel would keep the process alive.
  (channel as { unref?: () => void } | undefined)?.unref?.();
  channel?.addEventListener('message', (event) => {
    const change = (event as unknown as { data: ActiveTaskChange }).data;
    for (const listener of listeners) listener(change);
  });

  const tenantClaim = options.tenantClaim ?? 'custom:tenant_id';

  /**
   * The owner of a call's entries. With a token and no tenant argument, the tenant is the token's (decoded, not
   * verified: it only chooses where this page keeps its own ids), asked anew each call so that another user signing
   * in reads other entries; a token without the claim keys by its user, a token that is no JWT stores nothing.
   */
  async function ownerOf(tenantId: string | undefined): Promise<Owner> {
    if (tenantId !== undefined) return tenantId;
    const claims = await client.tokenClaims();
    const tenant = claims?.[tenantClaim];
    if (typeof tenant === 'string' && tenant !== '') return tenant;
    const { iss, sub } = claims ?? {};
    return typeof iss === 'string' && typeof sub === 'string' && sub !== '' ? { iss, sub } : undefined;
  }

  function read(owner: Owner, videoFilename: string): string | undefined {
    return owner === undefined ? undefined : (storage.getItem(videoStorageKey(owner, videoFilename)) ?? undefined);
  }

  function remember(owner: Owner, videoFilename: string, taskId: string | undefined): void {
    if (owner === undefined) return;
    const key = videoStorageKey(owner, videoFilename);
    if ((storage.getItem(key) ?? undefined) === taskId) return;
    if (taskId === undefined) storage.removeItem(key);
    else storage.setItem(key, taskId);
    const tenantId = typeof owner === 'string' ? owner : undefined;
    channel?.postMessage({ tenantId, videoFilename, taskId } satisfies ActiveTaskChange);
  }

  /** Drops the entry only if it still names this task (another tab may already have stored a newer one). */
  async function forgetIfCurrent({ tenantId, videoFilename, taskId }: VideoTaskOptions): Promise<void> {
    const owner = await ownerOf(tenantId);
    if (read(owner, videoFilename) === taskId) remember(owner, videoFilename, undefined);
  }

  /**
   * The stored task, checked against the server, or null (not undefined: a query function's data may not be
   * undefined); the entry is removed when the task has ended or is unknown.
   */
  async function resumeVideo({ tenantId, videoFilename, signal }: VideoOptions): Promise<Task | null> {
    const taskId = read(await ownerOf(tenantId), videoFilename);
    if (!taskId) return null;
    const task = await client.getTask({ tenantId, taskId, signal }).catch((error: unknown) => {
      if (error instanceof TaskNotFoundError) return undefined;
      throw error;
    });
    if (!task || isFinal(task.status)) {
      await forgetIfCurrent({ tenantId, videoFilename, taskId });
      return null;
    }
    return task;
  }

  async function start(video: VideoOptions): Promise<StartedAnalysis> {
    const active = await resumeVideo(video);
    if (active) return { taskId: active.taskId, status: active.status, created: false, replayed: false };
    // One key per user action: the call's retries resend it, so they can only ever join this action's task.
    const started = await client.startAnalysis({ ...video, idempotencyKey: newIdempotencyKey() });
    remember(await ownerOf(video.tenantId), video.videoFilename, started.taskId);
    return started;
  }

  return {
    resumeVideo,

    /**
     * Starts (or joins) the video's analysis, reusing the stored task while it is active. Calls for the same
     * (tenant, video) while one is in flight share it: a triple click sends one request. Each call is one user
     * action with one idempotency key, kept across the POST's retries.
     */
    analyseVideo(video: VideoOptions): Promise<StartedAnalysis> {
      const key = videoStorageKey(video.tenantId, video.videoFilename);
      let pending = inFlight.get(key);
      if (!pending) {
        pending = start(video).finally(() => inFlight.delete(key));
        inFlight.set(key, pending);
      }
      return pending;
    },

    /** Waits for the video's task to end (client.waitForTask, shared by concurrent calls), then removes its entry. */
    async followVideoTask(follow: FollowOptions): Promise<Task> {
      try {
        const task = await client.waitForTask(follow);
        await forgetIfCurrent(follow);
        return task;
      } catch (error) {
        if (error instanceof TaskNotFoundError) await forgetIfCurrent(follow);
        throw error;
      }
    },

    /**
     * One read of the video's task (one GET, no polling), its entry removed once the task has ended or is unknown:
     * the query function of `videoTaskQueryOptions` (`@video-tracking/client/tanstack`), whose `refetchInterval` is
     * then the only polling loop. Rejects like client.getTask.
     */
    async readVideoTask(video: VideoTaskOptions): Promise<Task> {
      try {
        const task = await client.getTask(video);
        if (isFinal(task.status)) await forgetIfCurrent(video);
        return task;
      } catch (error) {
        if (error instanceof TaskNotFoundError) await forgetIfCurrent(video);
        throw error;
      }
    },

    /** Cancels the video's task and removes its entry; a task that already ended is returned as it ended. */
    async cancelVideoTask(video: VideoTaskOptions): Promise<Task> {
      try {
        const task = await client.cancelTask(video);
        await forgetIfCurrent(video);
        return task;
      } catch (error) {
        if (!(error instanceof ApiError) || error.status !== 409) throw error;
        await forgetIfCurrent(video);
        return client.getTask(video);
      }
    },

    /** The task id stored for the video (the tenant's, or the token's), unchecked: resumeVideo() before acting on it. */
    async storedTaskId({ tenantId, videoFilename }: Omit<VideoOptions, 'signal'>): Promise<string | undefined> {
      return read(await ownerOf(tenantId), videoFilename);
    },

    /** Called when another tab stores or removes a video's task. Returns the unsubscribe function. */
    onOtherTabChange(listener: (change: ActiveTaskChange) => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    close(): void {
      channel?.close();
      listeners.clear();
    },
  };
}

export type VideoAnalyses = ReturnType<typeof createVideoAnalyses>;
