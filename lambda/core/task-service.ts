import {
  DependencyUnavailable,
  TaskAlreadyActive,
  TaskAlreadyFinished,
  TaskNotFound,
  TaskNotInExpectedState,
  WorkflowAlreadyStarted,
} from './errors';
import { type Clock, type ExecutionState, type IdGenerator, ServiceEvent, type ServiceMetrics, type TaskStore, type Workflow } from './ports';
import { type ActiveTask, type Task, type TaskError, TaskStatus, type WorkflowInput, isActive } from './task';
import type { TrackRequest } from './validation';

export interface TaskServiceConfig {
  /** A `not_started` task older than this has lost its start (crash or failed StartExecution) and is started again. */
  readonly redriveGraceSeconds: number;
  /** The state machine's TimeoutSeconds: no execution lives longer. */
  readonly workflowTimeoutSeconds: number;
  /** Past timeout + margin an active task no longer blocks its video. */
  readonly leaseMarginSeconds: number;
  /** How long a finished task stays readable. */
  readonly retentionSeconds: number;
}

export const DEFAULT_TASK_SERVICE_CONFIG: TaskServiceConfig = {
  redriveGraceSeconds: 10,
  workflowTimeoutSeconds: 3600,
  leaseMarginSeconds: 300,
  retentionSeconds: 30 * 24 * 3600,
};

export type TrackOutcome = { readonly kind: 'created'; readonly task: Task } | { readonly kind: 'existing'; readonly task: Task };

/** Logger surface the service needs; Powertools' Logger satisfies it. */
export interface ServiceLog {
  info(message: string, extra: Record<string, unknown>): void;
  warn(message: string, extra: Record<string, unknown>): void;
  error(message: string, extra: Record<string, unknown>): void;
}

const silent: ServiceLog = { info() {}, warn() {}, error() {} };
const uncounted: ServiceMetrics = { count() {} };
const MAX_FINISH_ATTEMPTS = 3;

/** The idempotent task rules. Pure TypeScript: the same instance shape runs in Lambda, under `npm start` and in tests. */
export class TaskService {
  constructor(
    private readonly store: TaskStore,
    private readonly workflow: Workflow,
    private readonly clock: Clock,
    private readonly newId: IdGenerator,
    private readonly config: TaskServiceConfig = DEFAULT_TASK_SERVICE_CONFIG,
    private readonly log: ServiceLog = silent,
    private readonly metrics: ServiceMetrics = uncounted,
  ) {}

  /** POST /api/v1/track: one conditional put decides the race; only the winner starts the workflow. */
  track(request: TrackRequest): Promise<TrackOutcome> {
    return this.trackAttempt(request, 1);
  }

  private async trackAttempt(request: TrackRequest, attempt: number): Promise<TrackOutcome> {
    const now = this.clock.now();
    const epoch = Math.floor(now.getTime() / 1000);
    const task: ActiveTask = {
      taskId: this.newId(),
      tenantId: request.tenantId,
      videoFilename: request.videoFilename,
      status: TaskStatus.NotStarted,
      createdAt: now.toISOString(),
      updatedAt: now.toISOString(),
      leaseExpiresAt: epoch + this.config.workflowTimeoutSeconds + this.config.leaseMarginSeconds,
      // The workflow has no epoch clock, so its final records expire at this. An execution ends within the timeout
      // of its start, and starts (or is re-driven) within the margin: the record lives at least the retention past
      // its end.
      retainUntil: epoch + this.config.workflowTimeoutSeconds + this.config.leaseMarginSeconds + this.config.retentionSeconds,
    };

    let taskKey: string;
    try {
      const claim = await this.store.claim(task, epoch + this.config.retentionSeconds);
      taskKey = claim.taskKey;
      if (claim.replaced) await this.stopReplaced(claim.replaced);
    } catch (error) {
      if (!(error instanceof TaskAlreadyActive)) throw error;
      // The SDK retried a put whose first attempt had landed: the "winner" is this very request.
      if (error.existing.taskId !== task.taskId) {
        const freed = await this.answerExisting(error.existing, now);
        // The stranded task turned out dead and was recorded failed: the video is free, claim it again (once).
        if (freed && attempt === 1) return this.trackAttempt(request, 2);
        return { kind: 'existing', task: error.existing };
      }
      taskKey = this.store.keyOf(task.tenantId, task.videoFilename);
    }

    await this.startCreated(task, taskKey, now);
    return { kind: 'created', task };
  }

