import { DEFAULT_TENANT_ACTIVE_TASK_LIMIT } from '../shared/deployment-names';
import { TaskNotInExpectedState, WorkflowAlreadyStarted } from './errors';
import { storageKeyOf } from './storage-key';
import { TaskErrorName, taskError } from './task-errors';
import {
  type Admission,
  type Clock,
  type DuePage,
  type ExecutionState,
  ServiceEvent,
  type ServiceLog,
  type ServiceMetrics,
  type SweepPosition,
  type TaskStore,
  type TenantCount,
  type Workflow,
} from './ports';
import { type ActiveTask, type Task, type TaskError, TaskStatus, type WorkflowInput, isActive } from './task';
import { reconcileTenantCounts, type TenantTally } from './tenant-counts';

export interface TaskServiceConfig {
  /** A `not_started` task older than this has lost its start (crash or failed StartExecution) and is started again. */
  readonly redriveGraceSeconds: number;
  /** The state machine's TimeoutSeconds: no execution lives longer. */
  readonly workflowTimeoutSeconds: number;
  /** Past timeout + margin an active task no longer blocks its video. */
  readonly leaseMarginSeconds: number;
  /** How long a finished task stays readable. */
  readonly retentionSeconds: number;
  /** Active tasks one tenant may hold; 0 = no limit, and then no tenant is counted (see countsTenantTasks). */
  readonly tenantActiveTaskLimit: number;
  /** How long a POST's Idempotency-Key is retained: a retry within it answers with the key's task. */
  readonly idempotencyRetentionSeconds: number;
}

/**
 * Whether tasks are counted against their tenant: only under a limit. Without one, a new task is one write and one
 * start, and nothing (API, finalizer, sweep, state machine) writes a counter.
 */
export function countsTenantTasks(config: Pick<TaskServiceConfig, 'tenantActiveTaskLimit'>): boolean {
  return config.tenantActiveTaskLimit > 0;
}

export const DEFAULT_TASK_SERVICE_CONFIG: TaskServiceConfig = {
  redriveGraceSeconds: 10,
  workflowTimeoutSeconds: 3600,
  leaseMarginSeconds: 300,
  retentionSeconds: 30 * 24 * 3600,
  tenantActiveTaskLimit: DEFAULT_TENANT_ACTIVE_TASK_LIMIT,
  idempotencyRetentionSeconds: 24 * 3600,
};

/** What the recovery rules run on. */
export interface RecoveryDeps {
  readonly store: TaskStore;
  readonly workflow: Workflow;
  readonly clock: Clock;
  /** @default DEFAULT_TASK_SERVICE_CONFIG */
  readonly config?: TaskServiceConfig;
  /** @default - no log */
  readonly log?: ServiceLog;
  /** @default - nothing counted */
  readonly metrics?: ServiceMetrics;
}

export const SILENT_LOG: ServiceLog = { info() {}, warn() {}, error() {} };
export const UNCOUNTED: ServiceMetrics = { count() {} };
export const MAX_FINISH_ATTEMPTS = 3;

/**
 * The rules that bring a task whose execution went wrong back to a true state: re-drive, compensation, recording an
 * end the execution did not (finalizer), and the repair sweep's decision for one task. Pure TypeScript.
 */
export class TaskRecovery {
  readonly config: TaskServiceConfig;
  private readonly store: TaskStore;
  private readonly workflow: Workflow;
  private readonly clock: Clock;
  private readonly log: ServiceLog;
  private readonly metrics: ServiceMetrics;

  constructor(deps: RecoveryDeps) {
    this.store = deps.store;
    this.workflow = deps.workflow;
    this.clock = deps.clock;
    this.config = deps.config ?? DEFAULT_TASK_SERVICE_CONFIG;
    this.log = deps.log ?? SILENT_LOG;
    this.metrics = deps.metrics ?? UNCOUNTED;
  }

  now(): Date {
    return this.clock.now();
  }

  /** Active tasks created before `createdBefore`, a page at a time (the repair sweep's candidates). */
  dueTasks(createdBefore: string): AsyncIterable<readonly ActiveTask[]> {
    return this.store.activeCreatedBefore(createdBefore);
  }

  /** As dueTasks, each page with the position after it; `from` resumes a query an earlier run stopped. */
  dueTasksFrom(createdBefore: string, from?: SweepPosition): AsyncIterable<DuePage> {
    return this.store.activeCreatedBeforeFrom(createdBefore, from);
  }

