import { Duration, Validations } from 'aws-cdk-lib';
import type * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { saveLogQueries } from './private/log-queries';
import { functionGraph, serviceDashboardRows } from './private/monitoring-dashboard';
import {
  appMetric,
  FIVE_MINUTES,
  REPAIR_METRIC,
  tableSystemErrors,
  tableThrottles,
} from './private/monitoring-metrics';
import { ServiceEvent } from '../lambda/shared/observability-names';

export interface MonitoredFunction {
  /** Short name used in alarm ids and on the dashboard, e.g. `Handler`. */
  readonly name: string;
  /** The function whose Errors and Throttles raise alarms. */
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
  /** The HTTP API: its 5xx raise an alarm, its latency is on the dashboard. */
  readonly api: apigwv2.IHttpApi;
  /** The API handler: its duration is the handler latency on the dashboard. */
  readonly apiHandler: lambda.IFunction;
  /** Every function to alarm on (Errors, Throttles). More can be added with `monitorFunction`. */
  readonly functions: MonitoredFunction[];
  /** The analysis workflow: failed, timed-out and unexpectedly aborted executions raise alarms. */
  readonly stateMachine: sfn.IStateMachine;
  /** The state machine's execution log group, searched by the saved queries. @default - not searched */
  readonly executionLogGroup?: logs.ILogGroup;
  /** The task table: throttles and system errors on the app's operations raise alarms. */
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

/** One alarm: its construct id (also its runbook anchor), what it watches, the count that raises it, and why. */
interface AlarmSpec {
  readonly id: string;
  readonly metric: cloudwatch.IMetric;
  readonly threshold: number;
  readonly description: string;
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
    this.topic = alarmTopic(this, props.alarmEmail);
    this.action = new actions.SnsAction(this.topic);
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) });

    for (const spec of serviceAlarms(props)) this.addAlarm(spec);
    for (const row of serviceDashboardRows(props)) this.dashboard.addWidgets(...row);
    for (const fn of props.functions) this.monitorFunction(fn);
    if (props.executionLogGroup) this.logGroups.push(props.executionLogGroup);
    // The status widget and the saved queries are rendered at synthesis: they include functions added later too.
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24, height: 6 }),
    );
    saveLogQueries(this, this.logGroups);
  }

  /** Alarms on a function's Errors and Throttles and puts it on the dashboard. The lead adds the sweep with this. */
  monitorFunction(fn: MonitoredFunction): void {
    const errors = fn.function.metricErrors({ statistic: 'Sum', period: FIVE_MINUTES });
    const throttles = fn.function.metricThrottles({ statistic: 'Sum', period: FIVE_MINUTES });
    const errorThreshold = fn.errorThreshold ?? 1;
    this.addAlarm({
      id: `${fn.name}Errors`,
      metric: errors,
      threshold: errorThreshold,
      description: `The ${fn.name} function threw or timed out (${errorThreshold} or more in 5 minutes). Its log group has the error.`,
    });
    this.addAlarm({
      id: `${fn.name}Throttles`,
      metric: throttles,
      threshold: 1,
      description: `Lambda throttled the ${fn.name} function: the account or function concurrency limit was reached.`,
    });
    this.dashboard.addWidgets(functionGraph(fn.name, fn.function, errors, throttles));
    if (fn.logGroup) this.logGroups.push(fn.logGroup);
  }

  private addAlarm(spec: AlarmSpec): void {
    const alarm = new cloudwatch.Alarm(this, spec.id, {
      metric: spec.metric,
      threshold: spec.threshold,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      // No traffic publishes no datapoint: that is healthy, not unknown.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `${spec.description} Runbook: docs/OPERATIONS.md#${spec.id.toLowerCase()}`,
    });
    alarm.addAlarmAction(this.action);
    alarm.addOkAction(this.action);
    this.alarms.push(alarm);
  }
}

