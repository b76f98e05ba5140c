import { Aws, CfnOutput, type Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { AnalysisWorkflow } from './analysis-workflow';
import { type MonitoredFunction, Monitoring } from './monitoring';
import { TaskFinalizer } from './task-finalizer';
import { TaskSweeper } from './task-sweeper';
import { DEFAULT_TASK_RULES, type TaskRules } from './task-rules';
import { TaskIdSecret } from './task-id-secret';
import { TaskTable } from './task-table';
import { type ApiAuthorization, TrackApi } from './track-api';
import { COGNITO_CLAIM_ONLY } from './auth-context';
import { AuthMode, COGNITO_TENANT_CLAIM } from '../lambda/shared/auth-modes';
import { DEFAULT_TENANT_ACTIVE_TASK_LIMIT, StackOutput } from '../lambda/shared/deployment-names';
import { TrackAuth } from './track-auth';
import { Budget, BUDGET_NEEDS_EMAIL } from './budget';

/** How callers authenticate; see ApiAuthorization. `cognito` creates the user pool in this stack. */
export type TrackingAuth =
  | { readonly mode: typeof AuthMode.Cognito; readonly tenantClaim?: string }
  | Exclude<ApiAuthorization, { readonly mode: typeof AuthMode.Cognito }>;

export interface TrackingStackProps extends StackProps {
  /**
   * Authentication of API callers.
   *
   * @default - `cognito`: a user pool in this stack, its ID tokens required on every route
   */
  readonly auth?: TrackingAuth;
  /**
   * Removal policy of the table, the task-id secret and the log groups. DESTROY suits a throwaway personal stack.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * State machine timeout: the longest one analysis task may live.
   *
   * @default Duration.hours(1)
   */
  readonly workflowTimeout?: Duration;
  /**
   * How long finished tasks stay readable.
   *
   * @default Duration.days(30)
   */
  readonly taskRetention?: Duration;
  /**
   * How long a POST's Idempotency-Key is retained (`-c idempotencyRetentionHours=…`): a retry with the key within
   * it answers with the key's task. At most the task retention, so a key never outlives its task's record.
   *
   * @default Duration.hours(24)
   */
  readonly idempotencyRetention?: Duration;
  /**
   * Age after which a `not_started` task whose execution never started is started again (by the repair sweep or
   * the next POST).
   *
   * @default Duration.seconds(10)
   */
  readonly redriveGrace?: Duration;
  /**
   * How long past the workflow timeout an active task still blocks its video.
   *
   * @default Duration.minutes(5)
   */
  readonly leaseMargin?: Duration;
  /**
   * Browser origins allowed to call the API (CORS).
   *
   * @default - none
   */
  readonly corsAllowOrigins?: string[];
  /**
   * E-mail address subscribed to the alarm topic (`-c alarmEmail=…`).
   *
   * @default - no subscription
   */
  readonly alarmEmail?: string;
  /**
   * Monthly cost budget in USD (`-c budgetUsd=N`), e-mailed to `alarmEmail` (required with it): see `Budget`, which
   * tags every resource of the stack `app=<stack name>`.
   *
   * @default - no budget
   */
  readonly budgetUsd?: number;
  /**
   * Reserved concurrency of the repair sweeper (`-c sweeperReservedConcurrency=1`): see `TaskSweeperProps.reservedConcurrency`.
   *
   * @default - no reservation
   */
  readonly sweeperReservedConcurrency?: number;
  /**
   * Active tasks one tenant may hold at once (`-c tenantActiveTaskLimit=…`); a new task past it is refused with 429.
   * 0: no limit, and no tenant counter is written (a new task is one write and one start).
   *
   * @default 100
   */
  readonly tenantActiveTaskLimit?: number;
  /**
   * Reserved concurrency of the Analyse function (`-c analyseReservedConcurrency=N`): see
   * `AnalysisWorkflowProps.reservedConcurrency`.
   *
   * @default - no reservation
   */
  readonly analyseReservedConcurrency?: number;
  /**
   * The bucket the analysis reads videos from (`-c videoBucket=<name>`): see `AnalysisWorkflowProps.videoBucket`.
   *
   * @default - no bucket access
   */
  readonly videoBucket?: string;
  /**
   * Run on an existing table (`-c tableName=…`), e.g. one restored from a point in time: the stack creates no table
   * and every function, the state machine and the grants name this one. See `TaskTableProps.existingTableName`.
   *
   * @default - the stack creates its table
   */
  readonly tableName?: string;
  /**
   * Use an existing task-id keyring secret (`-c taskIdSecret=…`, its complete ARN or name), e.g. the one of the stack
   * whose table was restored: the stack creates no secret, and its ids, cursors and active items stay readable. See
   * `TaskIdSecretProps.existingSecret`.
   *
   * @default - the stack generates its secret
   */
  readonly taskIdSecret?: string;
  /** @default 50 */
  readonly throttleRateLimit?: number;
  /** @default 100 */
  readonly throttleBurstLimit?: number;
}

/** The whole backend: table, analysis workflow, finalizer and HTTP API. */
export class TrackingStack extends Stack {
  readonly table: TaskTable;
  readonly taskIdSecret: TaskIdSecret;
  readonly workflow: AnalysisWorkflow;
  readonly api: TrackApi;
  readonly finalizer: TaskFinalizer;
  readonly sweeper: TaskSweeper;
  /** The user pool and client, under `cognito` only. */
  readonly auth?: TrackAuth;
  readonly monitoring: Monitoring;

  constructor(scope: Construct, id: string, props: TrackingStackProps = {}) {
    super(scope, id, props);
    const { retention, tenantLimit } = validateProps(props);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    this.table = new TaskTable(this, 'Tasks', { removalPolicy, existingTableName: props.tableName });
    this.taskIdSecret = new TaskIdSecret(this, 'TaskIds', { removalPolicy, existingSecret: props.taskIdSecret });
    const taskIdSecret = this.taskIdSecret.secret;
    this.workflow = new AnalysisWorkflow(this, 'Analysis', {
      table: this.table.table,
      timeout: props.workflowTimeout,
      reservedConcurrency: props.analyseReservedConcurrency,
      videoBucket: props.videoBucket,
      countsTenantTasks: tenantLimit > 0,
      removalPolicy,
    });
    const rules: TaskRules = {
      workflowTimeout: this.workflow.timeout,
      redriveGrace: props.redriveGrace ?? DEFAULT_TASK_RULES.redriveGrace,
      leaseMargin: props.leaseMargin ?? DEFAULT_TASK_RULES.leaseMargin,
      taskRetention: retention,
      tenantActiveTaskLimit: tenantLimit,
      idempotencyRetention: props.idempotencyRetention ?? DEFAULT_TASK_RULES.idempotencyRetention,
    };
    const { authorization, trackAuth } = apiAuthorization(
      this,
      props.auth ?? { mode: AuthMode.Cognito },
      removalPolicy,
    );
    this.auth = trackAuth;
    this.api = new TrackApi(this, 'Track', {
      authorization,
      table: this.table.table,
      stateMachine: this.workflow.stateMachine,
      taskIdSecret,
      rules,
      throttleRateLimit: props.throttleRateLimit,
      throttleBurstLimit: props.throttleBurstLimit,
      corsAllowOrigins: props.corsAllowOrigins,
      removalPolicy,
    });
    this.finalizer = new TaskFinalizer(this, 'Finalizer', {
      table: this.table.table,
      stateMachine: this.workflow.stateMachine,
      taskIdSecret,
      rules,
      removalPolicy,
    });
    this.sweeper = new TaskSweeper(this, 'Sweeper', {
      table: this.table.table,
      stateMachine: this.workflow.stateMachine,
      taskIdSecret,
      rules,
      reservedConcurrency: props.sweeperReservedConcurrency,
      removalPolicy,
    });
    this.monitoring = new Monitoring(this, 'Monitoring', {
      api: this.api.api,
      apiHandler: this.api.handler,
      functions: monitoredFunctions(this),
      stateMachine: this.workflow.stateMachine,
      executionLogGroup: this.workflow.executionLogGroup,
      table: this.table.table,
      deadLetterQueue: this.finalizer.deadLetterQueue,
      alarmEmail: props.alarmEmail,
    });
    if (props.budgetUsd !== undefined) {
      if (!props.alarmEmail) throw new Error(BUDGET_NEEDS_EMAIL);
      new Budget(this, 'CostBudget', { limitUsd: props.budgetUsd, email: props.alarmEmail });
    }
    addOutputs(this);
  }
}

/** Validates the props that no construct below validates; returns the task retention and tenant limit. */
function validateProps(props: TrackingStackProps): { retention: Duration; tenantLimit: number } {
  const retention = props.taskRetention ?? DEFAULT_TASK_RULES.taskRetention;
  if (retention.toSeconds() < 86400) throw new Error('taskRetention must be at least one day.');
  const keys = props.idempotencyRetention ?? DEFAULT_TASK_RULES.idempotencyRetention;
  if (keys.toSeconds() < 1 || keys.toSeconds() > retention.toSeconds())
    throw new Error('idempotencyRetention must be positive and at most taskRetention.');
  if (
    props.auth?.mode === AuthMode.Cognito &&
    props.auth.tenantClaim !== undefined &&
    props.auth.tenantClaim !== COGNITO_TENANT_CLAIM
  ) {
    throw new Error(COGNITO_CLAIM_ONLY);
  }
  const tenantLimit = props.tenantActiveTaskLimit ?? DEFAULT_TENANT_ACTIVE_TASK_LIMIT;
  if (!Number.isInteger(tenantLimit) || tenantLimit < 0)
    throw new Error('tenantActiveTaskLimit must be a whole number, 0 for no limit.');
  return { retention, tenantLimit };
}

/** The API's authorization; under `cognito` (the default) it creates the stack's user pool and client. */
function apiAuthorization(
  scope: Construct,
  auth: TrackingAuth,
  removalPolicy: RemovalPolicy,
): { authorization: ApiAuthorization; trackAuth?: TrackAuth } {
  if (auth.mode !== AuthMode.Cognito) return { authorization: auth };
  const trackAuth = new TrackAuth(scope, 'Auth', { removalPolicy });
  return {
    trackAuth,
    authorization: {
      mode: AuthMode.Cognito,
      userPool: trackAuth.userPool,
      userPoolClient: trackAuth.userPoolClient,
      tenantClaim: auth.tenantClaim,
    },
  };
}

/** Every function of the stack, each alarmed on and searched by the saved queries. */
function monitoredFunctions(stack: TrackingStack): MonitoredFunction[] {
  return [
    { name: 'Handler', function: stack.api.handler, logGroup: stack.api.handler.logGroup },
    { name: 'Finalizer', function: stack.finalizer.function, logGroup: stack.finalizer.function.logGroup },
    { name: 'Sweeper', function: stack.sweeper.function, logGroup: stack.sweeper.function.logGroup },
    // A rejected video is an Error by contract (AnalysisRejected); only a run of them is worth a page.
    {
      name: 'Analyse',
      function: stack.workflow.analyseFunction,
      logGroup: stack.workflow.analyseFunction.logGroup,
      errorThreshold: 5,
    },
  ];
}

/** The stack's outputs: the URLs, names and log groups an operator and `npm run token` look up. */
function addOutputs(stack: TrackingStack): void {
  // Outputs sit on the stack itself, so each id is its output key, with no hash suffix (StackOutput).
  const output = (id: string, value: string, description: string) => new CfnOutput(stack, id, { value, description });
  output(StackOutput.ApiUrl, stack.api.api.apiEndpoint, 'Base URL of the API');
  if (stack.auth) {
    // npm run token reads these to create a test user and sign it in.
    output(StackOutput.UserPoolId, stack.auth.userPool.userPoolId, 'Cognito user pool of the API users');
    output(
      StackOutput.UserPoolClientId,
      stack.auth.userPoolClient.userPoolClientId,
      'App client for the frontend (no secret)',
    );
  }
  output('TableName', stack.table.table.tableName, 'The task table');
  output(
    'TaskIdSecretArn',
    stack.taskIdSecret.secret.secretArn,
    'The task-id keyring secret (-c taskIdSecret=… for a stack restored from this one)',
  );
  output('StateMachineArn', stack.workflow.stateMachine.stateMachineArn, 'The analysis workflow');
  output(
    'DashboardUrl',
    `https://${Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region=${Aws.REGION}#dashboards:name=${stack.monitoring.dashboard.dashboardName}`,
    'CloudWatch dashboard',
  );
  output('AlarmTopicArn', stack.monitoring.topic.topicArn, 'SNS topic every alarm notifies; subscribe to it');
  output(
    'FinalizerFunctionName',
    stack.finalizer.function.functionName,
    'Invoke it with a dead-lettered event to redrive it',
  );
  output(
    'DeadLetterQueueUrl',
    stack.finalizer.deadLetterQueue.queueUrl,
    'Execution-end events the finalizer could not process',
  );
  output('HandlerLogGroup', stack.api.handler.logGroup.logGroupName, 'API handler logs (aws logs tail)');
  output('FinalizerLogGroup', stack.finalizer.function.logGroup.logGroupName, 'Finalizer logs');
  output('SweeperLogGroup', stack.sweeper.function.logGroup.logGroupName, 'Repair sweep logs');
  output('AnalyseLogGroup', stack.workflow.analyseFunction.logGroup.logGroupName, 'Analyse function logs');
  output(
    'ExecutionLogGroup',
    stack.workflow.executionLogGroup.logGroupName,
    'State machine execution logs (ERROR level)',
  );
}
