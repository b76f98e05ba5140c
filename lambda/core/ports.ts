import type { ExecutionEnd } from '../shared/execution-ends';
import type { ServiceEvent } from '../shared/observability-names';
import type { CursorPosition } from './cursor';
import type { ActiveTask, ListStatus, Task, TaskError, TaskStatus, WorkflowInput } from './task';

/** The claim won: this task is now the active one for its (tenant, video). */
export interface ClaimWon {
  readonly won: true;
  /** Opaque key of the active-task item; handed to the workflow. */
  readonly taskKey: string;
  /** A task whose lease had expired and that this claim replaced (already recorded failed, atomically). */
  readonly replaced?: ActiveTask;
}

/**
 * The claim lost: `existing` is the active task, the one every duplicate answers with. A value, not an exception:
 * losing is a duplicate's ordinary answer, and a thrown error's stack capture was a measurable share of its cost.
 */
export interface ClaimLost {
  readonly won: false;
  readonly existing: ActiveTask;
}

export type ClaimResult = ClaimWon | ClaimLost;

export interface FinishTask {
  /** The active task as last read; its fields become the final record. */
  readonly task: ActiveTask;
  readonly taskKey: string;
  readonly status: TaskStatus;
  /** The status the active task must still have for the finish to apply. */
  readonly expected: TaskStatus;
  readonly error?: TaskError;
  readonly at: string;
  /** Epoch seconds until which the final record stays readable: counted from its end (`at`). */
  readonly retainUntil: number;
}

export interface FoundTask {
  /** An ActiveTask while active, the final record once finished. */
  readonly task: Task;
  /** Present while the task is active. */
  readonly taskKey?: string;
}

/** A tenant's counter of active tasks, as last read. */
export interface TenantCount {
  readonly tenantId: string;
  readonly activeCount: number;
  /** Bumped by every write of the counter: a reconciliation holds only if nothing wrote it since it was read. */
  readonly version: number;
  /** ISO instant of the counter's last write. */
  readonly updatedAt: string;
  /**
   * ISO instant of the last write that made a task counted (an admission, a takeover's hand-over), by the Lambda's
   * clock; `updatedAt` for counters written before it was kept.
   */
  readonly takenAt: string;
}

/**
 * What the admission of a pending claim decided: counted (`admitted`), no slot under the limit (`refused`, with the
 * count that refused it; the claim is still pending, for `refuse`), or the claim was no longer pending (`moved-on`:
 * another admission or a refusal decided it first, or it is gone).
 */
export type Admission =
  | { readonly outcome: 'admitted' }
  | { readonly outcome: 'refused'; readonly activeCount: number }
  | { readonly outcome: 'moved-on' };

export interface ListQuery {
  readonly tenantId: string;
  /** At most this many tasks (1-100). */
  readonly limit: number;
  /** Only active or only finished tasks; both when absent. */
  readonly status?: ListStatus;
  /** Where the previous page stopped, as that page's `next` gave it. */
  readonly after?: CursorPosition;
}

export interface ListedPage {
  /** Newest first. */
  readonly tasks: readonly Task[];
  /** Where the next page starts; absent on the last page. */
  readonly next?: CursorPosition;
}

/** What an Idempotency-Key of a tenant holds while it is retained. */
export interface IdempotencyKeyRecord {
  /** The task the key's request was answered with (or, before its claim, the id its new task takes). */
  readonly taskId: string;
  /** Digest of the request the key was first sent with (requestHashOf): another body under the key is refused. */
  readonly requestHash: string;
}

export interface ReserveIdempotencyKey extends IdempotencyKeyRecord {
  readonly tenantId: string;
  /** The key as the client sent it (the store keeps only its digest). */
  readonly key: string;
  /** Epoch seconds: a key whose `expiresAt` is before this is gone, even if its TTL delete has not run yet. */
  readonly now: number;
  /** Epoch seconds until which the key is retained. */
  readonly expiresAt: number;
}

/** The key was free and now holds this request's task id, or it is held (`existing`): a retry or a reuse. */
export type KeyReservation =
  { readonly reserved: true } | { readonly reserved: false; readonly existing: IdempotencyKeyRecord };