  /**
   * Every tenant counter as it is now, read before the sweep tallies the tasks: a write that lands after this read
   * (a new task, an end) moves the counter's version, so the reconciliation leaves that counter for the next run.
   * Undefined without a limit (no counters are kept).
   */
  async tenantCountSnapshot(): Promise<readonly TenantCount[] | undefined> {
    if (!countsTenantTasks(this.config)) return undefined;
    const counters: TenantCount[] = [];
    for await (const page of this.store.tenantCounts()) counters.push(...page);
    return counters;
  }

  /**
   * Sets each counter of `snapshot` that drifted from `tally` (the tenants' admitted tasks created before `cutoff`),
   * and reports each tenant found over its limit.
   */
  async reconcileTenantCounts(
    snapshot: readonly TenantCount[] | undefined,
    tally: TenantTally,
    cutoff: string,
  ): Promise<number> {
    if (!snapshot) return 0;
    const limit = this.config.tenantActiveTaskLimit;
    return reconcileTenantCounts(this.store, snapshot, tally, cutoff, this.clock.now().toISOString(), {
      onSet: (counter, activeCount) => {
        this.metrics.count(ServiceEvent.TenantCountReconciled);
        this.log.warn('tenant active-task count had drifted; set to its active tasks', {
          tenant_id: counter.tenantId,
          counted: counter.activeCount,
          active: activeCount,
        });
      },
      onCounted: (counter, activeCount) => {
        if (activeCount <= limit) return;
        this.metrics.count(ServiceEvent.TenantOverLimit);
        this.log.warn('tenant holds more active tasks than its limit; they finish, new ones are refused until below', {
          tenant_id: counter.tenantId,
          active: activeCount,
          limit,
        });
      },
    });
  }

  /**
   * Decides a claim pending admission under the tenant's limit: admitted (a slot taken, in one transaction with the
   * claim's admission), or refused (recorded failed, TenantQuotaExceeded, and its video freed, in one transaction; no
   * slot was taken, none is given back). `moved-on`: another admission or refusal decided it first.
   * @throws DependencyUnavailable (or another failure) with the claim still pending: a re-drive decides it later.
   */
  async admitOrRefuse(task: ActiveTask, taskKey: string, now: Date): Promise<Admission> {
    const limit = this.config.tenantActiveTaskLimit;
    const admission = await this.store.admit(task, taskKey, limit, now.toISOString());
    if (admission.outcome !== 'refused') return admission;
    const { at, retainUntil } = this.endingAt(now);
    try {
      await this.store.refuse(task, taskKey, at, retainUntil);
    } catch (error) {
      if (error instanceof TaskNotInExpectedState) return { outcome: 'moved-on' };
      throw error;
    }
    this.metrics.count(ServiceEvent.TenantLimitReached);
    return admission;
  }

  /** The names of the executions running now, a page at a time: a filter, never a decision. */
  runningExecutions(): AsyncIterable<readonly string[]> {
    return this.workflow.running();
  }

