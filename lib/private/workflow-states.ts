import { Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { TaskStatus } from '../../lambda/core/task';
import { Attr } from '../../lambda/shared/table';
import { finishSteps } from './workflow-finish-steps';
import { addAnalyseRetries, addMarkRunningRetries, addReadRetries, FINISH_TRANSIENT_ERRORS } from './workflow-retries';

/** The analysis workflow's states and the transitions between them. */

export interface WorkflowDefinitionProps {
  readonly table: dynamodb.ITable;
  readonly analyseFunction: lambda.IFunction;
  /** How long one analysis attempt may run. */
  readonly analysisTimeout: Duration;
  /** The execution's timeout, which bounds the retries of throttled calls. */
  readonly executionTimeout: Duration;
  /** Whether the finishing steps give the tenant's slot back. */
  readonly countsTenantTasks: boolean;
}

/** How long MarkCompleted waits before writing an analysis result again after its retries ran out. */
const RECORD_AGAIN_AFTER = Duration.seconds(10);
const taskKey = () => ({ [Attr.pk]: tasks.DynamoAttributeValue.fromString(sfn.JsonPath.stringAt('$.task_key')) });

/**
 * MarkRunning -> Analyse -> MarkCompleted, with every failure caught into a finishing step, and the checks that tell
 * a finish which lost its condition from one that lost a conflict.
 */
export function workflowDefinition(scope: Construct, props: WorkflowDefinitionProps): sfn.IChainable {
  const markRunning = markRunningStep(scope, props);
  const analyse = analyseStep(scope, props);
  const { markCompleted, markFailed, markFailedBeforeRunning } = finishSteps(scope, props);

  // The task was cancelled, finished or replaced meanwhile: its end is already recorded.
  const noLongerActive = new sfn.Succeed(scope, 'NoLongerActive');
  const alreadyFinished = new sfn.Succeed(scope, 'AlreadyFinished');
  const isThisTask = sfn.Condition.and(
    sfn.Condition.isPresent(`$.check.Item.${Attr.taskId}.S`),
    sfn.Condition.stringEqualsJsonPath(`$.check.Item.${Attr.taskId}.S`, '$.task_id'),
  );
  // A finishing transaction kept being cancelled. If the task is still this execution's, its end is not recorded:
  // fail the execution so the finalizer (EventBridge) records it and frees the video.
  const checkStillActive = readTaskStep(scope, 'CheckStillActive', props);
  const finishNotRecorded = new sfn.Fail(scope, 'FinishNotRecorded', {
    error: 'FinishNotRecorded',
    cause: 'The task is still active but its end could not be written; the finalizer records it.',
  });
  checkStillActive.next(
    new sfn.Choice(scope, 'StillThisTask').when(isThisTask, finishNotRecorded).otherwise(alreadyFinished),
  );

  // An analysis result is never given up to a conflict or throttling: while the task is still this execution's and
  // running, MarkCompleted is tried again (until it lands, the task is cancelled, or the execution times out).
  const checkBeforeRecordingAgain = readTaskStep(scope, 'CheckBeforeRecordingAgain', props);
  const waitToRecordResult = new sfn.Wait(scope, 'WaitToRecordResult', {
    time: sfn.WaitTime.duration(RECORD_AGAIN_AFTER),
  }).next(markCompleted);
  const isRunning = sfn.Condition.stringEquals(`$.check.Item.${Attr.status}.S`, TaskStatus.Running);
  checkBeforeRecordingAgain.next(
    new sfn.Choice(scope, 'StillRunningThisTask')
      .when(sfn.Condition.and(isThisTask, isRunning), waitToRecordResult)
      .otherwise(alreadyFinished),
  );
  // A read that stays throttled must not end the execution with the result unrecorded: wait and write again.
  checkBeforeRecordingAgain.addCatch(waitToRecordResult, { errors: [sfn.Errors.ALL], resultPath: '$.error' });

  const caught = { resultPath: '$.error' };
  markRunning.addCatch(noLongerActive, { errors: ['DynamoDB.ConditionalCheckFailedException'], ...caught });
  markRunning.addCatch(markFailedBeforeRunning, { errors: [sfn.Errors.ALL], ...caught });
  analyse.addCatch(markFailed, { errors: [sfn.Errors.ALL], ...caught });
  markCompleted.addCatch(checkBeforeRecordingAgain, { errors: FINISH_TRANSIENT_ERRORS, ...caught });
  markCompleted.addCatch(markFailed, { errors: [sfn.Errors.ALL], ...caught });
  markFailed.addCatch(checkStillActive, { errors: ['DynamoDb.TransactionCanceledException'], ...caught });
  markFailedBeforeRunning.addCatch(checkStillActive, { errors: ['DynamoDb.TransactionCanceledException'], ...caught });

  // MarkCompleted ends the execution: a success enters three states (MarkRunning, Analyse, MarkCompleted).
  return markRunning.next(analyse).next(markCompleted);
}

function markRunningStep(scope: Construct, props: WorkflowDefinitionProps): tasks.DynamoUpdateItem {
  const step = new tasks.DynamoUpdateItem(scope, 'MarkRunning', {
    table: props.table,
    key: taskKey(),
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
      ':now': tasks.DynamoAttributeValue.fromString(sfn.JsonPath.stringAt('$$.State.EnteredTime')),
    },
    returnValues: tasks.DynamoReturnValues.UPDATED_NEW,
    resultSelector: { started_at: sfn.JsonPath.stringAt(`$.Attributes.${Attr.startedAt}.S`) },
    resultPath: '$.run',
  });
  addMarkRunningRetries(step, props.executionTimeout);
  return step;
}

function analyseStep(scope: Construct, props: WorkflowDefinitionProps): tasks.LambdaInvoke {
  const step = new tasks.LambdaInvoke(scope, 'Analyse', {
    lambdaFunction: props.analyseFunction,
    payloadResponseOnly: true,
    payload: sfn.TaskInput.fromObject({
      task_id: sfn.JsonPath.stringAt('$.task_id'),
      tenant_id: sfn.JsonPath.stringAt('$.tenant_id'),
      video_filename: sfn.JsonPath.stringAt('$.video_filename'),
      storage_key: sfn.JsonPath.stringAt('$.storage_key'),
    }),
    resultPath: '$.analysis',
    taskTimeout: sfn.Timeout.duration(props.analysisTimeout.plus(Duration.seconds(30))),
  });
  addAnalyseRetries(step, props.executionTimeout);
  return step;
}

/** A consistent read of the active item into `$.check`: is the task still this execution's? */
function readTaskStep(scope: Construct, id: string, props: WorkflowDefinitionProps): tasks.DynamoGetItem {
  const step = new tasks.DynamoGetItem(scope, id, {
    table: props.table,
    key: taskKey(),
    consistentRead: true,
    resultPath: '$.check',
  });
  addReadRetries(step, props.executionTimeout);
  return step;
}
