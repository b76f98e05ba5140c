import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { createDocumentClient } from '../../lambda/adapters/dynamodb/table-client';
import { DynamoDbTaskStore } from '../../lambda/adapters/dynamodb/task-store';
import { StepFunctionsWorkflow } from '../../lambda/adapters/sfn-workflow';
import type { ServiceEvent } from '../../lambda/core/ports';
import { DEFAULT_TASK_SERVICE_CONFIG, type ServiceLog, TaskService } from '../../lambda/core/task-service';
import { createTrackHandler } from '../../lambda/track/track-handler';

export const TABLE = 'tasks';
export const STATE_MACHINE_ARN = 'arn:aws:states:eu-west-1:123456789012:stateMachine:analysis';
export const NOW = new Date('2026-11-28T12:00:00.000Z');
export const TASK_ID = '0b7e4f7c-2d7c-4d6a-9d1e-5b8f3c2a1e90';

export interface LogLine {
  level: string;
  message: string;
  extra: Record<string, unknown>;
}

/** The real handler, service and adapters, with the AWS SDK clients mocked. */
export function mockedHandler(now: Date = NOW) {
  const ddb = mockClient(DynamoDBDocumentClient);
  const sfn = mockClient(SFNClient);
  const lines: LogLine[] = [];
  const log: ServiceLog = {
    info: (message, extra) => lines.push({ level: 'info', message, extra }),
    warn: (message, extra) => lines.push({ level: 'warn', message, extra }),
    error: (message, extra) => lines.push({ level: 'error', message, extra }),
  };
  const counted: ServiceEvent[] = [];
  const service = new TaskService({
    store: new DynamoDbTaskStore(createDocumentClient(new DynamoDBClient({ region: 'eu-west-1' })), TABLE),
    workflow: new StepFunctionsWorkflow(new SFNClient({ region: 'eu-west-1' }), STATE_MACHINE_ARN),
    clock: { now: () => now },
    newId: () => TASK_ID,
    cursorKey: 'test-cursor-key',
    config: DEFAULT_TASK_SERVICE_CONFIG,
    log,
    metrics: { count: (event) => counted.push(event) },
  });
  return { handle: createTrackHandler(service, log), ddb, sfn, lines, service, counted };
}
