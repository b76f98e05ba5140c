import { createHash } from 'node:crypto';
import { TaskErrorName, taskError } from './task-errors';
import { openCursor, signCursor } from './cursor';
import type { CursorKeys } from '../shared/task-keys';
import {
  AdmissionPending,
  DependencyUnavailable,
  IdempotencyKeyMismatch,
  TaskAlreadyFinished,
  TaskNotFound,
  TaskNotInExpectedState,
  TenantQuotaExceeded,
  WorkflowAlreadyStarted,
} from './errors';
import {
  type IdGenerator,
  ServiceEvent,
  type ServiceLog,
  type ServiceMetrics,
  type TaskStore,
  type Workflow,
} from './ports';
import { type ActiveTask, admitted, type ListStatus, type Task, TaskStatus, isActive } from './task';
import {
  countsTenantTasks,
  MAX_FINISH_ATTEMPTS,
  type RecoveryDeps,
  SILENT_LOG,
  type TaskServiceConfig,
  TaskRecovery,
  UNCOUNTED,
  workflowInput,
} from './task-recovery';
import type { TrackRequest } from './validation';

export { countsTenantTasks, DEFAULT_TASK_SERVICE_CONFIG, type TaskServiceConfig } from './task-recovery';

/**
 * `existing`: the video's active task (`replayed` when the request repeats an Idempotency-Key that leads to it);
 * `replayed`: the Idempotency-Key's task, which has ended since.
 */
export type TrackOutcome =
  | { readonly kind: 'created'; readonly task: Task }
  | { readonly kind: 'existing'; readonly task: Task; readonly replayed?: true }
  | { readonly kind: 'replayed'; readonly task: Task };

export interface TrackOptions {
  /** The request's Idempotency-Key (the header's value, unquoted); none: the video's rules alone. */
  readonly idempotencyKey?: string;
}

/** Errors the API answered with a non-2xx before the task ran (503, 429): a retry under the key may start afresh. */
const NOT_RUN: readonly string[] = [TaskErrorName.WorkflowNotStarted, TaskErrorName.TenantQuotaExceeded];

/** What makes two requests under one Idempotency-Key the same: the tenant and the normalised filename. */
export function requestHashOf(request: TrackRequest): string {
  return createHash('sha256').update(`${request.tenantId}\u0000${request.videoFilename}`, 'utf8').digest('base64url');
}

