import { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import { SFNClient } from '@aws-sdk/client-sfn';
import { randomUUID } from 'node:crypto';
import { requireEnv, serviceConfigFromEnv, sweepOptionsFromEnv } from '../core/config';
import { RepairSweep } from '../core/repair-sweep';
import { TaskService } from '../core/task-service';
import { createDocumentClient, DynamoDbTaskStore } from '../adapters/dynamodb-task-store';
import { StepFunctionsWorkflow } from '../adapters/sfn-workflow';

const logger = new Logger({ serviceName: 'task-sweeper' });
const metrics = new Metrics({ namespace: 'VideoTracking', serviceName: 'task-sweeper' });

/** Kept across invocations of a warm function: its cursor lets the next run continue where a full run stopped. */
let repairSweep: RepairSweep | undefined;

function build(): RepairSweep {
  const env = process.env;
  const config = serviceConfigFromEnv(env);
  const clock = { now: () => new Date() };
  const store = new DynamoDbTaskStore(createDocumentClient(), requireEnv(env, 'TABLE_NAME'));
  const workflow = new StepFunctionsWorkflow(new SFNClient({}), requireEnv(env, 'STATE_MACHINE_ARN'));
  const service = new TaskService(store, workflow, clock, randomUUID, config, logger);
  return new RepairSweep(service, store, clock, sweepOptionsFromEnv(env, config), logger, (outcome) => {
    metrics.addMetric('TaskRepaired', MetricUnit.Count, 1);
    metrics.addMetric(outcome === 'started' ? 'TaskRepairStarted' : 'TaskRepairEnded', MetricUnit.Count, 1);
  });
}

/** EventBridge schedule target (every minute): one repair sweep over the active tasks older than the grace period. */
export async function handler() {
  repairSweep ??= build();
  try {
    const report = await repairSweep.run();
    if (report.errors > 0) metrics.addMetric('RepairFailed', MetricUnit.Count, report.errors);
    logger.info('sweep', { ...report });
    return report;
  } finally {
    // An idle sweep has nothing to count (Powertools would warn about an empty publish every minute).
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  }
}
