/** How a Step Functions execution ends, as the core, the finalizer and the execution-status rule name it. */

/** Step Functions' status of an ended execution, as the port (core/ports.ts ExecutionState) names it. */
export const ExecutionEnd = {
  SUCCEEDED: 'succeeded',
  FAILED: 'failed',
  TIMED_OUT: 'timed_out',
  ABORTED: 'aborted',
} as const;
export type ExecutionEnd = (typeof ExecutionEnd)[keyof typeof ExecutionEnd];

/** The ends the execution-status rule delivers to the finalizer: every end but SUCCEEDED, which records itself. */
export const REPAIRED_EXECUTION_STATUSES = [
  'FAILED',
  'TIMED_OUT',
  'ABORTED',
] as const satisfies readonly (keyof typeof ExecutionEnd)[];
