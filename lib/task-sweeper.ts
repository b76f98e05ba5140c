import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import * as path from 'node:path';
import { acknowledgeExecutionsWildcard } from './private/executions';
import { TrackingFunction } from './private/tracking-function';
import { type TaskRules, taskServiceEnvironment } from './task-rules';
import { grantReadTaskIdSecret } from './task-id-secret';
import { grantQueryActiveByAge, grantTableItems } from './task-table';
import { ServiceName } from '../lambda/shared/observability-names';

export interface TaskSweeperProps {
  /** The task table: the sweep queries its active-by-age index and repairs items. */
  readonly table: dynamodb.ITable;
  /** The analysis workflow: the sweep describes, lists and starts its executions. */
  readonly stateMachine: sfn.IStateMachine;
  /** The task-id keyring: the sweep reads task ids and active keys with it, as every task store does. */
  readonly taskIdSecret: secretsmanager.ISecret;
  /** The task rules' timings and tenant limit, passed to the function's environment. */
  readonly rules: TaskRules;
  /**
   * How often the sweep runs. With the re-drive grace it bounds how long a lost start or a lost end goes unrepaired.
   *
   * @default Duration.minutes(1)
   */
  readonly schedule?: Duration;
  /**
   * At most this many tasks are checked per run (one DescribeExecution each).
   *
   * @default 500
   */
  readonly maxTasksPerRun?: number;
  /**
   * Up to this many due tasks a run describes each; beyond it, a run lists the running executions first
   * (ListExecutions, 1,000 a page) and describes only the due tasks missing from the list.
   *
   * @default 100
   */
  readonly listThreshold?: number;
  /**
   * Reserve this many concurrent executions for the sweeper. Not needed for runs to stay apart: a run takes a lease
   * item in the table and a tick that finds it held exits at once. Lambda refuses a reservation that leaves the
   * account under its minimum unreserved concurrency, so a new account with a quota of 10 cannot deploy one: check
   * `aws lambda get-account-settings` first (docs/DEPLOY.md).
   *
   * @default - no reservation
   */
  readonly reservedConcurrency?: number;
  /**
   * Removal policy of the sweeper's log group.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The repair that needs no client: every minute, a Lambda function checks each active task older than the re-drive
 * grace against its execution (the table's sparse index of active tasks, DescribeExecution) and starts or ends what nothing else
 * will. See docs/ARCHITECTURE.md, "Repair sweep".
 */
export class TaskSweeper extends Construct {
  readonly function: TrackingFunction;
  readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: TaskSweeperProps) {
    super(scope, id);
    const { schedule, maxTasks, listThreshold, reserved } = sweepSettings(props);
    this.function = new TrackingFunction(this, 'Function', {
      entry: path.join(__dirname, '../lambda/sweeper/index.ts'),
      description: 'Repairs active tasks whose start or end was lost: starts them or records their end',
      // At 10^6 active tasks a run lists 1,000 pages of running executions (~180 s at the default ListExecutions
      // quota, ~460 s in the smaller Regions) and streams the index: see docs/ARCHITECTURE.md, "Repair sweep". A run
      // stops itself 15 s before this and saves where it stopped.
      timeout: Duration.minutes(10),
      // The set of 10^6 running execution names (~100 MB measured) plus one index page.
      memorySize: 512,
      reservedConcurrentExecutions: reserved,
      // A throttled tick (the reservation or the account's concurrency reached) is retried for at most a minute, then
      // dropped: ticks never queue up, and the next one comes a minute later anyway.
      maxEventAge: Duration.minutes(1),
      retryAttempts: 0,
      logGroupId: 'Logs',
      removalPolicy: props.removalPolicy,
      environment: {
        ...taskServiceEnvironment(props),
        SWEEP_MAX_TASKS: String(maxTasks),
        SWEEP_LIST_THRESHOLD: String(listThreshold),
        POWERTOOLS_SERVICE_NAME: ServiceName.TaskSweeper,
      },
    });
    // Query on the index; GetItem to re-read a task; PutItem + DeleteItem in the finishing transaction; UpdateItem for
    // the lease of a re-drive and for the sweep's own lease and checkpoint (lambda/adapters/dynamodb/sweep-state.ts).
    grantQueryActiveByAge(props.table, this.function);
    grantTableItems(
      props.table,
      this.function,
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:DeleteItem',
      'dynamodb:UpdateItem',
    );
    grantReadTaskIdSecret(props.taskIdSecret, this.function);
    props.stateMachine.grantStartExecution(this.function);
    props.stateMachine.grantExecution(this.function, 'states:DescribeExecution');
    props.stateMachine.grant(this.function, 'states:ListExecutions');
    acknowledgeExecutionsWildcard(
      this.function,
      props.stateMachine,
      'states:DescribeExecution on the executions of this one state machine (named after task ids, unknown at deploy time).',
    );

    this.rule = new events.Rule(this, 'Schedule', {
      description: 'Runs the task repair sweep',
      schedule: events.Schedule.rate(schedule),
      // A missed run is made up by the next one a minute later.
      targets: [new targets.LambdaFunction(this.function, { retryAttempts: 0 })],
    });
  }
}

/** The props with their defaults, validated. */
function sweepSettings(props: TaskSweeperProps) {
  const schedule = props.schedule ?? Duration.minutes(1);
  const maxTasks = props.maxTasksPerRun ?? 500;
  const listThreshold = props.listThreshold ?? 100;
  const reserved = props.reservedConcurrency;
  if (!Number.isInteger(maxTasks) || maxTasks < 1) throw new Error('maxTasksPerRun must be a positive integer.');
  if (!Number.isInteger(listThreshold) || listThreshold < 0 || listThreshold > maxTasks) {
    throw new Error(
      'listThreshold must be an integer from 0 to maxTasksPerRun (a run describes every due task up to it).',
    );
  }
  if (reserved !== undefined && (!Number.isInteger(reserved) || reserved < 1)) {
    throw new Error('reservedConcurrency must be a positive integer (leave it out for no reservation).');
  }
  if (schedule.toSeconds() < 60) throw new Error('schedule must be at least one minute (the EventBridge rate limit).');
  return { schedule, maxTasks, listThreshold, reserved };
}