/** Persistence port. The DynamoDB adapter is the only implementation that knows keys and conditions. */
export interface TaskStore {
  /**
   * Conditionally creates the active task for (tenant, video); takes over a task whose lease has expired, recording
   * it failed with a final record readable until `replacedRetainUntil` (the new task inherits its slot: net 0, and is
   * written admitted). Another active task (its lease not expired, or a claim still pending admission, which only its
   * admission or refusal may end) is answered as ClaimLost with that task: the same task when an earlier attempt of
   * this very claim landed.
   */
  claim(task: ActiveTask, replacedRetainUntil: number): Promise<ClaimResult>;
  /**
   * Admits a pending claim under its tenant's limit (`limit` > 0): in one transaction, the counter's increment below
   * the limit and the claim's admission. Only under a limit, once per created task and by re-drives of a pending
   * claim; a duplicate never calls it.
   */
  admit(task: ActiveTask, taskKey: string, limit: number, at: string): Promise<Admission>;
  /**
   * Refuses a pending claim: in one transaction, its final record (`failed`, TenantQuotaExceeded, left out of the
   * listing, readable until `retainUntil`) and its active item's delete; no counter is written.
   * @throws TaskNotInExpectedState when the claim is no longer pending (admitted or refused meanwhile) or gone.
   */
  refuse(task: ActiveTask, taskKey: string, at: string, retainUntil: number): Promise<Task>;
  /** Every tenant counter, a page at a time (read from the index: may lag a write by a moment). */
  tenantCounts(): AsyncIterable<readonly TenantCount[]>;
  /** Sets a drifted counter to `activeCount`; false when it was written since `seen` was read. */
  setTenantCount(seen: TenantCount, activeCount: number, at: string): Promise<boolean>;
  /**
   * Atomically records the final state, frees the video and gives the tenant's slot back. Under a limit only an
   * admitted task ends this way: a claim pending admission is refused (`refuse`), never finished.
   * @throws TaskNotInExpectedState when the task is no longer active with status `expected`, or is pending admission
   * (or a concurrent write conflicted): read it again.
   */
  finish(finish: FinishTask): Promise<Task>;
  /** Extends a `not_started` task's lease before its execution is started again; false if it moved on or another re-drive renewed it since `task` was read. */
  renewLease(task: ActiveTask, leaseExpiresAt: number): Promise<boolean>;
  /**
   * Strongly consistent read by task id within a tenant: the active item the id points at, else its final record;
   * undefined when unknown or malformed (then without any read).
   */
  getById(tenantId: string, taskId: string): Promise<FoundTask | undefined>;
  /** Strongly consistent read of the active task for (tenant, video). */
  getActive(tenantId: string, videoFilename: string): Promise<ActiveTask | undefined>;
  /** The active item's key of (tenant, video): what the workflow is given to update and free it. */
  keyOf(tenantId: string, videoFilename: string): string;
  /**
   * Every active task created before `createdBefore` (ISO instant), one index page at a time, so a caller never holds
   * them all. Read from an eventually consistent index: a task may already have moved on; repairs re-check.
   */
  activeCreatedBefore(createdBefore: string): AsyncIterable<readonly ActiveTask[]>;
  /**
   * As activeCreatedBefore, each page with the position after it, so a sweep that stops can resume there (`from`)
   * in a later run instead of starting over. The same query must be resumed: the same `createdBefore`.
   */
  activeCreatedBeforeFrom(createdBefore: string, from?: SweepPosition): AsyncIterable<DuePage>;
  /**
   * One page of the tenant's tasks, newest first, from an eventually consistent index: a write may show a moment late.
   * @throws InvalidRequest (field `cursor`) when `after` is not a position of this tenant's listing.
   */
  listByTenant(query: ListQuery): Promise<ListedPage>;
  /**
   * Writes the tenant's Idempotency-Key if it is free (absent or expired), in one conditional write; a held key comes
   * back with what it holds, from the same write.
   */
  reserveIdempotencyKey(reservation: ReserveIdempotencyKey): Promise<KeyReservation>;
  /** Points a key from task `from` to task `to`; false when it no longer points at `from` (or is gone). */
  repointIdempotencyKey(tenantId: string, key: string, from: string, to: string): Promise<boolean>;
  /** Consistent read of a task's final record only (one read); undefined while it is active, or unknown. */
  getFinal(taskId: string): Promise<Task | undefined>;
}

