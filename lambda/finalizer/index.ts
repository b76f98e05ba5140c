import { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { randomUUID } from 'node:crypto';
import { requireEnv, serviceConfigFromEnv } from '../core/config';
import { ServiceEvent } from '../core/ports';
import { TaskService } from '../core/task-service';
import { createDocumentClient, DynamoDbTaskStore } from '../adapters/dynamodb-task-store';
import { powertoolsServiceMetrics } from '../adapters/powertools-metrics';
import { StepFunctionsWorkflow } from '../adapters/sfn-workflow';
import { type ExecutionStatusChange, finalizeExecution } from './finalizer';

const logger = new Logger({ serviceName: 'task-finalizer' });
const metrics = new Metrics({ namespace: 'VideoTracking', serviceName: 'task-finalizer' });
const tracer = new Tracer({ serviceName: 'task-finalizer' });
let service: TaskService | undefined;

/** EventBridge target: throws on a transient failure so EventBridge retries (and dead-letters) the event. */
export async function handler(event: ExecutionStatusChange) {
  service ??= new TaskService(
    new DynamoDbTaskStore(createDocumentClient(tracer.captureAWSv3Client(new DynamoDBClient({}))), requireEnv(process.env, 'TABLE_NAME')),
    new StepFunctionsWorkflow(tracer.captureAWSv3Client(new SFNClient({})), requireEnv(process.env, 'STATE_MACHINE_ARN')),
    { now: () => new Date() },
    randomUUID,
    serviceConfigFromEnv(process.env),
    logger,
    powertoolsServiceMetrics(metrics),
  );
  try {
    const result = await finalizeExecution(service, event);
    // FinalizerRecorded is counted by the core when it writes; the events that needed nothing are counted here.
    if (result.outcome === 'ignored') metrics.addMetric(ServiceEvent.FinalizerIgnored, MetricUnit.Count, 1);
    logger.info('execution ended', {
      execution_arn: event.detail.executionArn,
      execution_status: event.detail.status,
      outcome: result.outcome,
      task_id: result.outcome === 'finalized' ? result.task.taskId : result.taskId,
      ...(result.outcome === 'finalized' ? { status: result.task.status } : { reason: result.reason }),
    });
    return result;
  } finally {
    metrics.publishStoredMetrics();
  }
}
