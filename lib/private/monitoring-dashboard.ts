import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { METRICS_NAMESPACE, RequestOutcome, ServiceEvent, ServiceName } from '../../lambda/shared/observability-names';
import type { MonitoringProps } from '../monitoring';
import { appMetric, FIVE_MINUTES, REPAIR_METRIC, tableSystemErrors, tableThrottles } from './monitoring-metrics';

/** The dashboard's rows above the per-function graphs, top to bottom, each row's widgets left to right. */
export function serviceDashboardRows(props: MonitoringProps): cloudwatch.IWidget[][] {
  const sm = props.stateMachine;
  const dlq = props.deadLetterQueue;
  return [
    [
      new cloudwatch.TextWidget({
        markdown: `# Video tracking\nAlarms, runbook and saved queries: docs/OPERATIONS.md. Metrics: namespace \`${METRICS_NAMESPACE}\`, dimension \`service\`.`,
        width: 24,
        height: 2,
      }),
    ],
    [
      graph(
        'Requests by outcome (track-api)',
        Object.values(RequestOutcome).map((o) => appMetric(o)),
        { stacked: true },
      ),
      graph('Tasks created vs answered as duplicates', [
        appMetric(RequestOutcome.TaskCreated, ServiceName.TrackApi, 'created'),
        appMetric(RequestOutcome.TaskExisting, ServiceName.TrackApi, 'duplicate'),
      ]),
    ],
    [
      graph('API latency (ms)', [
        props.api.metricLatency({ statistic: 'p50', period: FIVE_MINUTES, label: 'p50' }),
        props.api.metricLatency({ statistic: 'p99', period: FIVE_MINUTES, label: 'p99' }),
      ]),
      graph('Handler duration (ms)', [
        props.apiHandler.metricDuration({ statistic: 'p50', period: FIVE_MINUTES, label: 'p50' }),
        props.apiHandler.metricDuration({ statistic: 'p99', period: FIVE_MINUTES, label: 'p99' }),
      ]),
    ],
    [
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
    ],
    [
      graph('Finalizer dead-letter queue', [
        dlq.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: FIVE_MINUTES, label: 'messages' }),
        dlq.metricApproximateAgeOfOldestMessage({
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
        appMetric(ServiceEvent.TenantOverLimit, ServiceName.TaskSweeper, 'tenants found over their limit'),
      ]),
    ],
    // One expression per graph: both name their per-operation metrics after the operation.
    [
      graph('Table throttled requests', [tableThrottles(props.table)]),
      graph('Table system errors', [tableSystemErrors(props.table)]),
    ],
  ];
}

/** A function's invocations, errors and throttles. */
export function functionGraph(
  name: string,
  fn: lambda.IFunction,
  errors: cloudwatch.Metric,
  throttles: cloudwatch.Metric,
): cloudwatch.GraphWidget {
  return graph(`${name} function`, [
    fn.metricInvocations({ statistic: 'Sum', period: FIVE_MINUTES, label: 'invocations' }),
    errors.with({ label: 'errors' }),
    throttles.with({ label: 'throttles' }),
  ]);
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
