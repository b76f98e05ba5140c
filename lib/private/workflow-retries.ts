import { Duration } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';

/** The analysis workflow's retry policies: which errors each kind of state waits out, and for how long. */

/** Errors of the finishing transaction after which writing it again can succeed (the SDK integration's names). */
export const FINISH_TRANSIENT_ERRORS = [
  'DynamoDb.TransactionCanceledException',
  'DynamoDb.ProvisionedThroughputExceededException',
  'DynamoDb.ThrottlingException',
  'DynamoDb.RequestLimitExceeded',
  'DynamoDb.InternalServerError',
  'DynamoDb.InternalServerErrorException',
];
/**
 * Lambda refusing or failing to run the function (not the function's own error), by Step Functions' names: the
 * invocation never ran the analysis, so waiting and invoking again is always right.
 */
const LAMBDA_THROTTLE_AND_SERVICE_ERRORS = [
  'Lambda.TooManyRequestsException',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
];
/** DynamoDB throttling and 5xx, under both integrations' prefixes ("DynamoDB." optimized, "DynamoDb." AWS SDK). */
const DYNAMODB_THROTTLE_AND_SERVICE_ERRORS = ['DynamoDB', 'DynamoDb'].flatMap((prefix) =>
  [
    'ProvisionedThroughputExceededException',
    'ThrottlingException',
    'RequestLimitExceeded',
    'InternalServerError',
    'InternalServerErrorException',
  ].map((name) => `${prefix}.${name}`),
);
/** Backoff of a throttled call: 1 s doubling, each wait capped and fully jittered so retries of many executions spread out. */
const THROTTLE_INTERVAL = Duration.seconds(1);
const THROTTLE_MAX_DELAY = Duration.seconds(60);

/**
 * Throttles are retried until the execution's timeout ends them: enough attempts to outlast it even if every fully
 * jittered wait were a tenth of its cap.
 */
function throttleRetry(errors: string[], executionTimeout: Duration): sfn.RetryProps {
  return {
    errors,
    interval: THROTTLE_INTERVAL,
    backoffRate: 2,
    maxDelay: THROTTLE_MAX_DELAY,
    jitterStrategy: sfn.JitterType.FULL,
    maxAttempts: Math.ceil(executionTimeout.toSeconds() / (THROTTLE_MAX_DELAY.toSeconds() / 10)),
  };
}

/** A DynamoDB step's last retriers: throttling and 5xx until the execution's timeout, any other error three times. */
function addDynamoDbRetries(state: sfn.TaskStateBase, executionTimeout: Duration): void {
  state.addRetry(throttleRetry(DYNAMODB_THROTTLE_AND_SERVICE_ERRORS, executionTimeout));
  state.addRetry({ errors: [sfn.Errors.ALL], maxAttempts: 3, interval: Duration.seconds(1), backoffRate: 2 });
}

/** MarkRunning: losing the condition is final (cancelled, finished or replaced); anything else is worth retrying. */
export function addMarkRunningRetries(state: sfn.TaskStateBase, executionTimeout: Duration): void {
  state.addRetry({ errors: ['DynamoDB.ConditionalCheckFailedException'], maxAttempts: 0 });
  addDynamoDbRetries(state, executionTimeout);
}

export function addAnalyseRetries(state: sfn.TaskStateBase, executionTimeout: Duration): void {
  // A rejected video fails the same way every time: do not retry it.
  state.addRetry({ errors: ['AnalysisRejected'], maxAttempts: 0 });
  // Lambda did not run the analysis (concurrency reached, service error): wait for capacity, the task stays running.
  state.addRetry(throttleRetry(LAMBDA_THROTTLE_AND_SERVICE_ERRORS, executionTimeout));
  state.addRetry({
    errors: [sfn.Errors.ALL],
    interval: Duration.seconds(2),
    backoffRate: 2,
    maxAttempts: 2,
    jitterStrategy: sfn.JitterType.FULL,
  });
}

export function addFinishRetries(state: sfn.TaskStateBase, executionTimeout: Duration): void {
  // Cancelled by a failed condition (the task already ended) or by a conflicting write: try again a few times;
  // CheckStillActive then tells which it was.
  state.addRetry({
    errors: ['DynamoDb.TransactionCanceledException'],
    maxAttempts: 3,
    interval: Duration.seconds(1),
    backoffRate: 2,
    jitterStrategy: sfn.JitterType.FULL,
  });
  addDynamoDbRetries(state, executionTimeout);
}

/** The consistent reads that tell whether the task is still this execution's. */
export function addReadRetries(state: sfn.TaskStateBase, executionTimeout: Duration): void {
  addDynamoDbRetries(state, executionTimeout);
}
