import { TaskErrorName, taskError } from './task-errors';
import { openCursor, signCursor } from './cursor';
import {
  DependencyUnavailable,
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
import { type ActiveTask, type ListStatus, type Task, TaskStatus, isActive } from './task';
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

export type TrackOutcome =
  { readonly kind: 'created'; readonly task: Task } | { readonly kind: 'existing'; readonly task: Task };

/** What the API's rules run on: the recovery's ports and an id generator. */
export interface TaskServiceDeps extends RecoveryDeps {
  readonly newId: IdGenerator;
  /**
   * Signs the listing's cursors (the stack's key, TASK_ID_KEY); not a password, it only makes cursors unforgeable.
   * @default - no listing: `list` throws
   */
  readonly cursorKey?: string;
}

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
  private readonly cursorKey: string | undefined;
  private readonly config: TaskServiceConfig;
  private readonly log: ServiceLog;
  private readonly metrics: ServiceMetrics;

  constructor(deps: TaskServiceDeps) {
    this.recovery = new TaskRecovery(deps);
    this.store = deps.store;
    this.workflow = deps.workflow;
    this.clock = deps.clock;
    this.newId = deps.newId;
    this.cursorKey = deps.cursorKey;
    this.config = this.recovery.config;
    this.log = deps.log ?? SILENT_LOG;
    this.metrics = deps.metrics ?? UNCOUNTED;
  }

  /** POST /api/v1/track: one conditional put decides the race; only the winner starts the workflow. */
  track(request: TrackRequest): Promise<TrackOutcome> {
    return this.trackAttempt(request, 1);
  }

  private async trackAttempt(request: TrackRequest, attempt: number): Promise<TrackOutcome> {
    const now = this.clock.now();
    const epoch = Math.floor(now.getTime() / 1000);
    const at = now.toISOString();
    const task: ActiveTask = {
      taskId: this.newId(request.tenantId, request.videoFilename),
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
    };

    const claim = await this.store.claim(task, epoch + this.config.retentionSeconds);
    let taskKey: string;
    if (claim.won) {
      taskKey = claim.taskKey;
      // A takeover hands the replaced task's slot to this one in the same transaction.
      if (claim.replaced) await this.stopReplaced(claim.replaced);
      else await this.takeSlot(task, taskKey);
    } else if (claim.existing.taskId !== task.taskId) {
      const freed = await this.answerExisting(claim.existing, now);
      // The stranded task turned out dead and was recorded failed: the video is free, claim it again (once).
      if (freed && attempt === 1) return this.trackAttempt(request, 2);
      return { kind: 'existing', task: claim.existing };
    } else {
      // The SDK retried a put whose first attempt had landed: the "winner" is this very request.
      taskKey = this.store.keyOf(task.tenantId, task.videoFilename);
      await this.takeSlot(task, taskKey);
    }

    await this.startCreated(task, taskKey, now);
    return { kind: 'created', task };
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
    const key = this.cursorKey;
    if (!key) throw new Error('TaskService was built without a cursorKey: the listing is not available.');
    const after = request.cursor === undefined ? undefined : openCursor(key, tenantId, request.cursor);
    const page = await this.store.listByTenant({ tenantId, limit: request.limit, status: request.status, after });
    return { tasks: page.tasks, nextCursor: page.next ? signCursor(key, tenantId, page.next) : null };
  }

  /** DELETE: cancelled wins only over an active state; a cancelled task answers the same on every call. */
  async cancel(tenantId: string, taskId: string): Promise<Task> {
    for (let attempt = 1; ; attempt++) {
      const found = await this.store.getById(tenantId, taskId);
      if (!found || found.task.tenantId !== tenantId) throw new TaskNotFound(`task ${taskId}`);
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
      const retryAfterSeconds = compensated ? error.retryAfterSeconds : Math.ceil(this.config.redriveGraceSeconds) + 1;
      throw new DependencyUnavailable(error.dependency, error.operation, {
        cause: error.cause,
        retryAfterSeconds,
        taskId: task.taskId,
      });
    }
  }

  /**
   * Counts the claimed task against its tenant's limit (no limit: nothing to count, no write). Refused or failed, the
   * claim is deleted: nothing is left behind, no execution started. An increment whose answer was lost may have
   * counted it anyway; the sweep reconciles that drift.
   */
  private async takeSlot(task: ActiveTask, taskKey: string): Promise<void> {
    if (!countsTenantTasks(this.config)) return;
    const limit = this.config.tenantActiveTaskLimit;
    let slot;
    try {
      slot = await this.store.takeSlot(task.tenantId, limit, task.createdAt);
    } catch (error) {
      await this.releaseQuietly(task, taskKey);
      throw error;
    }
    if (slot.taken) return;
    await this.store.releaseClaim(task, taskKey);
    this.metrics.count(ServiceEvent.TenantLimitReached);
    throw new TenantQuotaExceeded(limit, slot.activeCount);
  }

  /** Best effort: a claim left behind waits not_started, uncounted, for a re-drive; the sweep then counts it. */
  private async releaseQuietly(task: ActiveTask, taskKey: string): Promise<void> {
    try {
      await this.store.releaseClaim(task, taskKey);
    } catch (error) {
      this.log.error('could not delete a claim that got no slot; left for re-drive', { task_id: task.taskId, error });
    }
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

  /** The replaced task is recorded failed already; its execution, if one still runs, has nothing left to do. */
  private async stopReplaced(replaced: ActiveTask): Promise<void> {
    this.metrics.count(ServiceEvent.LeaseTakeover);
    this.log.warn('replaced an active task whose lease had expired', { task_id: replaced.taskId });
    await this.recovery.stopQuietly(replaced.taskId);
  }
}
