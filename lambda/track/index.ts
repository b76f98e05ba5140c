import { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { requireEnv, serviceConfigFromEnv } from '../core/config';
import { TaskService } from '../core/task-service';
import { createDocumentClient, DynamoDbTaskStore } from '../adapters/dynamodb-task-store';
import { powertoolsServiceMetrics } from '../adapters/powertools-metrics';
import { StepFunctionsWorkflow } from '../adapters/sfn-workflow';
import { createTrackHandler } from './track-handler';

const logger = new Logger({ serviceName: 'track-api' });
const metrics = new Metrics({ namespace: 'VideoTracking', serviceName: 'track-api' });
// Outside Lambda (npm start, tests, sam local) the Tracer disables itself and returns the clients unchanged.
const tracer = new Tracer({ serviceName: 'track-api' });

/** Built on first use, so a missing variable fails loudly in the log instead of at import. */
let handle: ReturnType<typeof createTrackHandler> | undefined;

function build(): ReturnType<typeof createTrackHandler> {
  const env = process.env;
  const service = new TaskService(
    // Each SDK call becomes an X-Ray subsegment of the function's trace.
    new DynamoDbTaskStore(createDocumentClient(tracer.captureAWSv3Client(new DynamoDBClient({}))), requireEnv(env, 'TABLE_NAME')),
    new StepFunctionsWorkflow(tracer.captureAWSv3Client(new SFNClient({})), requireEnv(env, 'STATE_MACHINE_ARN')),
    { now: () => new Date() },
    randomUUID,
    serviceConfigFromEnv(env),
    logger,
    powertoolsServiceMetrics(metrics),
  );
  return createTrackHandler(service, logger, (outcome) => {
    metrics.addMetric(outcome, MetricUnit.Count, 1);
    metrics.publishStoredMetrics();
  });
}

export async function handler(event: APIGatewayProxyEventV2) {
  handle ??= build();
  return handle(event);
}