  /**
   * Finalises a task whose execution ended outside the state machine's own Catch (timed out, aborted, failed early).
   * Duplicate and late events are no-ops. The execution's raw `cause` is logged, never recorded.
   */
  async finalizeExecution(
    input: WorkflowInput,
    status: TaskStatus,
    error: TaskError,
    cause?: string,
  ): Promise<Task | undefined> {
    if (cause !== undefined)
      this.log.info('execution ended outside its Catch', { task_id: input.taskId, error: error.error, cause });
    for (let attempt = 1; ; attempt++) {
      const found = await this.store.getById(input.tenantId, input.taskId);
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
  finishAsRead(task: Task, taskKey: string, status: TaskStatus, error: TaskError): Promise<Task> {
    return this.store.finish({
      task: task as ActiveTask,
      taskKey,
      status,
      expected: task.status,
      error,
      ...this.endingAt(this.clock.now()),
    });
  }

  /** A final record is readable for the retention period counted from its end. */
  private endingAt(now: Date): { at: string; retainUntil: number } {
    return { at: now.toISOString(), retainUntil: Math.floor(now.getTime() / 1000) + this.config.retentionSeconds };
  }

  /** StartExecution failed: fail the task and free the video so the client's retry creates a new one. */
  async compensate(task: ActiveTask, taskKey: string, now: Date, cause: unknown): Promise<boolean> {
    try {
      await this.failNotStarted(task, taskKey, taskError(TaskErrorName.WorkflowNotStarted), now);
      this.metrics.count(ServiceEvent.Compensated);
      this.log.warn('workflow start failed; task marked failed and video freed', {
        task_id: task.taskId,
        cause: describe(cause),
      });
      return true;
    } catch (error) {
      // Left not_started: the repair sweep (or a POST) after the grace period starts it again.
      this.metrics.count(ServiceEvent.CompensationFailed);
      this.log.error('compensation failed; task left for re-drive', { task_id: task.taskId, error });
      return false;
    }
  }

  /** Same name, same input: Step Functions returns the running execution or starts the one that never began. */
  async redrive(task: ActiveTask, now: Date): Promise<'started' | 'ended' | 'ran-elsewhere' | 'moved-on'> {
    const taskKey = this.store.keyOf(task.tenantId, task.videoFilename);
    // The execution about to start may run a full timeout from now: move the lease so it cannot be taken over meanwhile.
    const lease =
      Math.floor(now.getTime() / 1000) + this.config.workflowTimeoutSeconds + this.config.leaseMarginSeconds;
    // Renewed within the grace period: another re-drive (an overlapping sweep, a POST) is starting it, and its
    // execution may not show in DescribeExecution yet. The lease read is when the task was last (re-)driven.
    const drivenAt = task.leaseExpiresAt - this.config.workflowTimeoutSeconds - this.config.leaseMarginSeconds;
    if (now.getTime() / 1000 - drivenAt <= this.config.redriveGraceSeconds) return 'moved-on';
    if (!(await this.store.renewLease(task, lease))) return 'moved-on';
    if (task.admissionPending) {
      // Never started uncounted: the claim takes its slot first, or is refused if there is none.
      const admission = await this.admitOrRefuse(task, taskKey, now);
      if (admission.outcome === 'moved-on') return 'moved-on';
      if (admission.outcome === 'refused') {
        this.log.warn('re-drive found no slot under the tenant limit for a pending claim; recorded failed', {
          task_id: task.taskId,
          active_count: admission.activeCount,
        });
        return 'ended';
      }
    }
    this.metrics.count(ServiceEvent.Redriven);
    this.log.warn('re-driving a task whose execution did not start', {
      task_id: task.taskId,
      created_at: task.createdAt,
    });
    try {
      await this.workflow.start(workflowInput(task, taskKey));
      return 'started';
    } catch (error) {
      if (!(error instanceof WorkflowAlreadyStarted)) throw error;
    }
    // The same name with the same input was refused, so that execution has ended. If the task is still not_started,
    // nothing will ever move it: record it failed and free the video (conditional on not_started).
    try {
      await this.failNotStarted(task, taskKey, taskError(TaskErrorName.ExecutionEnded), now);
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
    const ended = await this.finalizeExecution(workflowInput(task, taskKey), ending.status, ending.error, ending.cause);
    if (!ended) return 'moved-on';
    this.log.warn('repair recorded the end of a task its execution did not', {
      task_id: task.taskId,
      execution: execution.status,
      status: ended.status,
    });
    return 'ended';
  }

  /** A running task whose execution marked it running within the grace period. */
  private justStarted(task: ActiveTask, now: Date): boolean {
    const since = Date.parse(task.startedAt ?? task.updatedAt);
    return (now.getTime() - since) / 1000 <= this.config.redriveGraceSeconds;
  }

  /** Ends a task that never ran: failed, video freed, conditional on it still being not_started. */
  private failNotStarted(task: ActiveTask, taskKey: string, error: TaskError, now: Date): Promise<Task> {
    return this.store.finish({
      task,
      taskKey,
      status: TaskStatus.Failed,
      expected: TaskStatus.NotStarted,
      error,
      ...this.endingAt(now),
    });
  }

  /** Best effort: the task's state is already final; a still-running execution's writes fail their conditions. */
  async stopQuietly(taskId: string): Promise<void> {
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

const LOST_EXECUTION: Ending = { status: TaskStatus.Failed, error: taskError(TaskErrorName.ExecutionLost) };

/** How an execution's end ends its task: the error tenants see, and the raw cause for the logs only. */
export interface Ending {
  readonly status: TaskStatus;
  readonly error: TaskError;
  readonly cause?: string;
}

/** How an ended execution ends its task; the same mapping as the finalizer's (lambda/finalizer/finalizer.ts). */
export function endingOf(execution: Exclude<ExecutionState, { status: 'running' | 'none' }>): Ending {
  const cause = execution.cause ?? undefined;
  switch (execution.status) {
    case 'aborted':
      return {
        status: TaskStatus.Cancelled,
        error: taskError(execution.error || TaskErrorName.ExecutionAborted),
        cause,
      };
    case 'timed_out':
      return { status: TaskStatus.Failed, error: taskError(execution.error || TaskErrorName.Timeout), cause };
    case 'failed':
      return { status: TaskStatus.Failed, error: taskError(execution.error || TaskErrorName.ExecutionFailed), cause };
    case 'succeeded':
      // Every successful path records the end itself; a task still active after one was never reached by it.
      return { status: TaskStatus.Failed, error: taskError(TaskErrorName.ExecutionEnded) };
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
    storageKey: storageKeyOf(task.tenantId, task.videoFilename),
  };
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
