import { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { authConfigFromEnv } from '../core/caller';
import { LazyClientTracing } from '../adapters/lazy-tracing';
import { installLazySourceMaps } from '../adapters/lazy-source-maps';
import { powertoolsLog } from '../adapters/powertools-log';
import { powertoolsServiceMetrics } from '../adapters/powertools-metrics';
import { taskServiceFromEnv, type TaskServiceWiring } from '../adapters/task-service-from-env';
import { loadTaskKeys } from '../adapters/task-id-keyring';
import type { TaskKeys } from '../shared/task-keys';
import { errorResponse } from './http';
import { createTrackHandler, outcomeOf } from './track-handler';
import { METRICS_NAMESPACE, type RequestOutcome, ServiceName } from '../shared/observability-names';

installLazySourceMaps(__filename);
const logger = new Logger({ serviceName: ServiceName.TrackApi });
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: ServiceName.TrackApi });
const tracing = new LazyClientTracing({ serviceName: ServiceName.TrackApi, log: logger });

// Checked at init: without AUTH_MODE the function must not start (it would trust the tenant a request names).
authConfigFromEnv(process.env);

/** One metric per answer, by its outcome (the handler alarms read them). */
function recordOutcome(outcome: RequestOutcome): void {
  metrics.addMetric(outcome, MetricUnit.Count, 1);
  metrics.publishStoredMetrics();
}

/** Built on first use, so a missing table or state machine variable fails loudly in the log instead of at import. */
let handle: ReturnType<typeof createTrackHandler> | undefined;
/** The keyring's read (the secret, once per cold start); forgotten when it fails, so the next request tries again. */
let keys: Promise<TaskKeys> | undefined;

export interface TrackHandlerOptions {
  /** Applied to each AWS SDK client before the X-Ray capture: the local system's fault injection, or call counting. */
  readonly wrapClient?: TaskServiceWiring['wrapClient'];
  /** @default - the environment's inline keyring (TASK_ID_KEYRING) */
  readonly keys?: TaskKeys;
}

/** The handler as configured by `env`: what Lambda runs, and what the local system builds with its client wrapper. */
export function buildTrackHandler(
  env: Record<string, string | undefined> = process.env,
  options: TrackHandlerOptions = {},
): ReturnType<typeof createTrackHandler> {
  const wrap = options.wrapClient ?? (<C>(client: C) => client);
  const log = powertoolsLog(logger);
  const { service } = taskServiceFromEnv(env, {
    log,
    metrics: powertoolsServiceMetrics(metrics),
    lists: true,
    wrapClient: (client) => tracing.register(wrap(client)),
    keys: options.keys,
  });
  return createTrackHandler(service, log, recordOutcome, authConfigFromEnv(env));
}

export async function handler(event: APIGatewayProxyEventV2) {
  if (!handle) {
    try {
      keys ??= loadTaskKeys(process.env, { wrapClient: tracing.register });
      handle = buildTrackHandler(process.env, { keys: await keys });
    } catch (error) {
      // No keyring, no answer: 503 with Retry-After while Secrets Manager fails, 500 for a deployment fault.
      keys = undefined;
      logger.error('the task id keyring could not be read', { error });
      const response = errorResponse(error);
      // Counted as any answer is, so HandlerDependencyUnavailable / HandlerInternalErrors see it.
      recordOutcome(outcomeOf(response.statusCode));
      return response;
    }
  }
  tracing.beforeInvocation();
  return handle(event);
}
