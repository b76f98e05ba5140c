import { Duration, Lazy, Stack, Validations } from 'aws-cdk-lib';
import type * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import {
  METRICS_NAMESPACE,
  RequestOutcome,
  ServiceEvent,
  ServiceName,
  SweepMetric,
} from '../lambda/shared/observability-names';

/** Request outcomes the API handler counts (lambda/track/track-handler.ts). */
const OUTCOMES = Object.values(RequestOutcome);

/** The repair sweep's count of repaired tasks, one per repaired task. */
export const REPAIR_METRIC = { metricName: SweepMetric.Repaired, service: ServiceName.TaskSweeper };

/** Operations the app performs on the table: the API handler, the state machine and the finalizer. */
const TABLE_OPERATIONS = [
  dynamodb.Operation.GET_ITEM,
  dynamodb.Operation.PUT_ITEM,
  dynamodb.Operation.UPDATE_ITEM,
  dynamodb.Operation.TRANSACT_WRITE_ITEMS,
];

const FIVE_MINUTES = Duration.minutes(5);

export interface MonitoredFunction {
  /** Short name used in alarm ids and on the dashboard, e.g. `Handler`. */
  readonly name: string;
  readonly function: lambda.IFunction;
  /**
   * Errors in five minutes that raise the alarm. Raise it only for a function whose contract includes throwing.
   *
   * @default 1
   */
  readonly errorThreshold?: number;
  /** Its log group, searched by the saved Logs Insights queries. @default - not searched */
  readonly logGroup?: logs.ILogGroup;
}

export interface MonitoringProps {
  readonly api: apigwv2.IHttpApi;
  /** The API handler: its duration is the handler latency on the dashboard. */
  readonly apiHandler: lambda.IFunction;
  /** Every function to alarm on (Errors, Throttles). More can be added with `monitorFunction`. */
  readonly functions: MonitoredFunction[];
  readonly stateMachine: sfn.IStateMachine;
  /** The state machine's execution log group, searched by the saved queries. @default - not searched */
  readonly executionLogGroup?: logs.ILogGroup;
  readonly table: dynamodb.ITable;
  /** The finalizer's dead-letter queue. */
  readonly deadLetterQueue: sqs.IQueue;
  /**
   * An address subscribed to the alarm topic (it must confirm the subscription).
   *
   * @default - no subscription; subscribe to the topic yourself
   */
  readonly alarmEmail?: string;
}

/**
 * Alarms (each notifying one SNS topic), one dashboard and saved Logs Insights queries. Plain aws-cloudwatch
 * constructs: docs/OPERATIONS.md says why, and lists every alarm with its threshold and reason.
 */
