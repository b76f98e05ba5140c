import { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { authConfigFromEnv } from '../core/caller';
import { powertoolsServiceMetrics } from '../adapters/powertools-metrics';
import { taskServiceFromEnv, type TaskServiceWiring } from '../adapters/task-service-from-env';
import { createTrackHandler } from './track-handler';
import { METRICS_NAMESPACE, ServiceName } from '../shared/names';

const logger = new Logger({ serviceName: ServiceName.TrackApi });
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: ServiceName.TrackApi });
// Outside Lambda (npm start, tests, sam local) the Tracer disables itself and returns the clients unchanged.
const tracer = new Tracer({ serviceName: ServiceName.TrackApi });

// Checked at init: without AUTH_MODE the function must not start (it would trust the tenant a request names).
authConfigFromEnv(process.env);

/** Built on first use, so a missing table or state machine variable fails loudly in the log instead of at import. */
let handle: ReturnType<typeof createTrackHandler> | undefined;

export interface TrackHandlerOptions {
  /** Applied to each AWS SDK client before the X-Ray capture: the local system's fault injection, or call counting. */
  readonly wrapClient?: TaskServiceWiring['wrapClient'];
}

/** The handler as configured by `env`: what Lambda runs, and what the local system builds with its client wrapper. */
export function buildTrackHandler(env: Record<string, string | undefined> = process.env, options: TrackHandlerOptions = {}): ReturnType<typeof createTrackHandler> {
  const wrap = options.wrapClient ?? (<C>(client: C) => client);
  const { service } = taskServiceFromEnv(env, {
    log: logger,
    metrics: powertoolsServiceMetrics(metrics),
    lists: true,
    // Each SDK call becomes an X-Ray subsegment of the function's trace.
    wrapClient: (client) => tracer.captureAWSv3Client(wrap(client)),
  });
  return createTrackHandler(
    service,
    logger,
    (outcome) => {
      metrics.addMetric(outcome, MetricUnit.Count, 1);
      metrics.publishStoredMetrics();
    },
    authConfigFromEnv(env),
  );
}

export async function handler(event: APIGatewayProxyEventV2) {
  handle ??= buildTrackHandler(process.env);
  return handle(event);
}
