import { endingOf, type TaskRecovery } from '../core/task-recovery';
import type { Task } from '../core/task';
import { type ExecutionInput, fromExecutionInput } from '../adapters/sfn-workflow';
import { ExecutionEnd, REPAIRED_EXECUTION_STATUSES } from '../shared/execution-ends';

/** The part of an EventBridge "Step Functions Execution Status Change" event the finalizer reads. */
export interface ExecutionStatusChange {
  readonly 'detail-type'?: string;
  readonly detail: {
    readonly executionArn: string;
    readonly status: string;
    readonly input?: string | null;
    readonly error?: string | null;
    readonly cause?: string | null;
  };
}

export type FinalizeOutcome =
  { outcome: 'finalized'; task: Task } | { outcome: 'ignored'; reason: string; taskId?: string };

/**
 * Records the end of an execution that finished outside the state machine's own Catch, and frees the video.
 * Conditional on the task still being active with this task id, so duplicate and late events change nothing.
 */
export async function finalizeExecution(
  recovery: Pick<TaskRecovery, 'finalizeExecution'>,
  event: ExecutionStatusChange,
): Promise<FinalizeOutcome> {
  // The ends the rule delivers; the task's ending is the repair sweep's too (endingOf).
  const status = event.detail.status as (typeof REPAIRED_EXECUTION_STATUSES)[number];
  if (!REPAIRED_EXECUTION_STATUSES.includes(status))
    return { outcome: 'ignored', reason: `status ${event.detail.status} needs no repair` };
  if (!event.detail.input) return { outcome: 'ignored', reason: 'the event carries no execution input' };
  const input = fromExecutionInput(JSON.parse(event.detail.input) as ExecutionInput);
  const ending = endingOf({
    status: ExecutionEnd[status],
    error: event.detail.error ?? undefined,
    cause: event.detail.cause ?? undefined,
  });
  const task = await recovery.finalizeExecution(input, ending.status, ending.error, ending.cause);
  return task
    ? { outcome: 'finalized', task }
    : { outcome: 'ignored', reason: 'the task is no longer active', taskId: input.taskId };
}
