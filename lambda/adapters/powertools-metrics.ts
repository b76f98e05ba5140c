import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import type { ServiceEvent, ServiceMetrics } from '../core/ports';

/** Powertools Metrics that says whether it is off (POWERTOOLS_METRICS_DISABLED, or POWERTOOLS_DEV): its own check is protected. */
export class FunctionMetrics extends Metrics {
  get off(): boolean {
    return this.isDisabled();
  }
}

/**
 * The core's metrics port on Powertools Metrics: each event is a Count, published with the request's other metrics.
 * With metrics off (as `npm start` and the benches run) nothing is stored: Powertools would store each one and drop
 * it at publish, a few µs per request for nothing.
 */
export function powertoolsServiceMetrics(metrics: FunctionMetrics): ServiceMetrics {
  return {
    count: (event: ServiceEvent) => {
      if (!metrics.off) metrics.addMetric(event, MetricUnit.Count, 1);
    },
  };
}
