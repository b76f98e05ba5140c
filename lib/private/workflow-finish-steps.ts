import type { Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { TaskStatus } from '../../lambda/core/task';
import {
  type ExpectedStatuses,
  type FinalRecord,
  finishTransactItems,
  type ValueSpelling,
} from '../../lambda/shared/finish-write';
import { TASK_PREFIX } from '../../lambda/shared/table';
import { addFinishRetries } from './workflow-retries';

/**
 * The workflow's finishing steps: the finishing transaction of lambda/shared/finish-write.ts, the one the DynamoDB
 * adapter sends, with its values read from the execution input (lambda/adapters/sfn-workflow.ts, toExecutionInput).
 */

/** An attribute value as the AWS SDK integration takes it: DynamoDB JSON, its strings constants or JSONPath references. */
type AttributeJson = { S: string } | { N: string } | { M: Record<string, AttributeJson> };

const attributeJson: ValueSpelling<AttributeJson> = {
  string: (value) => ({ S: value }),
  number: (value) => ({ N: String(value) }),
  map: (attributes) => ({ M: attributes }),
};

/** A string of the execution's input or context, by JSONPath. */
const stringAt = (path: string): AttributeJson => ({ S: sfn.JsonPath.stringAt(path) });
/** A number of the execution's input, by JSONPath (DynamoDB JSON spells numbers as strings). */
const numberAt = (path: string): AttributeJson => ({ N: sfn.JsonPath.jsonToString(sfn.JsonPath.objectAt(path)) });
/** When the step was entered: the task's end. */
const ENTERED = stringAt('$$.State.EnteredTime');

export interface FinishStepsProps {
  readonly table: dynamodb.ITable;
  /** Whether the finish gives the tenant's slot back (a tenant limit is set); without, no counter is written. */
  readonly countsTenantTasks: boolean;
  /** The execution's timeout, which bounds the retries of throttled writes. */
  readonly executionTimeout: Duration;
}

export interface FinishSteps {
  /** Records the analysis result; from `running` only. */
  readonly markCompleted: tasks.CallAwsService;
  /** Records a failure after MarkRunning: the failed record keeps the task's started_at. */
  readonly markFailed: tasks.CallAwsService;
  /** Records a failure of MarkRunning itself: no started_at. */
  readonly markFailedBeforeRunning: tasks.CallAwsService;
}

/** The three ways an execution records its task's end. */
export function finishSteps(scope: Construct, props: FinishStepsProps): FinishSteps {
  const startedAt = stringAt('$.run.started_at');
  // The error's name only: its Cause (a Lambda error payload with its stack trace, SDK messages with ARNs) stays in
  // the execution history and the logs; tenants see the name with a fixed message (lambda/core/task-errors.ts).
  const errorName = stringAt('$.error.Error');
  const activeStatuses: ExpectedStatuses = [TaskStatus.NotStarted, TaskStatus.Running];
  return {
    markCompleted: finishStep(scope, 'MarkCompleted', props, [TaskStatus.Running], {
      status: TaskStatus.Completed,
      startedAt,
      result: { S: sfn.JsonPath.jsonToString(sfn.JsonPath.objectAt('$.analysis')) },
    }),
    markFailed: finishStep(scope, 'MarkFailed', props, activeStatuses, {
      status: TaskStatus.Failed,
      startedAt,
      errorName,
    }),
    markFailedBeforeRunning: finishStep(scope, 'MarkFailedBeforeRunning', props, activeStatuses, {
      status: TaskStatus.Failed,
      errorName,
    }),
  };
}

type RecordOutcome = Pick<FinalRecord<AttributeJson>, 'status' | 'startedAt' | 'result' | 'errorName'>;

function finishStep(
  scope: Construct,
  id: string,
  props: FinishStepsProps,
  expected: ExpectedStatuses,
  outcome: RecordOutcome,
): tasks.CallAwsService {
  const { table, countsTenantTasks } = props;
  const step = new tasks.CallAwsService(scope, id, {
    service: 'dynamodb',
    action: 'transactWriteItems',
    iamAction: 'dynamodb:PutItem',
    iamResources: [table.tableArn],
    additionalIamStatements: [
      // TransactWriteItems is authorised per item action: PutItem for the record, DeleteItem for the key,
      // UpdateItem for the tenant's counter (with a limit).
      new iam.PolicyStatement({
        actions: ['dynamodb:DeleteItem', ...(countsTenantTasks ? ['dynamodb:UpdateItem'] : [])],
        resources: [table.tableArn],
      }),
    ],
    parameters: {
      TransactItems: finishTransactItems(attributeJson, {
        tableName: table.tableName,
        record: {
          key: { S: sfn.JsonPath.format(`${TASK_PREFIX}{}`, sfn.JsonPath.stringAt('$.task_id')) },
          taskId: stringAt('$.task_id'),
          tenantId: stringAt('$.tenant_id'),
          videoFilename: stringAt('$.video_filename'),
          createdAt: stringAt('$.created_at'),
          updatedAt: ENTERED,
          finishedAt: ENTERED,
          expiresAt: numberAt('$.retain_until'),
          ...outcome,
        },
        taskKey: stringAt('$.task_key'),
        expected,
        counter: countsTenantTasks ? { key: stringAt('$.tenant_key'), shard: numberAt('$.counter_shard') } : undefined,
      }),
    },
    resultPath: sfn.JsonPath.DISCARD,
  });
  addFinishRetries(step, props.executionTimeout);
  return step;
}
