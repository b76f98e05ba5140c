import { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import type { TaskRecovery } from '../core/task-recovery';
import { LazyClientTracing } from '../adapters/lazy-tracing';
import { installLazySourceMaps } from '../adapters/lazy-source-maps';
import { powertoolsServiceMetrics } from '../adapters/powertools-metrics';
import { taskServiceFromEnv } from '../adapters/task-service-from-env';
import { loadTaskKeys } from '../adapters/task-id-keyring';
import { type ExecutionStatusChange, finalizeExecution } from './finalizer';
import { METRICS_NAMESPACE, ServiceEvent, ServiceName } from '../shared/observability-names';

installLazySourceMaps(__filename);
const logger = new Logger({ serviceName: ServiceName.TaskFinalizer });
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: ServiceName.TaskFinalizer });
const tracing = new LazyClientTracing({ serviceName: ServiceName.TaskFinalizer, log: logger });
let recovery: TaskRecovery | undefined;

/** EventBridge target: throws on a transient failure so EventBridge retries (and dead-letters) the event. */
export async function handler(event: ExecutionStatusChange) {
  // The keyring is read once per cold start; a failed read throws, and EventBridge retries the event.
  recovery ??= taskServiceFromEnv(process.env, {
    log: logger,
    metrics: powertoolsServiceMetrics(metrics),
    wrapClient: tracing.register,
    keys: await loadTaskKeys(process.env, { wrapClient: tracing.register }),
  }).service.recovery;
  tracing.beforeInvocation();
  try {
    const result = await finalizeExecution(recovery, event);
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
    // A failed event has nothing to count (Powertools would warn about the empty publish).
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  }
}
