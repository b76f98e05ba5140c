import { DEFAULT_SWEEP_OPTIONS, type SweepOptions } from '../core/repair-sweep';
import { DEFAULT_TASK_SERVICE_CONFIG, type TaskServiceConfig } from '../core/task-recovery';
import { type NumberRule, parseNumber } from '../shared/parse-number';

/** Environment parsing for the composition roots (the Lambda entries, the bench): the core reads no environment. */

type Env = Record<string, string | undefined>;

export function requireEnv(env: Env, name: string): string {
  const value = env[name];
  if (!value) throw new Error(`Environment variable ${name} is not set; the stack (lib/) sets it for every function.`);
  return value;
}

/** A numeric variable, or `fallback` when it is not set. */
function numberVar(env: Env, name: string, fallback: number, rule: NumberRule): number {
  return parseNumber(env[name], `Environment variable ${name}`, rule) ?? fallback;
}

/** An amount of time or a retention: 0 or more, fractions allowed. */
const AMOUNT: NumberRule = { whole: false };
/** A count: a whole number, 0 or more. */
const COUNT: NumberRule = {};

/** Service timings and the tenant limit (TENANT_ACTIVE_TASK_LIMIT, 0 = none) from the environment; each falls back to DEFAULT_TASK_SERVICE_CONFIG. */
export function serviceConfigFromEnv(env: Env): TaskServiceConfig {
  const d = DEFAULT_TASK_SERVICE_CONFIG;
  return {
    redriveGraceSeconds: numberVar(env, 'REDRIVE_GRACE_SECONDS', d.redriveGraceSeconds, AMOUNT),
    workflowTimeoutSeconds: numberVar(env, 'WORKFLOW_TIMEOUT_SECONDS', d.workflowTimeoutSeconds, AMOUNT),
    leaseMarginSeconds: numberVar(env, 'LEASE_MARGIN_SECONDS', d.leaseMarginSeconds, AMOUNT),
    retentionSeconds: numberVar(env, 'TASK_RETENTION_DAYS', d.retentionSeconds / 86400, AMOUNT) * 86400,
    tenantActiveTaskLimit: numberVar(env, 'TENANT_ACTIVE_TASK_LIMIT', d.tenantActiveTaskLimit, COUNT),
    idempotencyRetentionSeconds: numberVar(env, 'IDEMPOTENCY_RETENTION_SECONDS', d.idempotencyRetentionSeconds, AMOUNT),
  };
}

/** The repair sweep's bounds from the environment (SWEEP_MAX_TASKS, SWEEP_CONCURRENCY, SWEEP_LIST_THRESHOLD); grace as the service's. */
export function sweepOptionsFromEnv(env: Env, config: TaskServiceConfig): SweepOptions {
  return {
    graceSeconds: config.redriveGraceSeconds,
    maxTasks: Math.max(1, numberVar(env, 'SWEEP_MAX_TASKS', DEFAULT_SWEEP_OPTIONS.maxTasks, COUNT)),
    concurrency: Math.max(1, numberVar(env, 'SWEEP_CONCURRENCY', DEFAULT_SWEEP_OPTIONS.concurrency, COUNT)),
    listThreshold: numberVar(env, 'SWEEP_LIST_THRESHOLD', DEFAULT_SWEEP_OPTIONS.listThreshold, COUNT),
  };
}
