import { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { authConfigFromEnv } from '../core/caller';
import { withFaultInjection } from '../adapters/fault-injection';
import { powertoolsServiceMetrics } from '../adapters/powertools-metrics';
import { taskServiceFromEnv } from '../adapters/task-service-from-env';
import { createTrackHandler } from './track-handler';

const logger = new Logger({ serviceName: 'track-api' });
const metrics = new Metrics({ namespace: 'VideoTracking', serviceName: 'track-api' });
// Outside Lambda (npm start, tests, sam local) the Tracer disables itself and returns the clients unchanged.
const tracer = new Tracer({ serviceName: 'track-api' });

// Checked at init: without AUTH_MODE the function must not start (it would trust the tenant a request names).
authConfigFromEnv(process.env);

/** Built on first use, so a missing table or state machine variable fails loudly in the log instead of at import. */
let handle: ReturnType<typeof createTrackHandler> | undefined;

/** The handler as configured by `env`; the local system builds a second one for its AUTH=jwt front end. */
export function buildTrackHandler(env: Record<string, string | undefined> = process.env): ReturnType<typeof createTrackHandler> {
  // Tests and npm start only (FAULT_INJECTION=on): lets them fail chosen AWS calls; the stack never sets it.
  const faults = env.FAULT_INJECTION === 'on' ? withFaultInjection : <C>(client: C) => client;
  const { service } = taskServiceFromEnv(env, {
    log: logger,
    metrics: powertoolsServiceMetrics(metrics),
    // Each SDK call becomes an X-Ray subsegment of the function's trace.
    wrapClient: (client) => tracer.captureAWSv3Client(faults(client)),
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
