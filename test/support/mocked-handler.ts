import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { createDocumentClient } from '../../lambda/adapters/dynamodb/table-client';
import { DynamoDbTaskStore } from '../../lambda/adapters/dynamodb/task-store';
import { StepFunctionsWorkflow } from '../../lambda/adapters/sfn-workflow';
import type { ServiceEvent } from '../../lambda/core/ports';
import type { ServiceLog } from '../../lambda/core/ports';
import { DEFAULT_TASK_SERVICE_CONFIG, TaskService } from '../../lambda/core/task-service';
import { createTrackHandler } from '../../lambda/track/track-handler';
import { TEST_KEYS } from './stored-items';

export const TABLE = 'tasks';
export const STATE_MACHINE_ARN = 'arn:aws:states:eu-west-1:123456789012:stateMachine:analysis';
export const NOW = new Date('2026-11-28T12:00:00.000Z');
/** The id every new task gets, whatever its video: tests that read it back mock the item at its active key. */
export const TASK_ID = TEST_KEYS.newTaskId('tenant1', 'test.mp4', Buffer.alloc(16, 9));

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
    store: new DynamoDbTaskStore(createDocumentClient(new DynamoDBClient({ region: 'eu-west-1' })), TABLE, TEST_KEYS),
    workflow: new StepFunctionsWorkflow(new SFNClient({ region: 'eu-west-1' }), STATE_MACHINE_ARN),
    clock: { now: () => now },
    newId: () => TASK_ID,
    cursorKeys: TEST_KEYS,
    config: DEFAULT_TASK_SERVICE_CONFIG,
    log,
    metrics: { count: (event) => counted.push(event) },
  });
  return { handle: createTrackHandler(service, log), ddb, sfn, lines, service, counted };
}
