import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import type { ServiceEvent, ServiceMetrics } from '../core/ports';

/**
 * Powertools Metrics that does nothing while metrics are off (POWERTOOLS_METRICS_DISABLED, or POWERTOOLS_DEV; as
 * `npm start` and the benches run). Powertools itself stores each metric and drops it at publish (a few µs per
 * request for nothing), and warns at a publish with nothing stored.
 */
export class FunctionMetrics extends Metrics {
  override addMetric(...metric: Parameters<Metrics['addMetric']>): this {
    return this.isDisabled() ? this : super.addMetric(...metric);
  }

  override publishStoredMetrics(): this {
    return this.isDisabled() ? this : super.publishStoredMetrics();
  }
}

/** The core's metrics port on Powertools Metrics: each event is a Count, published with the request's other metrics. */
export function powertoolsServiceMetrics(metrics: Metrics): ServiceMetrics {
  return { count: (event: ServiceEvent) => metrics.addMetric(event, MetricUnit.Count, 1) };
}
