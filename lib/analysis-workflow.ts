import { type CfnResource, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import * as path from 'node:path';
import { Attr, COUNTER_SHARD, COUNTER_UPDATE, ItemType, TASK_PREFIX } from '../lambda/shared/table';
import { STORAGE_PREFIX } from '../lambda/core/storage-key';
import { TaskStatus } from '../lambda/core/task';
import { TrackingFunction } from './private/tracking-function';

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

const S = (value: string) => ({ S: value });
const SPath = (jsonPath: string) => ({ S: sfn.JsonPath.stringAt(jsonPath) });
const ENTERED = '$$.State.EnteredTime';

/** Errors of the finishing transaction after which writing it again can succeed (the SDK integration's names). */
const FINISH_TRANSIENT_ERRORS = [
  'DynamoDb.TransactionCanceledException',
  'DynamoDb.ProvisionedThroughputExceededException',
  'DynamoDb.ThrottlingException',
  'DynamoDb.RequestLimitExceeded',
  'DynamoDb.InternalServerError',
  'DynamoDb.InternalServerErrorException',
];
/**
 * Lambda refusing or failing to run the function (not the function's own error), by Step Functions' names: the
 * invocation never ran the analysis, so waiting and invoking again is always right.
 */
const LAMBDA_THROTTLE_AND_SERVICE_ERRORS = [
  'Lambda.TooManyRequestsException',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
];
/** DynamoDB throttling and 5xx, under both integrations' prefixes ("DynamoDB." optimized, "DynamoDb." AWS SDK). */
const DYNAMODB_THROTTLE_AND_SERVICE_ERRORS = ['DynamoDB', 'DynamoDb'].flatMap((prefix) =>
  [
    'ProvisionedThroughputExceededException',
    'ThrottlingException',
    'RequestLimitExceeded',
    'InternalServerError',
    'InternalServerErrorException',
  ].map((name) => `${prefix}.${name}`),
);
/** Backoff of a throttled call: 1 s doubling, each wait capped and fully jittered so retries of many executions spread out. */
const THROTTLE_INTERVAL = Duration.seconds(1);
const THROTTLE_MAX_DELAY = Duration.seconds(60);
/** How long MarkCompleted waits before writing an analysis result again after its retries ran out. */
const RECORD_AGAIN_AFTER = Duration.seconds(10);

/**
 * MarkRunning -> Analyse -> MarkCompleted (three states on success), with every failure caught into MarkFailed.
 * Each status change is one conditional write on (task_key, task_id, expected status), so a late step can never
 * overwrite a newer state; the finishing steps free the video and the tenant's slot in the same transaction that
 * records the end.
 */
export class AnalysisWorkflow extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly analyseFunction: TrackingFunction;
  /** The state machine's execution log group (ERROR level). */
  readonly executionLogGroup: logs.LogGroup;
  readonly timeout: Duration;

  constructor(scope: Construct, id: string, props: AnalysisWorkflowProps) {
    super(scope, id);
    this.timeout = props.timeout ?? Duration.hours(1);
    const analysisTimeout = props.analysisTimeout ?? Duration.minutes(5);
    if (analysisTimeout.toSeconds() > 900)
      throw new Error('analysisTimeout must be at most 15 minutes (the Lambda limit).');
    if (this.timeout.toSeconds() <= analysisTimeout.toSeconds()) {
      throw new Error('timeout must be longer than analysisTimeout, or no analysis could ever finish.');
    }
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const table = props.table;
    const bucket = props.videoBucket;
    if (bucket !== undefined && !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
      throw new Error(`videoBucket must be an S3 bucket name (3-63 of a-z 0-9 . -), got ${JSON.stringify(bucket)}.`);
    }
    const reserved = props.reservedConcurrency;
    if (reserved !== undefined && (!Number.isInteger(reserved) || reserved < 1)) {
      throw new Error('reservedConcurrency must be a positive integer (leave it out for no reservation).');
    }
    // Throttles are retried until the execution's timeout ends them: enough attempts to outlast it even if every
    // fully jittered wait were a tenth of its cap.
    const throttleRetry = (errors: string[]): sfn.RetryProps => ({
      errors,
      interval: THROTTLE_INTERVAL,
      backoffRate: 2,
      maxDelay: THROTTLE_MAX_DELAY,
      jitterStrategy: sfn.JitterType.FULL,
      maxAttempts: Math.ceil(this.timeout.toSeconds() / (THROTTLE_MAX_DELAY.toSeconds() / 10)),
    });

    this.analyseFunction = new TrackingFunction(this, 'AnalyseFunction', {
      entry: path.join(__dirname, '../lambda/analyse/index.ts'),
      description: 'Analyses one video. Placeholder: replace lambda/analyse/analyse.ts.',
      timeout: analysisTimeout,
      logGroupId: 'AnalyseLogs',
      removalPolicy,
      reservedConcurrentExecutions: reserved,
      environment: {
        ANALYSIS_DELAY_MS: String((props.placeholderDelay ?? Duration.seconds(2)).toMilliseconds()),
        ...(bucket ? { VIDEO_BUCKET: bucket } : {}),
      },
    });
    if (bucket) {
      // Read-only, and only under the tenants' prefix: no listing, nothing outside it. Which tenant's key is read is
      // decided by the storage_key the API built from the verified tenant (lambda/core/storage-key.ts).
      const tenantObjects = Stack.of(this).formatArn({
        service: 's3',
        region: '',
        account: '',
        resource: bucket,
        resourceName: `${STORAGE_PREFIX}*`,
      });
      this.analyseFunction.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [tenantObjects] }),
      );
      Validations.of(this.analyseFunction).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::${bucket}/${STORAGE_PREFIX}*]`,
        reason:
          's3:GetObject on the tenants/ prefix only: every task reads its own key under it, named by the API from the verified tenant.',
      });
    }

    const taskKey = { [Attr.pk]: SPath('$.task_key') };
    const taskRecord = {
      [Attr.pk]: { S: sfn.JsonPath.format(`${TASK_PREFIX}{}`, sfn.JsonPath.stringAt('$.task_id')) },
    };

    const markRunning = new tasks.DynamoUpdateItem(this, 'MarkRunning', {
      table,
      key: { [Attr.pk]: tasks.DynamoAttributeValue.fromString(sfn.JsonPath.stringAt('$.task_key')) },
      updateExpression: 'SET #status = :running, #started_at = :now, #updated_at = :now',
      // `running` too: a retry after an update that landed (answer lost) must not look like a lost task.
      conditionExpression: '#task_id = :task_id AND #status IN (:not_started, :running)',
      expressionAttributeNames: {
        '#status': Attr.status,
        '#task_id': Attr.taskId,
        '#started_at': Attr.startedAt,
        '#updated_at': Attr.updatedAt,
      },
      expressionAttributeValues: {
        ':running': tasks.DynamoAttributeValue.fromString(TaskStatus.Running),
        ':not_started': tasks.DynamoAttributeValue.fromString(TaskStatus.NotStarted),
        ':task_id': tasks.DynamoAttributeValue.fromString(sfn.JsonPath.stringAt('$.task_id')),
        ':now': tasks.DynamoAttributeValue.fromString(sfn.JsonPath.stringAt(ENTERED)),
      },
      returnValues: tasks.DynamoReturnValues.UPDATED_NEW,
      resultSelector: { started_at: sfn.JsonPath.stringAt(`$.Attributes.${Attr.startedAt}.S`) },
      resultPath: '$.run',
    });

    // Losing the condition is final (cancelled, finished or replaced); anything else (throttling) is worth retrying.
    markRunning.addRetry({ errors: ['DynamoDB.ConditionalCheckFailedException'], maxAttempts: 0 });
    markRunning.addRetry(throttleRetry(DYNAMODB_THROTTLE_AND_SERVICE_ERRORS));
    markRunning.addRetry({ errors: [sfn.Errors.ALL], maxAttempts: 3, interval: Duration.seconds(1), backoffRate: 2 });

    const analyse = new tasks.LambdaInvoke(this, 'Analyse', {
      lambdaFunction: this.analyseFunction,
      payloadResponseOnly: true,
      payload: sfn.TaskInput.fromObject({
        task_id: sfn.JsonPath.stringAt('$.task_id'),
        tenant_id: sfn.JsonPath.stringAt('$.tenant_id'),
        video_filename: sfn.JsonPath.stringAt('$.video_filename'),
        storage_key: sfn.JsonPath.stringAt('$.storage_key'),
      }),
      resultPath: '$.analysis',
      taskTimeout: sfn.Timeout.duration(analysisTimeout.plus(Duration.seconds(30))),
    });
    // A rejected video fails the same way every time: do not retry it.
    analyse.addRetry({ errors: ['AnalysisRejected'], maxAttempts: 0 });
    // Lambda did not run the analysis (concurrency reached, service error): wait for capacity, the task stays running.
    analyse.addRetry(throttleRetry(LAMBDA_THROTTLE_AND_SERVICE_ERRORS));
    analyse.addRetry({
      errors: [sfn.Errors.ALL],
      interval: Duration.seconds(2),
      backoffRate: 2,
      maxAttempts: 2,
      jitterStrategy: sfn.JitterType.FULL,
    });

    // The tenant's slot, given back in the transaction that frees the video (lambda/shared/table.ts); no counter
    // at all without a tenant limit.
    const slotGivenBack =
      (props.countsTenantTasks ?? true)
        ? [
            {
              Update: {
                TableName: table.tableName,
                Key: { [Attr.pk]: SPath('$.tenant_key') },
                UpdateExpression: COUNTER_UPDATE.expression,
                ExpressionAttributeNames: { ...COUNTER_UPDATE.names },
                ExpressionAttributeValues: {
                  ':delta': { N: '-1' },
                  ':one': { N: '1' },
                  ':at': SPath(ENTERED),
                  ':counter': S(ItemType.TenantCounter),
                  ':counter_shard': { N: String(COUNTER_SHARD) },
                },
              },
            },
          ]
        : [];
    const finish = (id: string, status: TaskStatus, extra: Record<string, unknown>, expectedStatuses: TaskStatus[]) => {
      const expected = Object.fromEntries(expectedStatuses.map((s, i) => [`:expected${i}`, S(s)]));
      const step = new tasks.CallAwsService(this, id, {
        service: 'dynamodb',
        action: 'transactWriteItems',
        iamAction: 'dynamodb:PutItem',
        iamResources: [table.tableArn],
        additionalIamStatements: [
          // TransactWriteItems is authorised per item action: PutItem for the record, DeleteItem for the key,
          // UpdateItem for the tenant's counter (with a limit).
          new iam.PolicyStatement({
            actions: ['dynamodb:DeleteItem', ...(slotGivenBack.length ? ['dynamodb:UpdateItem'] : [])],
            resources: [table.tableArn],
          }),
        ],
        parameters: {
          TransactItems: [
            {
              Put: {
                TableName: table.tableName,
                Item: {
                  ...taskRecord,
                  [Attr.itemType]: S(ItemType.Final),
                  [Attr.taskId]: SPath('$.task_id'),
                  [Attr.tenantId]: SPath('$.tenant_id'),
                  [Attr.videoFilename]: SPath('$.video_filename'),
                  [Attr.status]: S(status),
                  [Attr.createdAt]: SPath('$.created_at'),
                  [Attr.updatedAt]: SPath(ENTERED),
                  [Attr.finishedAt]: SPath(ENTERED),
                  [Attr.expiresAt]: { N: sfn.JsonPath.jsonToString(sfn.JsonPath.objectAt('$.retain_until')) },
                  ...extra,
                },
                // Never overwrite a final record; a link item an earlier version wrote (no status) may be replaced.
                ConditionExpression: 'attribute_not_exists(#status)',
                ExpressionAttributeNames: { '#status': Attr.status },
              },
            },
            {
              Delete: {
                TableName: table.tableName,
                Key: taskKey,
                ConditionExpression: `#task_id = :task_id AND #status IN (${Object.keys(expected).join(', ')})`,
                ExpressionAttributeNames: { '#task_id': Attr.taskId, '#status': Attr.status },
                ExpressionAttributeValues: { ':task_id': SPath('$.task_id'), ...expected },
              },
            },
            ...slotGivenBack,
          ],
        },
        resultPath: sfn.JsonPath.DISCARD,
      });
      // Cancelled by a failed condition (the task already ended) or by a conflicting write: try again a few times;
      // CheckStillActive then tells which it was.
      step.addRetry({
        errors: ['DynamoDb.TransactionCanceledException'],
        maxAttempts: 3,
        interval: Duration.seconds(1),
        backoffRate: 2,
        jitterStrategy: sfn.JitterType.FULL,
      });
      step.addRetry(throttleRetry(DYNAMODB_THROTTLE_AND_SERVICE_ERRORS));
      step.addRetry({ errors: [sfn.Errors.ALL], maxAttempts: 3, interval: Duration.seconds(1), backoffRate: 2 });
      return step;
    };

    const markCompleted = finish(
      'MarkCompleted',
      TaskStatus.Completed,
      {
        [Attr.startedAt]: SPath('$.run.started_at'),
        [Attr.result]: { S: sfn.JsonPath.jsonToString(sfn.JsonPath.objectAt('$.analysis')) },
      },
      [TaskStatus.Running],
    );
    // The error's name only: its Cause (a Lambda error payload with its stack trace, SDK messages with ARNs) stays in
    // the execution history and the logs; tenants see the name with a fixed message (lambda/core/task-errors.ts).
    const failure = { [Attr.error]: { M: { error: SPath('$.error.Error') } } };
    // After MarkRunning the task has a started_at, and its failed record keeps it.
    const markFailed = finish(
      'MarkFailed',
      TaskStatus.Failed,
      { ...failure, [Attr.startedAt]: SPath('$.run.started_at') },
      [TaskStatus.NotStarted, TaskStatus.Running],
    );
    const markFailedBeforeRunning = finish('MarkFailedBeforeRunning', TaskStatus.Failed, failure, [
      TaskStatus.NotStarted,
      TaskStatus.Running,
    ]);

    // The task was cancelled, finished or replaced meanwhile: its end is already recorded.
    const noLongerActive = new sfn.Succeed(this, 'NoLongerActive');
    const alreadyFinished = new sfn.Succeed(this, 'AlreadyFinished');
    // A finishing transaction kept being cancelled. If the task is still this execution's, its end is not recorded:
    // fail the execution so the finalizer (EventBridge) records it and frees the video.
    const readTask = (id: string) => {
      const read = new tasks.DynamoGetItem(this, id, {
        table,
        key: { [Attr.pk]: tasks.DynamoAttributeValue.fromString(sfn.JsonPath.stringAt('$.task_key')) },
        consistentRead: true,
        resultPath: '$.check',
      });
      read.addRetry(throttleRetry(DYNAMODB_THROTTLE_AND_SERVICE_ERRORS));
      read.addRetry({ errors: [sfn.Errors.ALL], maxAttempts: 3, interval: Duration.seconds(1), backoffRate: 2 });
      return read;
    };
    const isThisTask = sfn.Condition.and(
      sfn.Condition.isPresent(`$.check.Item.${Attr.taskId}.S`),
      sfn.Condition.stringEqualsJsonPath(`$.check.Item.${Attr.taskId}.S`, '$.task_id'),
    );
    const checkStillActive = readTask('CheckStillActive');
    const finishNotRecorded = new sfn.Fail(this, 'FinishNotRecorded', {
      error: 'FinishNotRecorded',
      cause: 'The task is still active but its end could not be written; the finalizer records it.',
    });
    checkStillActive.next(
      new sfn.Choice(this, 'StillThisTask').when(isThisTask, finishNotRecorded).otherwise(alreadyFinished),
    );

    // An analysis result is never given up to a conflict or throttling: while the task is still this execution's and
    // running, MarkCompleted is tried again (until it lands, the task is cancelled, or the execution times out).
    const checkBeforeRecordingAgain = readTask('CheckBeforeRecordingAgain');
    const waitToRecordResult = new sfn.Wait(this, 'WaitToRecordResult', {
      time: sfn.WaitTime.duration(RECORD_AGAIN_AFTER),
    }).next(markCompleted);
    checkBeforeRecordingAgain.next(
      new sfn.Choice(this, 'StillRunningThisTask')
        .when(
          sfn.Condition.and(
            isThisTask,
            sfn.Condition.stringEquals(`$.check.Item.${Attr.status}.S`, TaskStatus.Running),
          ),
          waitToRecordResult,
        )
        .otherwise(alreadyFinished),
    );
    // A read that stays throttled must not end the execution with the result unrecorded: wait and write again.
    checkBeforeRecordingAgain.addCatch(waitToRecordResult, { errors: [sfn.Errors.ALL], resultPath: '$.error' });

    markRunning.addCatch(noLongerActive, {
      errors: ['DynamoDB.ConditionalCheckFailedException'],
      resultPath: '$.error',
    });
    markRunning.addCatch(markFailedBeforeRunning, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
    analyse.addCatch(markFailed, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
    markCompleted.addCatch(checkBeforeRecordingAgain, { errors: FINISH_TRANSIENT_ERRORS, resultPath: '$.error' });
    markCompleted.addCatch(markFailed, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
    markFailed.addCatch(checkStillActive, { errors: ['DynamoDb.TransactionCanceledException'], resultPath: '$.error' });
    markFailedBeforeRunning.addCatch(checkStillActive, {
      errors: ['DynamoDb.TransactionCanceledException'],
      resultPath: '$.error',
    });

    // MarkCompleted ends the execution: a success enters three states (MarkRunning, Analyse, MarkCompleted).
    const definition = markRunning.next(analyse).next(markCompleted);

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
    Validations.of(this.stateMachine).acknowledge(
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
        id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(this.analyseFunction.node.defaultChild as CfnResource)}.Arn>:*]`,
        reason:
          'lambda:InvokeFunction on the Analyse function and its versions/aliases only (CDK LambdaInvoke default).',
      },
    );
  }
}
