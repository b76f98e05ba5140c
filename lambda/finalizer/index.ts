import { Logger } from '@aws-lambda-powertools/logger';
import { SFNClient } from '@aws-sdk/client-sfn';
import { randomUUID } from 'node:crypto';
import { requireEnv, serviceConfigFromEnv } from '../core/config';
import { TaskService } from '../core/task-service';
import { createDocumentClient, DynamoDbTaskStore } from '../adapters/dynamodb-task-store';
import { StepFunctionsWorkflow } from '../adapters/sfn-workflow';
import { type ExecutionStatusChange, finalizeExecution } from './finalizer';

const logger = new Logger({ serviceName: 'task-finalizer' });
let service: TaskService | undefined;

/** EventBridge target: throws on a transient failure so EventBridge retries (and dead-letters) the event. */
export async function handler(event: ExecutionStatusChange) {
  service ??= new TaskService(
    new DynamoDbTaskStore(createDocumentClient(), requireEnv(process.env, 'TABLE_NAME')),
    new StepFunctionsWorkflow(new SFNClient({}), requireEnv(process.env, 'STATE_MACHINE_ARN')),
    { now: () => new Date() },
    randomUUID,
    serviceConfigFromEnv(process.env),
    logger,
  );
  const result = await finalizeExecution(service, event);
  logger.info('execution ended', {
    execution_arn: event.detail.executionArn,
    execution_status: event.detail.status,
    outcome: result.outcome,
    ...(result.outcome === 'finalized' ? { task_id: result.task.taskId, status: result.task.status } : { reason: result.reason }),
  });
  return result;
}