  async get(tenantId: string, taskId: string): Promise<Task> {
    const found = await this.store.getById(taskId);
    if (!found || found.task.tenantId !== tenantId) throw new TaskNotFound(`task ${taskId}`);
    return found.task;
  }

  async getActive(tenantId: string, videoFilename: string): Promise<Task> {
    const active = await this.store.getActive(tenantId, videoFilename);
    if (!active) throw new TaskNotFound('active task for this video');
    return active;
  }

  /** DELETE: cancelled wins only over an active state; a cancelled task answers the same on every call. */
  async cancel(tenantId: string, taskId: string): Promise<Task> {
    for (let attempt = 1; ; attempt++) {
      const found = await this.store.getById(taskId);
      if (!found || found.task.tenantId !== tenantId) throw new TaskNotFound(`task ${taskId}`);
      if (found.task.status === TaskStatus.Cancelled) {
        // On a second pass our own cancel may have landed with its answer lost: make sure the execution stops.
        if (attempt > 1) await this.stopQuietly(taskId);
        return found.task;
      }
      if (!found.taskKey || !isActive(found.task.status)) throw new TaskAlreadyFinished(found.task);
      try {
        const cancelled = await this.finishAsRead(found.task, found.taskKey, TaskStatus.Cancelled, {
          error: 'Cancelled',
          cause: 'cancelled through the API',
        });
        await this.stopQuietly(taskId);
        return cancelled;
      } catch (error) {
        // The task moved on (started running or finished) between our read and our write: read again.
        if (!(error instanceof TaskNotInExpectedState) || attempt >= MAX_FINISH_ATTEMPTS) throw error;
      }
    }
  }

  /**
   * Finalises a task whose execution ended outside the state machine's own Catch (timed out, aborted, failed early).
   * Duplicate and late events are no-ops.
   */
  async finalizeExecution(input: WorkflowInput, status: TaskStatus, error: TaskError): Promise<Task | undefined> {
    for (let attempt = 1; ; attempt++) {
      const found = await this.store.getById(input.taskId);
      if (!found?.taskKey || !isActive(found.task.status)) return undefined;
      try {
        const finished = await this.finishAsRead(found.task, found.taskKey, status, error);
        this.metrics.count(ServiceEvent.FinalizerRecorded);
        return finished;
      } catch (e) {
        if (!(e instanceof TaskNotInExpectedState) || attempt >= MAX_FINISH_ATTEMPTS) throw e;
      }
    }
  }

  /** Ends an active task as just read: the write holds only if its status has not changed since. */
  private finishAsRead(task: Task, taskKey: string, status: TaskStatus, error: TaskError): Promise<Task> {
    return this.store.finish({ task: task as ActiveTask, taskKey, status, expected: task.status, error, ...this.endingAt(this.clock.now()) });
  }

  /** A final record is readable for the retention period counted from its end. */
  private endingAt(now: Date): { at: string; retainUntil: number } {
    return { at: now.toISOString(), retainUntil: Math.floor(now.getTime() / 1000) + this.config.retentionSeconds };
  }

  private async startCreated(task: ActiveTask, taskKey: string, now: Date): Promise<void> {
    try {
      await this.store.link(task, taskKey);
      await this.workflow.start(workflowInput(task, taskKey));
    } catch (error) {
      if (error instanceof WorkflowAlreadyStarted) return;
      const compensated = await this.compensate(task, taskKey, now, error);
      if (!(error instanceof DependencyUnavailable)) throw error;
      // Not compensated, the task stays not_started until a re-drive after the grace period: a retry any sooner would
      // only be told "in progress" about a task nothing has started yet.
      const retryAfterSeconds = compensated ? error.retryAfterSeconds : Math.ceil(this.config.redriveGraceSeconds) + 1;
      throw new DependencyUnavailable(error.dependency, error.operation, { cause: error.cause, retryAfterSeconds, taskId: task.taskId });
    }
  }