/** Where a query of due tasks resumes: opaque outside the store. */
export type SweepPosition = string;

/** One page of due tasks and where the query resumes after it (absent after the last page). */
export interface DuePage {
  readonly tasks: readonly ActiveTask[];
  readonly next?: SweepPosition;
}

/** A repair pass that spans runs: what the next run needs to go on where the last one stopped. */
export interface SweepCheckpoint {
  /** The pass's cutoff (ISO instant): every run of the pass reads the due tasks created before it. */
  readonly cutoff: string;
  /** Where the due-task query resumes; absent: from its start. */
  readonly position?: SweepPosition;
  /** ISO instant the pass began. */
  readonly passStartedAt: string;
  /** Runs the pass has taken so far. */
  readonly runs: number;
}

/**
 * The repair sweep's own state: a lease that keeps two runs from overlapping, and the checkpoint of an unfinished
 * pass. The DynamoDB adapter keeps both on one item, so only the lease's holder can write the checkpoint.
 */
export interface SweepState {
  /**
   * Takes the lease for `holder` until `until` (epoch ms) if nobody holds one that is unexpired at `now` (epoch ms).
   * @returns the checkpoint left by the last run (`{}` when none); undefined when another run holds the lease.
   */
  acquire(holder: string, now: number, until: number): Promise<{ checkpoint?: SweepCheckpoint } | undefined>;
  /**
   * Extends `holder`'s lease to `until` (epoch ms): a run renews it as it goes, so that a run that died holds it no
   * longer than one lease period. @returns false when `holder` no longer holds it: the run must stop.
   */
  renew(holder: string, until: number): Promise<boolean>;
  /**
   * Gives the lease up and leaves `checkpoint` for the next run (none: the next run starts a new pass).
   * @returns false when `holder` no longer held the lease (it expired and another run took it): nothing was written.
   */
  release(holder: string, checkpoint: SweepCheckpoint | undefined): Promise<boolean>;
}

/** What Step Functions knows of a task's execution. */
export type ExecutionState =
  | { readonly status: 'running' }
  | { readonly status: 'none' }
  | { readonly status: ExecutionEnd; readonly error?: string; readonly cause?: string };

/** Workflow port. The Step Functions adapter is the only implementation that knows executions. */
export interface Workflow {
  /**
   * Starts the task's execution, named after the task id. Starting again with the same input while it runs is a no-op.
   * @throws WorkflowAlreadyStarted when the name is taken by a closed execution or a different input.
   */
  start(input: WorkflowInput): Promise<void>;
  /** Stops the task's execution if it is running; unknown executions are ignored. */
  stop(taskId: string, cause: string): Promise<void>;
  /** The task's execution as Step Functions reports it now; `none` when no execution has that name. */
  describe(taskId: string): Promise<ExecutionState>;
  /**
   * The task ids of the executions running now, one page at a time. A snapshot that is stale by the time it is
   * read: a filter for what to describe, never a decision.
   */
  running(): AsyncIterable<readonly string[]>;
}

export { ServiceEvent } from '../shared/observability-names';

/** Metrics port: counts ServiceEvents. Powertools Metrics (CloudWatch EMF) in Lambda, a no-op elsewhere by default. */
export interface ServiceMetrics {
  count(event: ServiceEvent): void;
}

/** Log port: what the rules write; Powertools Logger satisfies it. */
export interface ServiceLog {
  info(message: string, extra: Record<string, unknown>): void;
  warn(message: string, extra: Record<string, unknown>): void;
  error(message: string, extra: Record<string, unknown>): void;
}

export interface Clock {
  now(): Date;
}

/** A new task id for (tenant, video): the store must find the active item from it (lambda/shared/task-keys.ts). */
export type IdGenerator = (tenantId: string, videoFilename: string) => string;
