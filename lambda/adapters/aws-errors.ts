import { DependencyUnavailable } from '../core/errors';

const UNAVAILABLE_NAMES = new Set([
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  // StartExecution: the account's open executions quota (1,000,000) is reached; it frees as executions end.
  'ExecutionLimitExceeded',
  // Step Functions throttled by KMS on a customer managed key (StartExecution, StopExecution).
  'KmsThrottlingException',
  // DynamoDB multi-Region strong consistency: the item is being written in another Region; a retry can succeed.
  'ReplicatedWriteConflictException',
  'InternalServerError',
  'InternalServerErrorException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  // A conflicting transaction on the same item; the SDK does not retry it.
  'TransactionConflictException',
]);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);

/** Reasons a transaction is cancelled that a later retry can fix. */
const UNAVAILABLE_CANCELLATION_CODES = new Set([
  'ThrottlingError',
  'ProvisionedThroughputExceeded',
  'RequestLimitExceeded',
  'TransactionConflict',
]);

interface AwsLikeError {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
  CancellationReasons?: { Code?: string }[];
}

/** True for failures a later retry can fix: throttling, 5xx, timeouts, a connection that failed. */
export function isUnavailable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as AwsLikeError;
  return (
    UNAVAILABLE_NAMES.has(e.name ?? '') ||
    NETWORK_CODES.has(e.code ?? '') ||
    (e.$metadata?.httpStatusCode ?? 0) >= 500 ||
    Boolean(e.$retryable) ||
    (e.CancellationReasons ?? []).some((r) => UNAVAILABLE_CANCELLATION_CODES.has(r.Code ?? ''))
  );
}

/** Wraps retryable AWS failures in the domain's DependencyUnavailable; anything else is a bug or a misconfiguration. */
export function translate(error: unknown, dependency: DependencyUnavailable['dependency'], operation: string): unknown {
  return isUnavailable(error) ? new DependencyUnavailable(dependency, operation, { cause: error }) : error;
}