  /** StartExecution (or the link) failed: fail the task and free the video so the client's retry creates a new one. */
  private async compensate(task: ActiveTask, taskKey: string, now: Date, cause: unknown): Promise<boolean> {
    try {
      await this.failNotStarted(task, taskKey, { error: 'WorkflowNotStarted', cause: describe(cause) }, now);
      this.metrics.count(ServiceEvent.Compensated);
      this.log.warn('workflow start failed; task marked failed and video freed', { task_id: task.taskId });
      return true;
    } catch (error) {
      // Left not_started: the repair sweep (or a POST) after the grace period starts it again.
      this.metrics.count(ServiceEvent.CompensationFailed);
      this.log.error('compensation failed; task left for re-drive', { task_id: task.taskId, error });
      return false;
    }
  }

  /** Repairs what a duplicate can see is wrong with the winner. @returns true when the winner was dead and is now freed. */
  private async answerExisting(existing: ActiveTask, now: Date): Promise<boolean> {
    if (existing.status === TaskStatus.NotStarted) {
      const ageSeconds = (now.getTime() - Date.parse(existing.createdAt)) / 1000;
      if (ageSeconds > this.config.redriveGraceSeconds) return ['ended', 'ran-elsewhere'].includes(await this.redrive(existing, now));
      // The creator may not have written the link yet; this caller must be able to read the id at once.
      // Only racing duplicates pay this second (idempotent) write: once running, the link exists.
      await this.store.link(existing, this.store.keyOf(existing.tenantId, existing.videoFilename));
    }
    return false;
  }

  /** Same name, same input: Step Functions returns the running execution or starts the one that never began. */
  private async redrive(task: ActiveTask, now: Date): Promise<'started' | 'ended' | 'ran-elsewhere' | 'moved-on'> {
    const taskKey = this.store.keyOf(task.tenantId, task.videoFilename);
    // The execution about to start may run a full timeout from now: move the lease so it cannot be taken over meanwhile.
    const lease = Math.floor(now.getTime() / 1000) + this.config.workflowTimeoutSeconds + this.config.leaseMarginSeconds;
    // Renewed within the grace period: another re-drive (an overlapping sweep, a POST) is starting it, and its
    // execution may not show in DescribeExecution yet. The lease read is when the task was last (re-)driven.
    const drivenAt = task.leaseExpiresAt - this.config.workflowTimeoutSeconds - this.config.leaseMarginSeconds;
    if (now.getTime() / 1000 - drivenAt <= this.config.redriveGraceSeconds) return 'moved-on';
    if (!(await this.store.renewLease(task, lease))) return 'moved-on';
    this.metrics.count(ServiceEvent.Redriven);
    this.log.warn('re-driving a task whose execution did not start', { task_id: task.taskId, created_at: task.createdAt });
    await this.store.link(task, taskKey);
    try {
      await this.workflow.start(workflowInput(task, taskKey));
      return 'started';
    } catch (error) {
      if (!(error instanceof WorkflowAlreadyStarted)) throw error;
    }
    // The same name with the same input was refused, so that execution has ended. If the task is still not_started,
    // nothing will ever move it: record it failed and free the video (conditional on not_started).
    try {
      await this.failNotStarted(task, taskKey, { error: 'ExecutionEnded', cause: 'its execution ended without recording the task' }, now);
      this.metrics.count(ServiceEvent.RedriveFoundEnded);
      this.log.warn('the execution of a not_started task had ended; task recorded failed', { task_id: task.taskId });
    } catch (error) {
      if (!(error instanceof TaskNotInExpectedState)) throw error;
      // Another start (a concurrent re-drive) ran the task: its execution recorded the end, not this one.
      this.log.info('re-drive found the task already run by another start', { task_id: task.taskId });
      return 'ran-elsewhere';
    }
    return 'ended';
  }

