import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import {
  AdmissionPending,
  DependencyUnavailable,
  IdempotencyKeyMismatch,
  InvalidRequest,
  TaskAlreadyFinished,
  TaskNotFound,
  TaskNotInExpectedState,
  TenantClaimInvalid,
  TenantMismatch,
  TenantQuotaExceeded,
} from '../core/errors';

export type HttpResponse = APIGatewayProxyStructuredResultV2 & { statusCode: number; headers: Record<string, string> };

/** The shortest wait a 503 asks for when its failure names none. */
export const RETRY_AFTER_SECONDS = 2;

/**
 * The one rule for every Retry-After the service sends: whole seconds drawn per answer from base..2×base, so clients
 * refused in the same moment do not all come back in the same second. `base` is the shortest wait that can succeed.
 */
export function retryAfter(baseSeconds: number, random: () => number = Math.random): string {
  const base = Math.max(1, Math.ceil(baseSeconds));
  return String(base + Math.min(base, Math.floor(random() * (base + 1))));
}

// nosniff: a browser must never read a body (which may echo a filename) as anything but its declared type.
export const BASE_HEADERS = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' };

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return {
    statusCode,
    headers: { ...BASE_HEADERS, 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}

/** An RFC 9457 problem document. `type` is a relative URI documented in the README. */
export function problem(
  statusCode: number,
  slug: string,
  title: string,
  detail: string,
  extra: { headers?: Record<string, string>; members?: Record<string, unknown> } = {},
): HttpResponse {
  return {
    statusCode,
    headers: { ...BASE_HEADERS, 'Content-Type': 'application/problem+json', ...extra.headers },
    body: JSON.stringify({ type: `/problems/${slug}`, title, status: statusCode, detail, ...extra.members }),
  };
}

/** The one place a failure becomes an HTTP answer. Internal errors never reach the client. */
export function errorResponse(error: unknown, random: () => number = Math.random): HttpResponse {
  if (error instanceof InvalidRequest) {
    return problem(400, 'invalid-request', 'Invalid request', error.message, {
      members: error.field ? { field: error.field } : {},
    });
  }
  if (error instanceof TenantMismatch) {
    return problem(403, 'tenant-mismatch', 'Tenant mismatch', error.message, {
      members: { token_tenant_id: error.tokenTenantId, request_tenant_id: error.requestTenantId, source: error.source },
    });
  }
  if (error instanceof TenantClaimInvalid) {
    return problem(403, 'tenant-claim-invalid', 'Tenant claim invalid', error.message, {
      members: { claim: error.claim },
    });
  }
  if (error instanceof IdempotencyKeyMismatch) {
    return problem(
      422,
      'idempotency-key-mismatch',
      'Idempotency-Key reused',
      'This Idempotency-Key was already used with a different request body; use a new key for a new request.',
      { members: { field: 'Idempotency-Key' } },
    );
  }
  if (error instanceof TaskNotFound) return problem(404, 'not-found', 'Not found', `There is ${error.message}.`);
  if (error instanceof TaskAlreadyFinished) {
    return problem(
      409,
      'task-finished',
      'Task already finished',
      `Task ${error.task.taskId} already ended as ${error.task.status}; it cannot be cancelled.`,
      {
        members: { task_id: error.task.taskId, task_status: error.task.status },
      },
    );
  }
  if (error instanceof AdmissionPending) {
    return problem(
      409,
      'admission-pending',
      'Admission pending',
      `Task ${error.taskId} is waiting for a slot under its tenant's active-task limit; retry after Retry-After seconds.`,
      { members: { task_id: error.taskId }, headers: { 'Retry-After': retryAfter(error.retryAfterSeconds, random) } },
    );
  }
  // No Retry-After: a slot frees only when one of the tenant's tasks ends, which no delay predicts.
  if (error instanceof TenantQuotaExceeded) {
    return problem(
      429,
      'tenant-quota-exceeded',
      'Tenant quota exceeded',
      `The tenant already has ${error.activeCount} active tasks, its limit is ${error.limit}: wait for one to end (or cancel one), then try again.`,
      { members: { limit: error.limit, active_count: error.activeCount } },
    );
  }
  // TaskNotInExpectedState here: the task kept changing under repeated attempts; a retry will see it settled.
  if (error instanceof DependencyUnavailable || error instanceof TaskNotInExpectedState) {
    return problem(
      503,
      'service-unavailable',
      'Service unavailable',
      'A backing service is busy or unavailable. Retry after the delay given in Retry-After.',
      {
        headers: {
          'Retry-After': retryAfter(
            (error instanceof DependencyUnavailable && error.retryAfterSeconds) || RETRY_AFTER_SECONDS,
            random,
          ),
        },
      },
    );
  }
  return problem(500, 'internal-error', 'Internal error', 'The request failed unexpectedly. It has been logged.');
}