/** The topic every alarm notifies, TLS only, with `alarmEmail` subscribed when given. */
function alarmTopic(scope: Construct, alarmEmail: string | undefined): sns.Topic {
  const topic = new sns.Topic(scope, 'AlarmTopic', { displayName: 'Video tracking alarms', enforceSSL: true });
  Validations.of(topic).acknowledge({
    id: 'AwsSolutions-SNS2',
    reason:
      'Alarm notifications carry alarm names and states only; encrypting them would need a customer managed KMS key ($1/month) whose policy lets CloudWatch publish.',
  });
  if (alarmEmail) topic.addSubscription(new subscriptions.EmailSubscription(alarmEmail));
  return topic;
}

/** Every alarm but the per-function ones (monitorFunction), in the order of docs/OPERATIONS.md. */
function serviceAlarms(props: MonitoringProps): AlarmSpec[] {
  const sm = props.stateMachine;
  const abortPeriod = Duration.minutes(15);
  return [
    // The API and the handler's outcomes.
    {
      id: 'ApiServerErrors',
      metric: props.api.metricServerError({ statistic: 'Sum', period: FIVE_MINUTES }),
      threshold: 5,
      description:
        'The API answered 5xx (5 or more in 5 minutes): handler errors, timeouts or dependency outages. See the HandlerInternalErrors / HandlerDependencyUnavailable alarms for which.',
    },
    {
      id: 'HandlerDependencyUnavailable',
      metric: appMetric('DependencyUnavailable'),
      threshold: 5,
      description:
        'DynamoDB or Step Functions throttled or unavailable after SDK retries (5 or more 503s in 5 minutes); clients were told to retry.',
    },
    {
      id: 'HandlerInternalErrors',
      metric: appMetric('InternalError'),
      threshold: 1,
      description:
        'The handler answered 500: an unexpected error (a bug or a misconfiguration). The error is logged with the request.',
    },
    // The workflow. A deliberate stop (cancel, lease takeover) aborts an execution too: only aborts nobody asked for count.
    {
      id: 'ExecutionsFailed',
      metric: sm.metricFailed({ statistic: 'Sum', period: FIVE_MINUTES }),
      threshold: 1,
      description:
        'An execution FAILED (FinishNotRecorded, States.Runtime, or MarkFailed itself failing). The finalizer records the task; check that it did.',
    },
    {
      id: 'ExecutionsTimedOut',
      metric: sm.metricTimedOut({ statistic: 'Sum', period: FIVE_MINUTES }),
      threshold: 1,
      description:
        'An execution hit the state machine timeout; the finalizer records the task failed (States.Timeout).',
    },
    {
      id: 'ExecutionsAbortedUnexpectedly',
      metric: new cloudwatch.MathExpression({
        expression: 'FILL(aborted, 0) - FILL(stopped, 0)',
        usingMetrics: {
          aborted: sm.metricAborted({ statistic: 'Sum', period: abortPeriod }),
          stopped: appMetric(ServiceEvent.ExecutionStopped).with({ period: abortPeriod }),
        },
        period: abortPeriod,
        label: 'ExecutionsAborted not stopped by the API',
      }),
      threshold: 1,
      description:
        "An execution was ABORTED by something other than the API (console, CLI, another tool): ExecutionsAborted minus the API's own stops (ExecutionStopped), per 15 minutes.",
    },
    // Repairs: a repair means something went wrong first.
    {
      id: 'DeadLetterQueueNotEmpty',
      metric: props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        statistic: 'Maximum',
        period: FIVE_MINUTES,
      }),
      threshold: 1,
      description:
        'The finalizer could not process an execution-end event after 20 retries over 24 h. Its task may still block its video: inspect and redrive the queue.',
    },
    {
      id: 'TasksRepaired',
      metric: appMetric(REPAIR_METRIC.metricName, REPAIR_METRIC.service),
      threshold: 1,
      description: 'The repair sweep repaired a task (a lost start or end). Follow the task to learn what was lost.',
    },
    // The table.
    {
      id: 'TableThrottled',
      metric: tableThrottles(props.table),
      threshold: 1,
      description:
        'DynamoDB throttled a request (on-demand: a sudden peak above twice the previous peak, or a hot key).',
    },
    {
      id: 'TableSystemErrors',
      metric: tableSystemErrors(props.table),
      threshold: 1,
      description: 'DynamoDB answered 500 (an AWS-side fault). Check the AWS Health Dashboard.',
    },
  ];
}