  /**
   * The repair sweep's decision for one active task, with no client involved. `task` may be stale (read from an
   * index); every write below is conditional on the task's id and status, so a task that moved on is left alone.
   * - a task younger than the grace period: its creator may still be starting it;
   * - a running execution: leave it;
   * - no execution: start it if not_started (same name, same input), else end it failed (its execution is lost),
   *   unless it was marked running within the grace period (DescribeExecution may not show a new execution yet);
   * - an ended execution: record the end as the finalizer would.
   */
  async repair(task: ActiveTask): Promise<RepairOutcome> {
    const now = this.clock.now();
    if ((now.getTime() - Date.parse(task.createdAt)) / 1000 <= this.config.redriveGraceSeconds) return 'young';
    const execution = await this.workflow.describe(task.taskId);
    const taskKey = this.store.keyOf(task.tenantId, task.videoFilename);
    if (execution.status === 'running') return 'live';
    if (execution.status === 'none' && task.status === TaskStatus.NotStarted) {
      const redriven = await this.redrive(task, now);
      // 'ran-elsewhere': another start ran the task and recorded its end; nothing was repaired here.
      return redriven === 'started' || redriven === 'ended' ? redriven : 'moved-on';
    }
    if (execution.status === 'none' && this.justStarted(task, now)) {
      // DescribeExecution is eventually consistent: an execution started moments ago (a late re-drive) may not show yet.
      return 'live';
    }
    const ending = execution.status === 'none' ? LOST_EXECUTION : endingOf(execution);
    const ended = await this.finalizeExecution(workflowInput(task, taskKey), ending.status, ending.error);
    if (!ended) return 'moved-on';
    this.log.warn('repair recorded the end of a task its execution did not', { task_id: task.taskId, execution: execution.status, status: ended.status });
    return 'ended';
  }

  /** A running task whose execution marked it running within the grace period. */
  private justStarted(task: ActiveTask, now: Date): boolean {
    const since = Date.parse(task.startedAt ?? task.updatedAt);
    return (now.getTime() - since) / 1000 <= this.config.redriveGraceSeconds;
  }

  /** Ends a task that never ran: failed, video freed, conditional on it still being not_started. */
  private failNotStarted(task: ActiveTask, taskKey: string, error: TaskError, now: Date): Promise<Task> {
    return this.store.finish({ task, taskKey, status: TaskStatus.Failed, expected: TaskStatus.NotStarted, error, ...this.endingAt(now) });
  }

  /** The replaced task is recorded failed already; its execution, if one still runs, has nothing left to do. */
  private async stopReplaced(replaced: ActiveTask): Promise<void> {
    this.metrics.count(ServiceEvent.LeaseTakeover);
    this.log.warn('replaced an active task whose lease had expired', { task_id: replaced.taskId });
    await this.stopQuietly(replaced.taskId);
  }

  /** Best effort: the task's state is already final; a still-running execution's writes fail their conditions. */
  private async stopQuietly(taskId: string): Promise<void> {
    try {
      await this.workflow.stop(taskId, 'the task ended outside its execution');
      // Lets the ExecutionsAborted alarm tell these deliberate stops from aborts nobody asked for.
      this.metrics.count(ServiceEvent.ExecutionStopped);
    } catch (error) {
      this.log.warn('could not stop the execution of a finished task', { task_id: taskId, error });
    }
  }
}

/** What one repair did: `started` and `ended` changed the task; the rest left it as it was. */
export type RepairOutcome = 'young' | 'live' | 'started' | 'ended' | 'moved-on';

const LOST_EXECUTION = {
  status: TaskStatus.Failed,
  error: { error: 'ExecutionLost', cause: 'the task was running but its execution no longer exists' },
} as const;

/** How an ended execution ends its task; the same mapping as the finalizer's (lambda/finalizer/finalizer.ts). */
export function endingOf(execution: Exclude<ExecutionState, { status: 'running' | 'none' }>): { status: TaskStatus; error: TaskError } {
  const cause = execution.cause ?? undefined;
  switch (execution.status) {
    case 'aborted':
      return { status: TaskStatus.Cancelled, error: { error: execution.error || 'ExecutionAborted', cause } };
    case 'timed_out':
      return { status: TaskStatus.Failed, error: { error: execution.error || 'States.Timeout', cause } };
    case 'failed':
      return { status: TaskStatus.Failed, error: { error: execution.error || 'ExecutionFailed', cause } };
    case 'succeeded':
      // Every successful path records the end itself; a task still active after one was never reached by it.
      return { status: TaskStatus.Failed, error: { error: 'ExecutionEnded', cause: 'its execution ended without recording the task' } };
  }
}

export function workflowInput(task: ActiveTask, taskKey: string): WorkflowInput {
  return {
    taskId: task.taskId,
    tenantId: task.tenantId,
    videoFilename: task.videoFilename,
    createdAt: task.createdAt,
    retainUntil: task.retainUntil,
    taskKey,
  };
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
