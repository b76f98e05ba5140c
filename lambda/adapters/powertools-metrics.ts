import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { ServiceEvent, ServiceMetrics } from '../core/ports';

/** The core's metrics port on Powertools Metrics: each event is a Count, published with the request's other metrics. */
export function powertoolsServiceMetrics(metrics: Metrics): ServiceMetrics {
  return { count: (event: ServiceEvent) => metrics.addMetric(event, MetricUnit.Count, 1) };
}
