import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient, type SFNClientConfig } from '@aws-sdk/client-sfn';
import type { Clock, ServiceLog, ServiceMetrics } from '../core/ports';
import {
  countsTenantTasks,
  DEFAULT_TASK_SERVICE_CONFIG,
  type TaskServiceConfig,
  TaskService,
} from '../core/task-service';
import { TASK_ID_SECRET_ARN_ENV } from '../shared/deployment-names';
import type { CursorKeys, TaskKeys } from '../shared/task-keys';
import { DynamoDbSweepState } from './dynamodb/sweep-state';
import { createDocumentClient, TableClient } from './dynamodb/table-client';
import { DynamoDbTaskStore } from './dynamodb/task-store';
import { requireEnv, serviceConfigFromEnv } from './env-config';
import { StepFunctionsWorkflow } from './sfn-workflow';
import { inlineTaskKeys } from './task-id-keyring';

export interface TaskServiceWiring {
  readonly log: ServiceLog;
  readonly metrics?: ServiceMetrics;
  /** Applied to each AWS SDK client before use (X-Ray capture, fault injection). */
  readonly wrapClient?: <C extends DynamoDBClient | SFNClient>(client: C) => C;
  /** Step Functions client settings (e.g. the sweeper's adaptive retries). */
  readonly sfnConfig?: SFNClientConfig;
  /** The API lists tasks: its cursors are signed with the keyring's cursor keys. */
  readonly lists?: boolean;
  /**
   * The task keys, loaded by the function's entry point (adapters/task-id-keyring.ts: the secret, read once).
   * @default - the inline keyring of the environment (TASK_ID_KEYRING), which must then be set
   */
  readonly keys?: TaskKeys;
}

export interface TaskServiceClients {
  readonly dynamodb: DynamoDBClient;
  readonly sfn: SFNClient;
  readonly tableName: string;
  readonly stateMachineArn: string;
  /** Derives task ids and active keys: the stack's keyring in Lambda, a fixed local one elsewhere. */
  readonly keys: TaskKeys;
  /** @default DEFAULT_TASK_SERVICE_CONFIG */
  readonly config?: TaskServiceConfig;
  /** @default - the system clock */
  readonly clock?: Clock;
  /** @default - no log */
  readonly log?: ServiceLog;
  /** @default - nothing counted */
  readonly metrics?: ServiceMetrics;
  /** @default - no listing (only the API lists) */
  readonly cursorKeys?: CursorKeys;
}

/** The task rules on the given AWS clients: the one wiring of store, workflow and service (Lambda, bench, tests). */
export function taskServiceOn(clients: TaskServiceClients) {
  const clock: Clock = clients.clock ?? { now: () => new Date() };
  const config = clients.config ?? DEFAULT_TASK_SERVICE_CONFIG;
  const doc = createDocumentClient(clients.dynamodb);
  const store = new DynamoDbTaskStore(doc, clients.tableName, clients.keys, {
    countsTenantTasks: countsTenantTasks(config),
  });
  // The repair sweep's lease and checkpoint (only the sweeper uses it).
  const sweepState = new DynamoDbSweepState(new TableClient(doc, clients.tableName));
  const workflow = new StepFunctionsWorkflow(clients.sfn, clients.stateMachineArn);
  const newId = (tenantId: string, videoFilename: string) => clients.keys.newTaskId(tenantId, videoFilename);
  const service = new TaskService({
    store,
    workflow,
    clock,
    newId,
    config,
    log: clients.log,
    metrics: clients.metrics,
    cursorKeys: clients.cursorKeys,
  });
  return { service, store, workflow, clock, sweepState };
}

/** The task rules on real AWS clients, configured as every function of the stack is: TABLE_NAME, STATE_MACHINE_ARN, the task keys, timings. */
export function taskServiceFromEnv(env: Record<string, string | undefined>, wiring: TaskServiceWiring) {
  const wrap = wiring.wrapClient ?? (<C>(client: C) => client);
  const keys = wiring.keys ?? inlineTaskKeys(env);
  if (!keys)
    throw new Error(
      `No task keys: pass those loadTaskKeys read from ${TASK_ID_SECRET_ARN_ENV} (adapters/task-id-keyring.ts), or set the inline keyring.`,
    );
  return taskServiceOn({
    dynamodb: wrap(new DynamoDBClient({})),
    sfn: wrap(new SFNClient(wiring.sfnConfig ?? {})),
    tableName: requireEnv(env, 'TABLE_NAME'),
    stateMachineArn: requireEnv(env, 'STATE_MACHINE_ARN'),
    keys,
    config: serviceConfigFromEnv(env),
    log: wiring.log,
    metrics: wiring.metrics,
    cursorKeys: wiring.lists ? keys : undefined,
  });
}
