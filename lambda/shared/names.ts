/**
 * Names the Lambda code, the CDK app (lib/), the local system and the benches must agree on. No SDK import: lib/
 * and the browser bundle may import it.
 */

const APP_NAME = 'VideoTracking';
/** CloudWatch namespace of every application metric (Powertools Metrics, the dashboard, the alarms). */
export const METRICS_NAMESPACE = APP_NAME;
/** The stack's name unless `-c stackName=…` names another (bin/app.ts, the local system, the token tool). */
export const DEFAULT_STACK_NAME = APP_NAME;

/** Ids of the stack outputs that tools read (tools/token/), exactly as they appear in CloudFormation: no hash suffix. */
export const StackOutput = {
  ApiUrl: 'ApiUrl',
  UserPoolId: 'UserPoolId',
  UserPoolClientId: 'UserPoolClientId',
} as const;

/** Active tasks one tenant may hold unless the stack's `tenantActiveTaskLimit` says otherwise (0 = no limit). */
export const DEFAULT_TENANT_ACTIVE_TASK_LIMIT = 100;

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
  /** The finalizer received an execution end that needed nothing (the task had already ended): counted at its edge. */
  FinalizerIgnored: 'FinalizerIgnored',
} as const;
export type ServiceEvent = (typeof ServiceEvent)[keyof typeof ServiceEvent];

/** The API's routes, as API Gateway is configured with them (lib/track-api.ts) and the local server matches them. */
export const Route = { Collection: '/api/v1/track', Item: '/api/v1/track/{task_id}' } as const;
export const TASK_ID_PARAM = 'task_id';

/** The environment variable holding the key of task ids (lambda/shared/task-keys.ts) in every function that derives them. */
export const TASK_ID_KEY_ENV = 'TASK_ID_KEY';

/** How the API authenticates its callers (the stack's `auth` context; the handler's env `AUTH_MODE`). */
export const AuthMode = { Cognito: 'cognito', Jwt: 'jwt', Iam: 'iam', None: 'none' } as const;
export type AuthMode = (typeof AuthMode)[keyof typeof AuthMode];

/** The token claim that holds the caller's tenant, unless the deployment names another. */
export const DEFAULT_TENANT_CLAIM = 'tenant_id';
/** Cognito prefixes custom attributes with `custom:` in its tokens. */
export const COGNITO_TENANT_CLAIM = 'custom:tenant_id';

/** The claim a mode reads the tenant from when the deployment names none. */
export function defaultTenantClaim(mode: AuthMode): string {
  return mode === AuthMode.Cognito ? COGNITO_TENANT_CLAIM : DEFAULT_TENANT_CLAIM;
}

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

/**
 * The X-Ray tracer, bundled on its own next to a traced function's index.js (lib/private/tracking-function.ts) and
 * loaded only for a sampled invocation (lambda/adapters/lazy-tracing.ts), so a cold start does not load it.
 */
export const TRACER_MODULE = 'xray-tracer';