/** What the API's rules run on: the recovery's ports and an id generator. */
export interface TaskServiceDeps extends RecoveryDeps {
  readonly newId: IdGenerator;
  /**
   * Sign and open the listing's cursors (the keyring's cursor keys, lambda/shared/task-keys.ts); they only make cursors
   * unforgeable and bound to their tenant.
   * @default - no listing: `list` throws
   */
  readonly cursorKeys?: CursorKeys;
  /**
   * Waits between the reads of a cancel that found its task pending admission.
   * @default - setTimeout
   */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** A cancel that finds its task pending admission reads it again after these waits (ms), then answers 409. */
const ADMISSION_WAITS_MS = [50, 100, 200, 400];

export interface ListRequest {
  readonly limit: number;
  readonly status?: ListStatus;
  /** The previous page's `nextCursor`, unchanged. */
  readonly cursor?: string;
}

export interface TaskList {
  readonly tasks: readonly Task[];
  readonly nextCursor: string | null;
}

/**
 * The idempotent task rules of the API: create, read, cancel. Pure TypeScript: the same instance shape runs in
 * Lambda, under `npm start` and in tests. What goes wrong after a create is TaskRecovery's (`recovery`).
 */
export class TaskService {
  /** Re-drive, compensation, finalize and repair, on the same ports. */
  readonly recovery: TaskRecovery;
  private readonly store: TaskStore;
  private readonly workflow: Workflow;
  private readonly clock: RecoveryDeps['clock'];
  private readonly newId: IdGenerator;
  private readonly cursorKeys: CursorKeys | undefined;
  private readonly config: TaskServiceConfig;
  private readonly log: ServiceLog;
  private readonly metrics: ServiceMetrics;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(deps: TaskServiceDeps) {
    this.recovery = new TaskRecovery(deps);
    this.store = deps.store;
    this.workflow = deps.workflow;
    this.clock = deps.clock;
    this.newId = deps.newId;
    this.cursorKeys = deps.cursorKeys;
    this.config = this.recovery.config;
    this.log = deps.log ?? SILENT_LOG;
    this.metrics = deps.metrics ?? UNCOUNTED;
    this.sleep = deps.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /**
   * POST /api/v1/track: one conditional put decides the race; only the winner starts the workflow. With an
   * Idempotency-Key, the key is written first, holding the id the new task will take.
   */
  track(request: TrackRequest, options: TrackOptions = {}): Promise<TrackOutcome> {
    const key = options.idempotencyKey;
    return key === undefined ? this.trackAttempt(request, 1) : this.trackKeyed(request, key, 1);
  }

  /**
   * The key is reserved before the claim, holding the id the new task will take, so a crash between the two leaves
   * a key whose retry creates that very task. A held key with the same request: its task's final record (one read)
   * is the answer; none yet, the task is active (or was never claimed) and the ordinary claim answers, with that id.
   */
  private async trackKeyed(request: TrackRequest, key: string, attempt: number): Promise<TrackOutcome> {
    const epoch = Math.floor(this.clock.now().getTime() / 1000);
    const requestHash = requestHashOf(request);
    const taskId = this.newId(request.tenantId, request.videoFilename);
    const reservation = await this.store.reserveIdempotencyKey({
      tenantId: request.tenantId,
      key,
      taskId,
      requestHash,
      now: epoch,
      expiresAt: epoch + this.config.idempotencyRetentionSeconds,
    });
    if (reservation.reserved) return this.trackUnderKey(request, key, taskId, false);
    const held = reservation.existing;
    if (held.requestHash !== requestHash) throw new IdempotencyKeyMismatch();
    const final = await this.store.getFinal(held.taskId);
    if (final?.tenantId !== request.tenantId) return this.trackUnderKey(request, key, held.taskId, true);
    if (!NOT_RUN.includes(final.error?.error ?? '')) return { kind: 'replayed', task: final };
    // The key's task never ran and its answer (503, 429) asked for a retry: this one gets a new task. The key moves
    // first, so a crash after it leaves a key whose next retry creates the new task itself.
    if (await this.store.repointIdempotencyKey(request.tenantId, key, held.taskId, taskId))
      return this.trackUnderKey(request, key, taskId, false);
    // Another retry moved the key meanwhile: answer what it points at now.
    if (attempt >= 2) throw new DependencyUnavailable('dynamodb', 'UpdateItem');
    return this.trackKeyed(request, key, attempt + 1);
  }

  /** The ordinary claim with the key's task id; a key whose request was answered with another task points at it. */
  private async trackUnderKey(
    request: TrackRequest,
    key: string,
    taskId: string,
    replay: boolean,
  ): Promise<TrackOutcome> {
    const outcome = await this.trackAttempt(request, 1, taskId);
    if (outcome.task.taskId !== taskId)
      await this.store.repointIdempotencyKey(request.tenantId, key, taskId, outcome.task.taskId);
    return replay && outcome.kind === 'existing' ? { ...outcome, replayed: true } : outcome;
  }

  /** `taskId`: the id an Idempotency-Key holds for the new task; a new one otherwise. */
  private async trackAttempt(request: TrackRequest, attempt: number, taskId?: string): Promise<TrackOutcome> {
    const now = this.clock.now();
    const epoch = Math.floor(now.getTime() / 1000);
    const at = now.toISOString();
    const task: ActiveTask = {
      taskId: taskId ?? this.newId(request.tenantId, request.videoFilename),
      tenantId: request.tenantId,
      videoFilename: request.videoFilename,
      status: TaskStatus.NotStarted,
      createdAt: at,
      updatedAt: at,
      leaseExpiresAt: epoch + this.config.workflowTimeoutSeconds + this.config.leaseMarginSeconds,
      // The workflow has no epoch clock, so its final records expire at this. An execution ends within the timeout
      // of its start, and starts (or is re-driven) within the margin: the record lives at least the retention past
      // its end.
      retainUntil:
        epoch + this.config.workflowTimeoutSeconds + this.config.leaseMarginSeconds + this.config.retentionSeconds,
      // Under a limit the claim is pending until its admission takes a slot (or its refusal records it failed).
      ...(countsTenantTasks(this.config) ? { admissionPending: true } : {}),
    };

    const claim = await this.store.claim(task, epoch + this.config.retentionSeconds);
    let taskKey: string;
    if (claim.won) {
      taskKey = claim.taskKey;
      // A takeover hands the replaced task's slot to this one in the same transaction.
      if (claim.replaced) await this.stopReplaced(claim.replaced);
      else {
        const decided = await this.admitClaim(task, taskKey, now);
        if (decided) return decided;
      }
    } else if (claim.existing.taskId !== task.taskId || claim.existing.createdAt !== task.createdAt) {
      // (The same id from another request: a retry under an Idempotency-Key claimed the key's task first.)
      const freed = await this.answerExisting(claim.existing, now);
      // The stranded task turned out dead and was recorded failed: the video is free, claim it again (once, with a new
      // id: the dead one has its final record).
      if (freed && attempt === 1) return this.trackAttempt(request, 2);
      return { kind: 'existing', task: claim.existing };
    } else {
      // The SDK retried a put whose first attempt had landed: the "winner" is this very request.
      taskKey = this.store.keyOf(task.tenantId, task.videoFilename);
      const decided = await this.admitClaim(task, taskKey, now);
      if (decided) return decided;
    }

    await this.startCreated(task, taskKey, now);
    return { kind: 'created', task: admitted(task) };
  }

  async get(tenantId: string, taskId: string): Promise<Task> {
    const found = await this.store.getById(tenantId, taskId);
    if (!found || found.task.tenantId !== tenantId) throw new TaskNotFound(`task ${taskId}`);
    return found.task;
  }

  async getActive(tenantId: string, videoFilename: string): Promise<Task> {
    const active = await this.store.getActive(tenantId, videoFilename);
    if (!active) throw new TaskNotFound('active task for this video');
    return active;
  }

  /** GET /api/v1/track without a video: the tenant's tasks, newest first; a cursor is only valid for its tenant. */
  async list(tenantId: string, request: ListRequest): Promise<TaskList> {
    const key = this.cursorKeys;
    if (!key) throw new Error('TaskService was built without cursorKeys: the listing is not available.');
    const after = request.cursor === undefined ? undefined : await openCursor(key, tenantId, request.cursor);
    const page = await this.store.listByTenant({ tenantId, limit: request.limit, status: request.status, after });
    return { tasks: page.tasks, nextCursor: page.next ? signCursor(key, tenantId, page.next) : null };
  }

  /** DELETE: cancelled wins only over an active state; a cancelled task answers the same on every call. */
  async cancel(tenantId: string, taskId: string): Promise<Task> {
    let waits = 0;
    for (let attempt = 1; ; attempt++) {
      const found = await this.store.getById(tenantId, taskId);
      if (!found || found.task.tenantId !== tenantId) throw new TaskNotFound(`task ${taskId}`);
      if ((found.task as ActiveTask).admissionPending) {
        // Not counted yet, so not cancellable: its end would give back a slot it never took. Its admission or refusal
        // lands within the claiming request; wait for it, a few reads, and leave a stuck one to its re-drive.
        const wait = ADMISSION_WAITS_MS[waits++];
        if (wait === undefined) throw new AdmissionPending(taskId, this.pastRedriveGrace());
        await this.sleep(wait);
        attempt--;
        continue;
      }
      if (found.task.status === TaskStatus.Cancelled) {
        // On a second pass our own cancel may have landed with its answer lost: make sure the execution stops.
        if (attempt > 1) await this.recovery.stopQuietly(taskId);
        return found.task;
      }
      if (!found.taskKey || !isActive(found.task.status)) throw new TaskAlreadyFinished(found.task);
      try {
        const cancelled = await this.recovery.finishAsRead(
          found.task,
          found.taskKey,
          TaskStatus.Cancelled,
          taskError(TaskErrorName.Cancelled),
        );
        await this.recovery.stopQuietly(taskId);
        return cancelled;
      } catch (error) {
        // The task moved on (started running or finished) between our read and our write: read again.
        if (!(error instanceof TaskNotInExpectedState) || attempt >= MAX_FINISH_ATTEMPTS) throw error;
      }
    }
  }

  private async startCreated(task: ActiveTask, taskKey: string, now: Date): Promise<void> {
    try {
      await this.workflow.start(workflowInput(task, taskKey));
    } catch (error) {
      if (error instanceof WorkflowAlreadyStarted) return;
      const compensated = await this.recovery.compensate(task, taskKey, now, error);
      if (!(error instanceof DependencyUnavailable)) throw error;
      // Not compensated, the task stays not_started until a re-drive after the grace period: a retry any sooner would
      // only be told "in progress" about a task nothing has started yet.
      const retryAfterSeconds = compensated ? error.retryAfterSeconds : this.pastRedriveGrace();
      throw new DependencyUnavailable(error.dependency, error.operation, {
        cause: error.cause,
        retryAfterSeconds,
        taskId: task.taskId,
      });
    }
  }

  /**
   * Decides the new claim's admission under its tenant's limit (no limit: nothing to count, no write). Admitted: the
   * caller starts it. Refused: it is recorded failed (TenantQuotaExceeded), so every id handed out for it resolves,
   * and the answer is 429. Undecided (a write failed): the claim stays pending, never started uncounted, and a re-drive
   * after the grace period decides it; the answer is 503 with a Retry-After past that grace.
   * @returns the answer when the claim was decided elsewhere meanwhile; undefined when admitted.
   */
  private async admitClaim(task: ActiveTask, taskKey: string, now: Date): Promise<TrackOutcome | undefined> {
    if (!countsTenantTasks(this.config)) return undefined;
    const limit = this.config.tenantActiveTaskLimit;
    let admission;
    try {
      admission = await this.recovery.admitOrRefuse(task, taskKey, now);
    } catch (error) {
      if (!(error instanceof DependencyUnavailable)) throw error;
      throw new DependencyUnavailable(error.dependency, error.operation, {
        cause: error.cause,
        retryAfterSeconds: this.pastRedriveGrace(),
        taskId: task.taskId,
      });
    }
    if (admission.outcome === 'admitted') return undefined;
    if (admission.outcome === 'refused') throw new TenantQuotaExceeded(limit, admission.activeCount);
    // A re-drive decided it first (this request outlived the grace period): answer what it decided.
    const found = await this.store.getById(task.tenantId, task.taskId);
    if (found?.task.error?.error === TaskErrorName.TenantQuotaExceeded) throw new TenantQuotaExceeded(limit, limit);
    // Decided means recorded: an admitted task is active or has its final record, a refused one its record.
    if (!found) throw new Error(`task ${task.taskId} was decided elsewhere and then not found`);
    return { kind: 'existing', task: found.task };
  }

  /**
   * Repairs what a duplicate can see is wrong with the winner. A racing duplicate writes nothing more: the winner's
   * id leads to its active item by itself. @returns true when the winner was dead and is now freed.
   */
  private async answerExisting(existing: ActiveTask, now: Date): Promise<boolean> {
    if (existing.status !== TaskStatus.NotStarted) return false;
    const ageSeconds = (now.getTime() - Date.parse(existing.createdAt)) / 1000;
    if (ageSeconds <= this.config.redriveGraceSeconds) return false;
    return ['ended', 'ran-elsewhere'].includes(await this.recovery.redrive(existing, now));
  }

  /** Seconds until a task left not_started is re-driven: the Retry-After of every answer that leaves one behind. */
  private pastRedriveGrace(): number {
    return Math.ceil(this.config.redriveGraceSeconds) + 1;
  }

  /** The replaced task is recorded failed already; its execution, if one still runs, has nothing left to do. */
  private async stopReplaced(replaced: ActiveTask): Promise<void> {
    this.metrics.count(ServiceEvent.LeaseTakeover);
    this.log.warn('replaced an active task whose lease had expired', { task_id: replaced.taskId });
    await this.recovery.stopQuietly(replaced.taskId);
  }
}
