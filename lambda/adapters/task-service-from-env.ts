import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient, type SFNClientConfig } from '@aws-sdk/client-sfn';
import { randomUUID } from 'node:crypto';
import { requireEnv, serviceConfigFromEnv } from '../core/config';
import type { Clock, ServiceMetrics } from '../core/ports';
import { type ServiceLog, TaskService } from '../core/task-service';
import { createDocumentClient } from './dynamodb/table-client';
import { DynamoDbTaskStore } from './dynamodb/task-store';
import { StepFunctionsWorkflow } from './sfn-workflow';

export interface TaskServiceWiring {
  readonly log: ServiceLog;
  readonly metrics?: ServiceMetrics;
  /** Applied to each AWS SDK client before use (X-Ray capture, fault injection). */
  readonly wrapClient?: <C extends DynamoDBClient | SFNClient>(client: C) => C;
  /** Step Functions client settings (e.g. the sweeper's adaptive retries). */
  readonly sfnConfig?: SFNClientConfig;
}

/** The task rules on real AWS clients, configured as every function of the stack is: TABLE_NAME, STATE_MACHINE_ARN, timings. */
export function taskServiceFromEnv(env: Record<string, string | undefined>, wiring: TaskServiceWiring) {
  const wrap = wiring.wrapClient ?? (<C>(client: C) => client);
  const clock: Clock = { now: () => new Date() };
  const store = new DynamoDbTaskStore(createDocumentClient(wrap(new DynamoDBClient({}))), requireEnv(env, 'TABLE_NAME'));
  const workflow = new StepFunctionsWorkflow(wrap(new SFNClient(wiring.sfnConfig ?? {})), requireEnv(env, 'STATE_MACHINE_ARN'));
  const service = new TaskService(store, workflow, clock, randomUUID, serviceConfigFromEnv(env), wiring.log, wiring.metrics);
  return { service, store, workflow, clock };
}
