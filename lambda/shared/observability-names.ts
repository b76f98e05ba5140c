/**
 * The names under which the functions log, count and trace, shared by the Lambda code and the stack's dashboard and
 * alarms (lib/monitoring.ts). No SDK import.
 */
import { APP_NAME } from './deployment-names';

/** CloudWatch namespace of every application metric (Powertools Metrics, the dashboard, the alarms). */
export const METRICS_NAMESPACE = APP_NAME;

/** POWERTOOLS_SERVICE_NAME of each function: the `service` dimension of its metrics and the name in its logs. */
export const ServiceName = {
  TrackApi: 'track-api',
  TaskFinalizer: 'task-finalizer',
  TaskSweeper: 'task-sweeper',
} as const;
export type ServiceName = (typeof ServiceName)[keyof typeof ServiceName];

/** What each API request counts: one of these per request (lambda/track/track-handler.ts, the dashboard). */
export const RequestOutcome = {
  TaskCreated: 'TaskCreated',
  TaskExisting: 'TaskExisting',
  Success: 'Success',
  ClientError: 'ClientError',
  DependencyUnavailable: 'DependencyUnavailable',
  InternalError: 'InternalError',
} as const;
export type RequestOutcome = (typeof RequestOutcome)[keyof typeof RequestOutcome];

/** The repair sweep's counts (service task-sweeper). */
export const SweepMetric = {
  Repaired: 'TaskRepaired',
  RepairStarted: 'TaskRepairStarted',
  RepairEnded: 'TaskRepairEnded',
  RepairFailed: 'RepairFailed',
  /** A run found the sweep's lease held by another run and did nothing. */
  LeaseHeld: 'SweepLeaseHeld',
} as const;

/**
 * What the rules did that only a log line told before: each is a count an operator can graph and alarm on.
 * One list, so the stack's dashboard (lib/monitoring.ts) names exactly the metrics the core emits.
 */
export const ServiceEvent = {
  /** A `not_started` task whose execution never began was started again by a duplicate POST. */
  Redriven: 'TaskRedriven',
  /** A re-drive found the task's execution already ended; the task was recorded failed. */
  RedriveFoundEnded: 'RedriveFoundEnded',
  /** A task that outlived its lease was replaced by a new claim. */
  LeaseTakeover: 'LeaseTakeover',
  /** StartExecution failed; the task was recorded failed and its video freed. */
  Compensated: 'Compensation',
  /** The compensation itself failed; the task waits for a re-drive. */
  CompensationFailed: 'CompensationFailed',
  /** The execution of a task that ended outside it (cancel, takeover) was stopped: it ends ABORTED on purpose. */
  ExecutionStopped: 'ExecutionStopped',
  /** The finalizer recorded the end of an execution that ended outside the Catch. */
  FinalizerRecorded: 'FinalizerRecorded',
  /** A new task was refused because its tenant held its limit of active tasks (429). */
  TenantLimitReached: 'TenantLimitReached',
  /** The repair sweep set a tenant's active-task count that had drifted from its active tasks. */
  TenantCountReconciled: 'TenantCountReconciled',
  /**
   * The repair sweep found a tenant holding more admitted tasks than its limit (only possible after the limit was
   * lowered, or from a version before admissions): they finish normally; new tasks are refused until it is below.
   */
  TenantOverLimit: 'TenantOverLimit',
  /** The finalizer received an execution end that needed nothing (the task had already ended): counted at its edge. */
  FinalizerIgnored: 'FinalizerIgnored',
} as const;
export type ServiceEvent = (typeof ServiceEvent)[keyof typeof ServiceEvent];

/**
 * The X-Ray tracer, bundled on its own next to a traced function's index.js (lib/private/tracking-function.ts) and
 * loaded only for a sampled invocation (lambda/adapters/lazy-tracing.ts), so a cold start does not load it.
 */
export const TRACER_MODULE = 'xray-tracer';
