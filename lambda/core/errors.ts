import type { Task } from './task';

/** The request broke a documented input rule; nothing was touched. */
export class InvalidRequest extends Error {
  override readonly name = 'InvalidRequest';
  constructor(
    readonly field: string | undefined,
    detail: string,
  ) {
    super(detail);
  }
}

/** The tenant already has `limit` active tasks; the new one was not created (not transient: a slot frees when a task ends). */
export class TenantQuotaExceeded extends Error {
  override readonly name = 'TenantQuotaExceeded';
  constructor(
    readonly limit: number,
    readonly activeCount: number,
  ) {
    super(`the tenant has ${activeCount} active tasks; the limit is ${limit}`);
  }
}

/** A conditional finish lost: the task had already left the expected state. */
export class TaskNotInExpectedState extends Error {
  override readonly name = 'TaskNotInExpectedState';
  constructor(readonly taskId: string) {
    super(`task ${taskId} is no longer in the expected state`);
  }
}

/** The task already finished and cannot be cancelled. */
export class TaskAlreadyFinished extends Error {
  override readonly name = 'TaskAlreadyFinished';
  constructor(readonly task: Task) {
    super(`task ${task.taskId} already finished with status ${task.status}`);
  }
}

/**
 * A cancel of a claim whose admission under the tenant's limit is not decided yet: nothing was written. The admission
 * lands within a request's time; one stuck behind failing writes is decided by a re-drive after the grace period.
 */
export class AdmissionPending extends Error {
  override readonly name = 'AdmissionPending';
  constructor(
    readonly taskId: string,
    readonly retryAfterSeconds: number,
  ) {
    super(`task ${taskId} is waiting for a slot under its tenant's limit`);
  }
}

/** The Idempotency-Key was first sent with another request body; nothing was touched. */
export class IdempotencyKeyMismatch extends Error {
  override readonly name = 'IdempotencyKeyMismatch';
  constructor() {
    super('the Idempotency-Key was already used with a different request');
  }
}

export class TaskNotFound extends Error {
  override readonly name = 'TaskNotFound';
  constructor(what: string) {
    super(`no ${what}`);
  }
}

/** An execution with this name already exists and cannot be started again (it closed, or its input differs). */
export class WorkflowAlreadyStarted extends Error {
  override readonly name = 'WorkflowAlreadyStarted';
}

/** A dependency (DynamoDB, Step Functions) was throttled or unavailable after the SDK's own retries. */
export class DependencyUnavailable extends Error {
  override readonly name = 'DependencyUnavailable';
  constructor(
    readonly dependency: 'dynamodb' | 'stepfunctions' | 'secretsmanager',
    readonly operation: string,
    options?: { cause?: unknown; retryAfterSeconds?: number; taskId?: string },
  ) {
    super(`${dependency} ${operation} failed`, options);
    this.retryAfterSeconds = options?.retryAfterSeconds;
    this.taskId = options?.taskId;
  }
  /** When a retry can succeed, if later than the default (e.g. a task left for re-drive after the grace period). */
  readonly retryAfterSeconds?: number;
  /** The task the failed request had already created, so its log lines can be found by task_id. */
  readonly taskId?: string;
}

/** The verified token carries no tenant claim, or one that breaks the tenant rules. */
export class TenantClaimInvalid extends Error {
  override readonly name = 'TenantClaimInvalid';
  constructor(
    readonly claim: string,
    detail: string,
  ) {
    super(detail);
  }
}

/** The request names a tenant other than the token's; nothing was touched. */
export class TenantMismatch extends Error {
  override readonly name = 'TenantMismatch';
  constructor(
    readonly tokenTenantId: string,
    readonly requestTenantId: string,
    readonly source: 'body' | 'query',
  ) {
    super(`The ${source} names tenant ${requestTenantId}, but the token belongs to tenant ${tokenTenantId}.`);
  }
}
