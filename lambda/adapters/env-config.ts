import { DEFAULT_SWEEP_OPTIONS, type SweepOptions } from '../core/repair-sweep';
import { DEFAULT_TASK_SERVICE_CONFIG, type TaskServiceConfig } from '../core/task-recovery';

/** Environment parsing for the composition roots (the Lambda entries, the bench): the core reads no environment. */

type Env = Record<string, string | undefined>;

export function requireEnv(env: Env, name: string): string {
  const value = env[name];
  if (!value) throw new Error(`Environment variable ${name} is not set; the stack (lib/) sets it for every function.`);
  return value;
}

function seconds(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0)
    throw new Error(`Environment variable ${name} must be a non-negative number, got "${raw}".`);
  return value;
}

function count(env: Env, name: string, fallback: number): number {
  const value = seconds(env, name, fallback);
  if (!Number.isInteger(value))
    throw new Error(`Environment variable ${name} must be a whole number, got "${env[name]}".`);
  return value;
}

/** Service timings and the tenant limit (TENANT_ACTIVE_TASK_LIMIT, 0 = none) from the environment; each falls back to DEFAULT_TASK_SERVICE_CONFIG. */
export function serviceConfigFromEnv(env: Env): TaskServiceConfig {
  const d = DEFAULT_TASK_SERVICE_CONFIG;
  return {
    redriveGraceSeconds: seconds(env, 'REDRIVE_GRACE_SECONDS', d.redriveGraceSeconds),
    workflowTimeoutSeconds: seconds(env, 'WORKFLOW_TIMEOUT_SECONDS', d.workflowTimeoutSeconds),
    leaseMarginSeconds: seconds(env, 'LEASE_MARGIN_SECONDS', d.leaseMarginSeconds),
    retentionSeconds: seconds(env, 'TASK_RETENTION_DAYS', d.retentionSeconds / 86400) * 86400,
    tenantActiveTaskLimit: count(env, 'TENANT_ACTIVE_TASK_LIMIT', d.tenantActiveTaskLimit),
  };
}

/** The repair sweep's bounds from the environment (SWEEP_MAX_TASKS, SWEEP_CONCURRENCY, SWEEP_LIST_THRESHOLD); grace as the service's. */
export function sweepOptionsFromEnv(env: Env, config: TaskServiceConfig): SweepOptions {
  return {
    graceSeconds: config.redriveGraceSeconds,
    maxTasks: Math.max(1, Math.floor(seconds(env, 'SWEEP_MAX_TASKS', DEFAULT_SWEEP_OPTIONS.maxTasks))),
    concurrency: Math.max(1, Math.floor(seconds(env, 'SWEEP_CONCURRENCY', DEFAULT_SWEEP_OPTIONS.concurrency))),
    listThreshold: Math.floor(seconds(env, 'SWEEP_LIST_THRESHOLD', DEFAULT_SWEEP_OPTIONS.listThreshold)),
  };
}
