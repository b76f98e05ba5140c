import { type CfnResource, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import * as path from 'node:path';
import { STORAGE_PREFIX } from '../lambda/core/storage-key';
import { TrackingFunction } from './private/tracking-function';
import { workflowDefinition } from './private/workflow-states';

export interface AnalysisWorkflowProps {
  /** The task table whose items the workflow moves through their statuses. */
  readonly table: dynamodb.ITable;
  /**
   * The longest an execution may run; past it the execution is TIMED_OUT.
   *
   * @default Duration.hours(1)
   */
  readonly timeout?: Duration;
  /**
   * How long one analysis attempt may run (the Analyse function's timeout).
   *
   * @default Duration.minutes(5)
   */
  readonly analysisTimeout?: Duration;
  /**
   * How long the placeholder analysis pretends to work.
   *
   * @default Duration.seconds(2)
   */
  readonly placeholderDelay?: Duration;
  /**
   * Removal policy of the workflow's log groups.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Reserved concurrency of the Analyse function: a floor the other functions cannot take from it and a ceiling it
   * cannot pass. Lambda refuses a reservation that leaves less than the account's minimum unreserved concurrency
   * (docs/DEPLOY.md, "Lambda concurrency quota"). Throttled invocations wait and are retried either way.
   *
   * @default - no reservation
   */
  readonly reservedConcurrency?: number;
  /**
   * The S3 bucket that holds the videos (`-c videoBucket=<name>`): the Analyse function gets `s3:GetObject` on its
   * `tenants/*` keys only (where every task's `storage_key` points) and the name in `VIDEO_BUCKET`.
   *
   * @default - no bucket access
   */
  readonly videoBucket?: string;
  /**
   * Whether tasks are counted against their tenant's limit: the finishing transactions then give the slot back. The
   * stack passes `tenantActiveTaskLimit > 0`; with no limit no counter is written.
   *
   * @default true
   */
  readonly countsTenantTasks?: boolean;
}

const DEFAULT_TIMEOUT = Duration.hours(1);
const DEFAULT_ANALYSIS_TIMEOUT = Duration.minutes(5);

/**
 * MarkRunning -> Analyse -> MarkCompleted (three states on success), with every failure caught into MarkFailed.
 * Each status change is one conditional write on (task_key, task_id, expected status), so a late step can never
 * overwrite a newer state; the finishing steps free the video and the tenant's slot in the same transaction that
 * records the end, built by lambda/shared/finish-write.ts exactly as the DynamoDB adapter builds its own finish.
 * The states are in lib/private/workflow-states.ts, the finishing steps and retry policies beside it.
 */
export class AnalysisWorkflow extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly analyseFunction: TrackingFunction;
  /** The state machine's execution log group (ERROR level). */
  readonly executionLogGroup: logs.LogGroup;
  readonly timeout: Duration;

  constructor(scope: Construct, id: string, props: AnalysisWorkflowProps) {
    super(scope, id);
    validateProps(props);
    this.timeout = props.timeout ?? DEFAULT_TIMEOUT;
    const analysisTimeout = props.analysisTimeout ?? DEFAULT_ANALYSIS_TIMEOUT;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    this.analyseFunction = new TrackingFunction(this, 'AnalyseFunction', {
      entry: path.join(__dirname, '../lambda/analyse/index.ts'),
      description: 'Analyses one video. Placeholder: replace lambda/analyse/analyse.ts.',
      timeout: analysisTimeout,
      logGroupId: 'AnalyseLogs',
      removalPolicy,
      reservedConcurrentExecutions: props.reservedConcurrency,
      environment: {
        ANALYSIS_DELAY_MS: String((props.placeholderDelay ?? Duration.seconds(2)).toMilliseconds()),
        ...(props.videoBucket ? { VIDEO_BUCKET: props.videoBucket } : {}),
      },
    });
    if (props.videoBucket) grantTenantObjects(this.analyseFunction, props.videoBucket);

    const definition = workflowDefinition(this, {
      table: props.table,
      analyseFunction: this.analyseFunction,
      analysisTimeout,
      executionTimeout: this.timeout,
      countsTenantTasks: props.countsTenantTasks ?? true,
    });
    this.executionLogGroup = new logs.LogGroup(this, 'ExecutionLogs', {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      timeout: this.timeout,
      tracingEnabled: true,
      logs: {
        destination: this.executionLogGroup,
        level: sfn.LogLevel.ERROR,
      },
    });
    acknowledgeStateMachineFindings(this.stateMachine, this.analyseFunction);
  }
}

/** Throws, before anything is built, a message naming the prop and what it must be. */
function validateProps(props: AnalysisWorkflowProps): void {
  const timeout = props.timeout ?? DEFAULT_TIMEOUT;
  const analysisTimeout = props.analysisTimeout ?? DEFAULT_ANALYSIS_TIMEOUT;
  if (analysisTimeout.toSeconds() > 900)
    throw new Error('analysisTimeout must be at most 15 minutes (the Lambda limit).');
  if (timeout.toSeconds() <= analysisTimeout.toSeconds()) {
    throw new Error('timeout must be longer than analysisTimeout, or no analysis could ever finish.');
  }
  const bucket = props.videoBucket;
  if (bucket !== undefined && !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new Error(`videoBucket must be an S3 bucket name (3-63 of a-z 0-9 . -), got ${JSON.stringify(bucket)}.`);
  }
  const reserved = props.reservedConcurrency;
  if (reserved !== undefined && (!Number.isInteger(reserved) || reserved < 1)) {
    throw new Error('reservedConcurrency must be a positive integer (leave it out for no reservation).');
  }
}

/**
 * Read-only, and only under the tenants' prefix: no listing, nothing outside it. Which tenant's key is read is decided
 * by the storage_key the API built from the verified tenant (lambda/core/storage-key.ts).
 */
function grantTenantObjects(fn: TrackingFunction, bucket: string): void {
  const tenantObjects = Stack.of(fn).formatArn({
    service: 's3',
    region: '',
    account: '',
    resource: bucket,
    resourceName: `${STORAGE_PREFIX}*`,
  });
  fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [tenantObjects] }));
  Validations.of(fn).acknowledge({
    id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::${bucket}/${STORAGE_PREFIX}*]`,
    reason:
      's3:GetObject on the tenants/ prefix only: every task reads its own key under it, named by the API from the verified tenant.',
  });
}

/** cdk-nag findings on the state machine's logging and role, each with the reason it is accepted. */
function acknowledgeStateMachineFindings(stateMachine: sfn.StateMachine, analyseFunction: TrackingFunction): void {
  const analyseLogicalId = Stack.of(stateMachine).getLogicalId(analyseFunction.node.defaultChild as CfnResource);
  Validations.of(stateMachine).acknowledge(
    {
      id: 'AwsSolutions-SF1',
      reason:
        'ERROR-level logging: ALL would bill a log event per state transition; the execution history keeps every event for 90 days.',
    },
    {
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'X-Ray tracing and CloudWatch Logs delivery actions support no resource-level permissions.',
    },
    {
      id: `AwsSolutions-IAM5[Resource::<${analyseLogicalId}.Arn>:*]`,
      reason: 'lambda:InvokeFunction on the Analyse function and its versions/aliases only (CDK LambdaInvoke default).',
    },
  );
}
