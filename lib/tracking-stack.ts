import { Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { AnalysisWorkflow } from './analysis-workflow';
import { TaskFinalizer } from './task-finalizer';
import { TaskSweeper } from './task-sweeper';
import { TaskTable } from './task-table';
import { type ApiAuthorization, TrackApi } from './track-api';
import { TrackAuth } from './track-auth';

/** How callers authenticate; see ApiAuthorization. `cognito` creates the user pool in this stack. */
export type TrackingAuth =
  | { readonly mode: 'cognito'; readonly tenantClaim?: string }
  | Exclude<ApiAuthorization, { readonly mode: 'cognito' }>;

export interface TrackingStackProps extends StackProps {
  /**
   * Authentication of API callers.
   *
   * @default - `cognito`: a user pool in this stack, its ID tokens required on every route
   */
  readonly auth?: TrackingAuth;
  /**
   * Removal policy of the table and log groups. DESTROY suits a throwaway personal stack.
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
   * Declare AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_SFN in the functions' environment, pointing at the
   * containers of the `sam local invoke` setup (see README). `sam local invoke --env-vars` can only override
   * variables the template declares. Never deploy a template synthesized with this.
   *
   * @default false
   */
  readonly localEndpoints?: boolean;
  /** @default 50 */
  readonly throttleRateLimit?: number;
  /** @default 100 */
  readonly throttleBurstLimit?: number;
}

/** Where the `sam local invoke` setup's containers answer, on its Docker network (README, "sam local invoke"). */
export const SAM_LOCAL_ENDPOINTS = {
  AWS_ENDPOINT_URL_DYNAMODB: 'http://dynamodb:8000',
  AWS_ENDPOINT_URL_SFN: 'http://stepfunctions:8083',
};

/** The whole backend: table, analysis workflow, finalizer and HTTP API. */
export class TrackingStack extends Stack {
  readonly table: TaskTable;
  readonly workflow: AnalysisWorkflow;
  readonly api: TrackApi;
  readonly finalizer: TaskFinalizer;
  readonly sweeper: TaskSweeper;
  /** The user pool and client, under `cognito` only. */
  readonly auth?: TrackAuth;

  constructor(scope: Construct, id: string, props: TrackingStackProps = {}) {
    super(scope, id, props);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const retention = props.taskRetention ?? Duration.days(30);
    if (retention.toSeconds() < 86400) throw new Error('taskRetention must be at least one day.');

    this.table = new TaskTable(this, 'Tasks', { removalPolicy });
    this.workflow = new AnalysisWorkflow(this, 'Analysis', {
      table: this.table.table,
      timeout: props.workflowTimeout,
      removalPolicy,
    });
    const serviceEnvironment = {
      WORKFLOW_TIMEOUT_SECONDS: String(this.workflow.timeout.toSeconds()),
      REDRIVE_GRACE_SECONDS: String((props.redriveGrace ?? Duration.seconds(10)).toSeconds()),
      LEASE_MARGIN_SECONDS: String((props.leaseMargin ?? Duration.minutes(5)).toSeconds()),
      TASK_RETENTION_DAYS: String(retention.toDays()),
      ...(props.localEndpoints ? SAM_LOCAL_ENDPOINTS : {}),
    };
    const auth = props.auth ?? { mode: 'cognito' };
    let authorization: ApiAuthorization;
    if (auth.mode === 'cognito') {
      this.auth = new TrackAuth(this, 'Auth', { removalPolicy });
      authorization = { mode: 'cognito', userPool: this.auth.userPool, userPoolClient: this.auth.userPoolClient, tenantClaim: auth.tenantClaim };
    } else {
      authorization = auth;
    }
    this.api = new TrackApi(this, 'Track', {
      authorization,
      table: this.table.table,
      stateMachine: this.workflow.stateMachine,
      serviceEnvironment,
      throttleRateLimit: props.throttleRateLimit,
      throttleBurstLimit: props.throttleBurstLimit,
      corsAllowOrigins: props.corsAllowOrigins,
      removalPolicy,
    });
    this.finalizer = new TaskFinalizer(this, 'Finalizer', {
      table: this.table.table,
      stateMachine: this.workflow.stateMachine,
      serviceEnvironment,
      removalPolicy,
    });
    this.sweeper = new TaskSweeper(this, 'Sweeper', {
      table: this.table.table,
      stateMachine: this.workflow.stateMachine,
      serviceEnvironment,
      removalPolicy,
    });
  }
}
