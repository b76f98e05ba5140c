import { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { authConfigFromEnv } from '../core/caller';
import { requireEnv, serviceConfigFromEnv } from '../core/config';
import { TaskService } from '../core/task-service';
import { createDocumentClient, DynamoDbTaskStore } from '../adapters/dynamodb-task-store';
import { StepFunctionsWorkflow } from '../adapters/sfn-workflow';
import { createTrackHandler } from './track-handler';

const logger = new Logger({ serviceName: 'track-api' });
const metrics = new Metrics({ namespace: 'VideoTracking', serviceName: 'track-api' });

/** Built on first use, so a missing variable fails loudly in the log instead of at import. */
let handle: ReturnType<typeof createTrackHandler> | undefined;

/** The handler as configured by `env`; the local system builds a second one for its AUTH=jwt front end. */
export function buildTrackHandler(env: Record<string, string | undefined> = process.env): ReturnType<typeof createTrackHandler> {
  const service = new TaskService(
    new DynamoDbTaskStore(createDocumentClient(), requireEnv(env, 'TABLE_NAME')),
    new StepFunctionsWorkflow(new SFNClient({}), requireEnv(env, 'STATE_MACHINE_ARN')),
    { now: () => new Date() },
    randomUUID,
    serviceConfigFromEnv(env),
    logger,
  );
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
