/** Task lifecycle vocabulary shared by the API, the workflow and the finalizer. */
export const TaskStatus = {
  NotStarted: 'not_started',
  Running: 'running',
  Completed: 'completed',
  Failed: 'failed',
  Cancelled: 'cancelled',
} as const;
export type TaskStatus = (typeof TaskStatus)[keyof typeof TaskStatus];

export const ACTIVE_STATUSES: readonly TaskStatus[] = [TaskStatus.NotStarted, TaskStatus.Running];
export const FINAL_STATUSES: readonly TaskStatus[] = [TaskStatus.Completed, TaskStatus.Failed, TaskStatus.Cancelled];

/** The listing's status filter: `active` = not_started or running, `finished` = completed, failed or cancelled. */
export const ListStatus = { Active: 'active', Finished: 'finished' } as const;
export type ListStatus = (typeof ListStatus)[keyof typeof ListStatus];

export function isActive(status: TaskStatus): boolean {
  return ACTIVE_STATUSES.includes(status);
}

/** What a tenant sees of a task's error: a stable name and a fixed message for it (lambda/core/task-errors.ts). */
export interface TaskError {
  readonly error: string;
  readonly message: string;
}

export interface Task {
  readonly taskId: string;
  readonly tenantId: string;
  readonly videoFilename: string;
  readonly status: TaskStatus;
  /** ISO 8601 instants. */
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  readonly result?: unknown;
  readonly error?: TaskError;
}

/** An active task as the store keeps it: the task plus the times that bound its life. */
export interface ActiveTask extends Task {
  /** Epoch seconds after which the task no longer blocks its video (the lease of last resort). */
  readonly leaseExpiresAt: number;
  /** Epoch seconds until which the finished task stays readable (becomes the TTL of its final record). */
  readonly retainUntil: number;
  /**
   * Claimed under a tenant limit and not counted yet: the admission (a slot taken) or the refusal (recorded failed,
   * TenantQuotaExceeded) is still to land. Such a claim is never started, cancelled or ended any other way.
   * @default false
   */
  readonly admissionPending?: boolean;
}

/** What the analysis workflow is started with; identical on every start of the same task. */
export interface WorkflowInput {
  readonly taskId: string;
  readonly tenantId: string;
  readonly videoFilename: string;
  readonly createdAt: string;
  readonly retainUntil: number;
  /** Opaque store key of the active task, so the workflow can update and free it. */
  readonly taskKey: string;
  /** The only object the analysis may read for this task (lambda/core/storage-key.ts). */
  readonly storageKey: string;
}

/** The task once its admission landed (or where no limit applies): no longer pending. */
export function admitted(task: ActiveTask): ActiveTask {
  const { admissionPending: _pending, ...rest } = task;
  return rest;
}
