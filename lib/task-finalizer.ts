import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import * as path from 'node:path';
import { TrackingFunction } from './private/tracking-function';
import { type TaskRules, taskServiceEnvironment } from './task-rules';
import { grantReadTaskIdSecret } from './task-id-secret';
import { grantTableItems } from './task-table';
import { REPAIRED_EXECUTION_STATUSES } from '../lambda/shared/execution-ends';
import { ServiceName } from '../lambda/shared/observability-names';

export interface TaskFinalizerProps {
  /** The task table: the finalizer records the task and frees its video. */
  readonly table: dynamodb.ITable;
  /** The analysis workflow whose failed, timed-out and aborted executions the finalizer records. */
  readonly stateMachine: sfn.IStateMachine;
  /** The task-id keyring: the finalizer reads task ids and active keys with it, as every task store does. */
  readonly taskIdSecret: secretsmanager.ISecret;
  /** The task rules' timings and tenant limit, passed to the function's environment. */
  readonly rules: TaskRules;
  /**
   * Removal policy of the finalizer's log group and dead-letter queue.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Frees the video of a task whose execution failed, timed out or was aborted outside the state machine's Catch,
 * driven by Step Functions' execution status change events. Undeliverable events land in a dead-letter queue.
 */
export class TaskFinalizer extends Construct {
  readonly function: TrackingFunction;
  readonly rule: events.Rule;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: TaskFinalizerProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.function = new TrackingFunction(this, 'Function', {
      entry: path.join(__dirname, '../lambda/finalizer/index.ts'),
      tracesSdkClients: true,
      description: 'Records executions that ended outside the state machine Catch and frees their video',
      logGroupId: 'Logs',
      removalPolicy,
      environment: {
        ...taskServiceEnvironment(props),
        POWERTOOLS_SERVICE_NAME: ServiceName.TaskFinalizer,
      },
    });
    // GetItem to read the task; PutItem, DeleteItem and UpdateItem (the tenant counter) inside the finishing transaction.
    grantTableItems(
      props.table,
      this.function,
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:DeleteItem',
      'dynamodb:UpdateItem',
    );
    grantReadTaskIdSecret(props.taskIdSecret, this.function);

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      retentionPeriod: Duration.days(14),
      enforceSSL: true,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      removalPolicy,
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself the dead-letter queue of the finalizer rule target.',
    });
    this.rule = new events.Rule(this, 'ExecutionEnded', {
      description: 'Step Functions executions of the analysis workflow that failed, timed out or were aborted',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { status: [...REPAIRED_EXECUTION_STATUSES], stateMachineArn: [props.stateMachine.stateMachineArn] },
      },
      targets: [
        new targets.LambdaFunction(this.function, {
          retryAttempts: 20,
          maxEventAge: Duration.hours(24),
          deadLetterQueue: this.deadLetterQueue,
        }),
      ],
    });
  }
}
