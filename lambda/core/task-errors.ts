import type { TaskError } from './task';

/**
 * The one place a task's error becomes what tenants see: a stable name and a fixed message per kind of error. Raw
 * causes (a Lambda error payload with its stack trace, an SDK message with role ARNs and the account id) never reach
 * a record or an answer; they stay in the logs and the execution history.
 */
export const TaskErrorName = {
  AnalysisRejected: 'AnalysisRejected',
  AnalysisFailed: 'AnalysisFailed',
  Timeout: 'States.Timeout',
  WorkflowNotStarted: 'WorkflowNotStarted',
  ExecutionEnded: 'ExecutionEnded',
  ExecutionLost: 'ExecutionLost',
  ExecutionFailed: 'ExecutionFailed',
  ExecutionAborted: 'ExecutionAborted',
  FinishNotRecorded: 'FinishNotRecorded',
  LeaseExpired: 'LeaseExpired',
  TaskLost: 'TaskLost',
  Cancelled: 'Cancelled',
  TenantQuotaExceeded: 'TenantQuotaExceeded',
} as const;

const MESSAGES: Record<string, string> = {
  [TaskErrorName.AnalysisRejected]: 'The analysis rejected this video; analysing it again fails the same way.',
  [TaskErrorName.Timeout]: 'The analysis did not finish within the workflow timeout.',
  [TaskErrorName.WorkflowNotStarted]: 'The analysis could not be started; submit the video again.',
  [TaskErrorName.ExecutionEnded]: 'The analysis ended without recording its result; submit the video again.',
  [TaskErrorName.ExecutionLost]: 'The analysis was lost before it finished; submit the video again.',
  [TaskErrorName.ExecutionAborted]: 'The analysis was stopped by an operator.',
  [TaskErrorName.LeaseExpired]: 'The task outlived its lease and a new task for the same video replaced it.',
  [TaskErrorName.TaskLost]: 'The task was replaced before its end could be recorded.',
  [TaskErrorName.Cancelled]: 'The task was cancelled through the API.',
  [TaskErrorName.TenantQuotaExceeded]:
    "The tenant's active-task limit had no room for this task; it never ran. Submit the video again once a task ends.",
};
/** Errors of the workflow's own steps (its DynamoDB writes, Lambda's service, Step Functions itself). */
const WORKFLOW_MESSAGE = 'The analysis workflow failed; the operator has the details.';
const WORKFLOW_ERROR = /^(States|DynamoDB|DynamoDb|Lambda)\.|^(FinishNotRecorded|ExecutionFailed)$/;
/** Any other name is the analysis' own error (its errorType). */
const ANALYSIS_MESSAGE = 'The analysis failed; the operator has the details.';
/** An error name as AWS and error classes spell them; anything else (free text) is not passed on. */
const SAFE_NAME = /^[A-Za-z][A-Za-z0-9_.]{0,99}$/;

/** The error a tenant may see for an error name (a Step Functions `Error`, an errorType, a name of the list above). */
export function taskError(name: string | undefined): TaskError {
  const error = name && SAFE_NAME.test(name) ? name : TaskErrorName.AnalysisFailed;
  return { error, message: MESSAGES[error] ?? (WORKFLOW_ERROR.test(error) ? WORKFLOW_MESSAGE : ANALYSIS_MESSAGE) };
}
