import { DependencyUnavailable } from '../core/errors';

const UNAVAILABLE_NAMES = new Set([
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'InternalServerError',
  'InternalServerErrorException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
]);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);

interface AwsLikeError {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

/** True for failures a later retry can fix: throttling, 5xx, timeouts, a connection that failed. */
export function isUnavailable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as AwsLikeError;
  return (
    UNAVAILABLE_NAMES.has(e.name ?? '') ||
    NETWORK_CODES.has(e.code ?? '') ||
    (e.$metadata?.httpStatusCode ?? 0) >= 500 ||
    Boolean(e.$retryable)
  );
}

/** Wraps retryable AWS failures in the domain's DependencyUnavailable; anything else is a bug or a misconfiguration. */
export function translate(error: unknown, dependency: DependencyUnavailable['dependency'], operation: string): unknown {
  return isUnavailable(error) ? new DependencyUnavailable(dependency, operation, { cause: error }) : error;
}
