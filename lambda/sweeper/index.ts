import { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { installLazySourceMaps } from '../adapters/lazy-source-maps';
import { serviceConfigFromEnv, sweepOptionsFromEnv } from '../adapters/env-config';
import { powertoolsServiceMetrics } from '../adapters/powertools-metrics';
import { RepairSweep } from '../core/repair-sweep';
import { taskServiceFromEnv } from '../adapters/task-service-from-env';
import { loadTaskKeys } from '../adapters/task-id-keyring';
import { METRICS_NAMESPACE, ServiceName, SweepMetric } from '../shared/observability-names';

installLazySourceMaps(__filename);
const logger = new Logger({ serviceName: ServiceName.TaskSweeper });
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: ServiceName.TaskSweeper });

/** Kept across invocations of a warm function (its clients and their connections). */
let repairSweep: RepairSweep | undefined;

/** A run stops this long before the function's timeout, so it ends on its own terms and publishes its metrics. */
const STOP_MARGIN_MS = 15_000;
/**
 * The lease period without a Lambda context (npm start): its runs are short, and a restart after a crash must be able
 * to sweep within its bound (docs/ARCHITECTURE.md, "Repair sweep").
 */
const LOCAL_LEASE_MS = 15_000;

async function build(): Promise<RepairSweep> {
  const env = process.env;
  const { service, sweepState } = taskServiceFromEnv(env, {
    // Read once per cold start; a failed read fails this run, and the next minute's tick tries again.
    keys: await loadTaskKeys(env),
    log: logger,
    // The service events of its repairs and reconciliations, under the sweeper's service dimension.
    metrics: powertoolsServiceMetrics(metrics),
    // Adaptive retries pace the ListExecutions pages to the account's quota (a token bucket) instead of failing the pass.
    sfnConfig: { retryMode: 'adaptive', maxAttempts: 10 },
  });
  return new RepairSweep({
    recovery: service.recovery,
    options: sweepOptionsFromEnv(env, serviceConfigFromEnv(env)),
    log: logger,
    // Runs never overlap (a tick that finds the lease held exits) and a stopped pass resumes at its checkpoint.
    state: sweepState,
    recordRepair: (outcome) => {
      metrics.addMetric(SweepMetric.Repaired, MetricUnit.Count, 1);
      metrics.addMetric(
        outcome === 'started' ? SweepMetric.RepairStarted : SweepMetric.RepairEnded,
        MetricUnit.Count,
        1,
      );
    },
  });
}

/** EventBridge schedule target (every minute): one repair sweep over the active tasks older than the grace period. */
export async function handler(
  _event?: unknown,
  context?: Pick<Context, 'getRemainingTimeInMillis'> & Partial<Pick<Context, 'awsRequestId'>>,
) {
  repairSweep ??= await build();
  try {
    const remaining = context?.getRemainingTimeInMillis?.();
    const now = Date.now();
    const holder = context?.awsRequestId ?? `sweep-${now}-${process.pid}`;
    const report = await repairSweep.run(
      remaining === undefined
        ? { lease: { holder, periodMs: LOCAL_LEASE_MS } }
        : { deadline: now + remaining - STOP_MARGIN_MS, lease: { holder } },
    );
    if (report.leaseHeld) metrics.addMetric(SweepMetric.LeaseHeld, MetricUnit.Count, 1);
    if (report.errors > 0) metrics.addMetric(SweepMetric.RepairFailed, MetricUnit.Count, report.errors);
    logger.info('sweep', { ...report });
    return report;
  } finally {
    // An idle sweep has nothing to count (Powertools would warn about an empty publish every minute).
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  }
}
