import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { METRICS_NAMESPACE, ServiceName, SweepMetric } from '../../lambda/shared/observability-names';

/** The period of every alarm and graph but the unexpected-aborts alarm's. */
export const FIVE_MINUTES = Duration.minutes(5);

/** The repair sweep's count of repaired tasks, one per repaired task. */
export const REPAIR_METRIC = { metricName: SweepMetric.Repaired, service: ServiceName.TaskSweeper };

/** Operations the app performs on the table: the API handler, the state machine and the finalizer. */
export const TABLE_OPERATIONS = [
  dynamodb.Operation.GET_ITEM,
  dynamodb.Operation.PUT_ITEM,
  dynamodb.Operation.UPDATE_ITEM,
  dynamodb.Operation.TRANSACT_WRITE_ITEMS,
];

/** A count the app's code publishes (lambda/shared/names.ts), summed over five minutes. */
export function appMetric(
  metricName: string,
  service: string = ServiceName.TrackApi,
  label?: string,
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { service },
    statistic: 'Sum',
    period: FIVE_MINUTES,
    label,
  });
}

/** Throttled requests on the app's table operations, one metric per operation summed in one expression. */
export function tableThrottles(table: dynamodb.ITable): cloudwatch.IMetric {
  return table.metricThrottledRequestsForOperations({ operations: TABLE_OPERATIONS, period: FIVE_MINUTES });
}

/** DynamoDB's 500s on the app's table operations, one metric per operation summed in one expression. */
export function tableSystemErrors(table: dynamodb.ITable): cloudwatch.IMetric {
  return table.metricSystemErrorsForOperations({ operations: TABLE_OPERATIONS, period: FIVE_MINUTES });
}