export class Monitoring extends Construct {
  readonly topic: sns.Topic;
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarms: cloudwatch.Alarm[] = [];
  private readonly action: actions.SnsAction;
  private readonly logGroups: logs.ILogGroup[] = [];

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    if (props.alarmEmail !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(props.alarmEmail)) {
      throw new Error(`alarmEmail must be an e-mail address, got ${JSON.stringify(props.alarmEmail)}.`);
    }
    this.topic = new sns.Topic(this, 'AlarmTopic', { displayName: 'Video tracking alarms', enforceSSL: true });
    Validations.of(this.topic).acknowledge({
      id: 'AwsSolutions-SNS2',
      reason:
        'Alarm notifications carry alarm names and states only; encrypting them would need a customer managed KMS key ($1/month) whose policy lets CloudWatch publish.',
    });
    if (props.alarmEmail) this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    this.action = new actions.SnsAction(this.topic);
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) });

    const appMetric = (metricName: string, service: string = ServiceName.TrackApi, label?: string) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { service },
        statistic: 'Sum',
        period: FIVE_MINUTES,
        label,
      });
    const sm = props.stateMachine;

    // The API and the handler's outcomes.
    this.alarm(
      'ApiServerErrors',
      props.api.metricServerError({ statistic: 'Sum', period: FIVE_MINUTES }),
      5,
      'The API answered 5xx (5 or more in 5 minutes): handler errors, timeouts or dependency outages. See the HandlerInternalErrors / HandlerDependencyUnavailable alarms for which.',
    );
    this.alarm(
      'HandlerDependencyUnavailable',
      appMetric('DependencyUnavailable'),
      5,
      'DynamoDB or Step Functions throttled or unavailable after SDK retries (5 or more 503s in 5 minutes); clients were told to retry.',
    );
    this.alarm(
      'HandlerInternalErrors',
      appMetric('InternalError'),
      1,
      'The handler answered 500: an unexpected error (a bug or a misconfiguration). The error is logged with the request.',
    );

    // The workflow. A deliberate stop (cancel, lease takeover) aborts an execution too: only aborts nobody asked for count.
    this.alarm(
      'ExecutionsFailed',
      sm.metricFailed({ statistic: 'Sum', period: FIVE_MINUTES }),
      1,
      'An execution FAILED (FinishNotRecorded, States.Runtime, or MarkFailed itself failing). The finalizer records the task; check that it did.',
    );
    this.alarm(
      'ExecutionsTimedOut',
      sm.metricTimedOut({ statistic: 'Sum', period: FIVE_MINUTES }),
      1,
      'An execution hit the state machine timeout; the finalizer records the task failed (States.Timeout).',
    );
    const abortPeriod = Duration.minutes(15);
    this.alarm(
      'ExecutionsAbortedUnexpectedly',
      new cloudwatch.MathExpression({
        expression: 'FILL(aborted, 0) - FILL(stopped, 0)',
        usingMetrics: {
          aborted: sm.metricAborted({ statistic: 'Sum', period: abortPeriod }),
          stopped: appMetric(ServiceEvent.ExecutionStopped).with({ period: abortPeriod }),
        },
        period: abortPeriod,
        label: 'ExecutionsAborted not stopped by the API',
      }),
      1,
      "An execution was ABORTED by something other than the API (console, CLI, another tool): ExecutionsAborted minus the API's own stops (ExecutionStopped), per 15 minutes.",
    );

    // Repairs: a repair means something went wrong first.
    this.alarm(
      'DeadLetterQueueNotEmpty',
      props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: FIVE_MINUTES }),
      1,
      'The finalizer could not process an execution-end event after 20 retries over 24 h. Its task may still block its video: inspect and redrive the queue.',
    );
    this.alarm(
      'TasksRepaired',
      appMetric(REPAIR_METRIC.metricName, REPAIR_METRIC.service),
      1,
      'The repair sweep repaired a task (a lost start or end). Follow the task to learn what was lost.',
    );

    // The table.
    this.alarm(
      'TableThrottled',
      props.table.metricThrottledRequestsForOperations({ operations: TABLE_OPERATIONS, period: FIVE_MINUTES }),
      1,
      'DynamoDB throttled a request (on-demand: a sudden peak above twice the previous peak, or a hot key).',
    );
    this.alarm(
      'TableSystemErrors',
      props.table.metricSystemErrorsForOperations({ operations: TABLE_OPERATIONS, period: FIVE_MINUTES }),
      1,
      'DynamoDB answered 500 (an AWS-side fault). Check the AWS Health Dashboard.',
    );

    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown: `# Video tracking\nAlarms, runbook and saved queries: docs/OPERATIONS.md. Metrics: namespace \`${METRICS_NAMESPACE}\`, dimension \`service\`.`,
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      graph(
        'Requests by outcome (track-api)',
        OUTCOMES.map((o) => appMetric(o)),
        { stacked: true },
      ),
      graph('Tasks created vs answered as duplicates', [
        appMetric(RequestOutcome.TaskCreated, ServiceName.TrackApi, 'created'),
        appMetric(RequestOutcome.TaskExisting, ServiceName.TrackApi, 'duplicate'),
      ]),
    );
    this.dashboard.addWidgets(
      graph('API latency (ms)', [
        props.api.metricLatency({ statistic: 'p50', period: FIVE_MINUTES, label: 'p50' }),
        props.api.metricLatency({ statistic: 'p99', period: FIVE_MINUTES, label: 'p99' }),
      ]),
      graph('Handler duration (ms)', [
        props.apiHandler.metricDuration({ statistic: 'p50', period: FIVE_MINUTES, label: 'p50' }),
        props.apiHandler.metricDuration({ statistic: 'p99', period: FIVE_MINUTES, label: 'p99' }),
      ]),
    );
    this.dashboard.addWidgets(
      graph('Executions', [
        sm.metricStarted({ statistic: 'Sum', period: FIVE_MINUTES, label: 'started' }),
        sm.metricSucceeded({ statistic: 'Sum', period: FIVE_MINUTES, label: 'succeeded' }),
        sm.metricFailed({ statistic: 'Sum', period: FIVE_MINUTES, label: 'failed' }),
        sm.metricTimedOut({ statistic: 'Sum', period: FIVE_MINUTES, label: 'timed out' }),
        sm.metricAborted({ statistic: 'Sum', period: FIVE_MINUTES, label: 'aborted' }),
      ]),
      // Step Functions publishes transitions per account and region, not per state machine.
      graph('Billed state transitions (all Standard state machines of the account, this region)', [
        sfn.StateTransitionMetric.metricConsumedCapacity({
          statistic: 'Sum',
          period: FIVE_MINUTES,
          label: 'state transitions',
        }),
      ]),
    );
    this.dashboard.addWidgets(
      graph('Finalizer dead-letter queue', [
        props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
          statistic: 'Maximum',
          period: FIVE_MINUTES,
          label: 'messages',
        }),
        props.deadLetterQueue.metricApproximateAgeOfOldestMessage({
          statistic: 'Maximum',
          period: FIVE_MINUTES,
          label: 'age of oldest (s)',
        }),
      ]),
      graph('Repairs', [
        appMetric(REPAIR_METRIC.metricName, REPAIR_METRIC.service, 'repaired by the sweep'),
        appMetric(ServiceEvent.Redriven, ServiceName.TrackApi, 're-driven'),
        appMetric(ServiceEvent.RedriveFoundEnded, ServiceName.TrackApi, 're-drive found execution ended'),
        appMetric(ServiceEvent.LeaseTakeover, ServiceName.TrackApi, 'lease takeovers'),
        appMetric(ServiceEvent.Compensated, ServiceName.TrackApi, 'compensations'),
        appMetric(ServiceEvent.CompensationFailed, ServiceName.TrackApi, 'compensations failed'),
        appMetric(ServiceEvent.FinalizerRecorded, ServiceName.TaskFinalizer, 'finalizer recorded'),
        appMetric(ServiceEvent.FinalizerIgnored, ServiceName.TaskFinalizer, 'finalizer ignored'),
        appMetric(ServiceEvent.ExecutionStopped, ServiceName.TrackApi, 'executions stopped by the API'),
        appMetric(ServiceEvent.TenantCountReconciled, ServiceName.TaskSweeper, 'tenant counts reconciled'),
      ]),
      graph('Tenant limit', [
        appMetric(ServiceEvent.TenantLimitReached, ServiceName.TrackApi, 'new tasks refused (429)'),
      ]),
    );
    this.dashboard.addWidgets(
      // One expression per graph: both name their per-operation metrics after the operation.
      graph('Table throttled requests', [
        props.table.metricThrottledRequestsForOperations({ operations: TABLE_OPERATIONS, period: FIVE_MINUTES }),
      ]),
      graph('Table system errors', [
        props.table.metricSystemErrorsForOperations({ operations: TABLE_OPERATIONS, period: FIVE_MINUTES }),
      ]),
    );

    for (const fn of props.functions) this.monitorFunction(fn);
    if (props.executionLogGroup) this.logGroups.push(props.executionLogGroup);
    // The status widget and the saved queries are rendered at synthesis: they include functions added later too.
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24, height: 6 }),
    );
    this.saveQueries();
  }

  /** Alarms on a function's Errors and Throttles and puts it on the dashboard. The lead adds the sweep with this. */
  monitorFunction(fn: MonitoredFunction): void {
    const errors = fn.function.metricErrors({ statistic: 'Sum', period: FIVE_MINUTES });
    const throttles = fn.function.metricThrottles({ statistic: 'Sum', period: FIVE_MINUTES });
    this.alarm(
      `${fn.name}Errors`,
      errors,
      fn.errorThreshold ?? 1,
      `The ${fn.name} function threw or timed out (${fn.errorThreshold ?? 1} or more in 5 minutes). Its log group has the error.`,
    );
    this.alarm(
      `${fn.name}Throttles`,
      throttles,
      1,
      `Lambda throttled the ${fn.name} function: the account or function concurrency limit was reached.`,
    );
    this.dashboard.addWidgets(
      graph(`${fn.name} function`, [
        fn.function.metricInvocations({ statistic: 'Sum', period: FIVE_MINUTES, label: 'invocations' }),
        errors.with({ label: 'errors' }),
        throttles.with({ label: 'throttles' }),
      ]),
    );
    if (fn.logGroup) this.logGroups.push(fn.logGroup);
  }

  private alarm(id: string, metric: cloudwatch.IMetric, threshold: number, description: string): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, id, {
      metric,
      threshold,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      // No traffic publishes no datapoint: that is healthy, not unknown.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `${description} Runbook: docs/OPERATIONS.md#${id.toLowerCase()}`,
    });
    alarm.addAlarmAction(this.action);
    alarm.addOkAction(this.action);
    this.alarms.push(alarm);
    return alarm;
  }

  /** Logs Insights queries saved in the account, under the stack's name, over every monitored log group. */
  private saveQueries(): void {
    const prefix = Stack.of(this).stackName;
    const save = (id: string, name: string, query: logs.QueryString) =>
      new logs.CfnQueryDefinition(this, id, {
        name: `${prefix}/${name}`,
        queryString: query.toString(),
        logGroupNames: Lazy.list({ produce: () => this.logGroups.map((g) => g.logGroupName) }),
      });
    save(
      'FollowOneTask',
      'follow-one-task',
      new logs.QueryString({
        fields: [
          '@timestamp',
          '@log',
          'level',
          'message',
          'method',
          'path',
          'status',
          'outcome',
          'execution_status',
          'reason',
          'error.name',
          'error.message',
        ],
        // Replace the id. Execution log lines carry it in the execution ARN (executions are named after their task).
        filterStatements: ['task_id = "REPLACE-WITH-TASK-ID" or @message like "REPLACE-WITH-TASK-ID"'],
        sort: '@timestamp asc',
        limit: 200,
      }),
    );
    save(
      'FailedRequests',
      'errors',
      new logs.QueryString({
        fields: ['@timestamp', '@log', 'task_id', 'method', 'path', 'message', 'error.name', 'error.message'],
        filterStatements: ['level = "ERROR"'],
        sort: '@timestamp desc',
        limit: 100,
      }),
    );
    save(
      'RepairsAndWarnings',
      'repairs-and-warnings',
      new logs.QueryString({
        fields: ['@timestamp', '@log', 'task_id', 'level', 'message', 'execution_status', 'outcome', 'reason'],
        filterStatements: ['level = "WARN" or message = "execution ended"'],
        sort: '@timestamp desc',
        limit: 200,
      }),
    );
    save(
      'RequestLatency',
      'request-latency',
      new logs.QueryString({
        filterStatements: ['message = "request"'],
        statsStatements: [
          'count() as requests, pct(duration_ms, 50) as p50_ms, pct(duration_ms, 99) as p99_ms by method, bin(5m)',
        ],
      }),
    );
  }
}

function graph(
  title: string,
  metrics: cloudwatch.IMetric[],
  options: { stacked?: boolean } = {},
): cloudwatch.GraphWidget {
  return new cloudwatch.GraphWidget({
    title,
    left: metrics,
    width: 12,
    height: 6,
    stacked: options.stacked,
    leftYAxis: { min: 0 },
  });
}
