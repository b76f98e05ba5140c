/**
 * Cost per 1M POSTs and at idle, from the measured profile of a request and of a task (bench/run.ts), the read and
 * write units measured per path (bench/cost-units.ts) and the list prices below. Update PRICES (and `recorded`) when AWS changes them; every figure is derived from them.
 */
import { FUNCTION_DEFAULTS } from '../lib/private/tracking-function';
import type { CfnTemplate } from '../local/template';
import { ServiceEvent } from '../lambda/core/ports';
import { COUNTER_SHARDS, SWEEP_SHARDS } from '../lambda/shared/table';
import { type PathUnits, totalUnits, type Units } from './cost-units';

/**
 * Public on-demand list prices, us-east-1, beyond any free tier. Written down from the AWS pricing pages of each
 * service as known on the `recorded` date (this machine has no network to re-check them): verify before relying.
 */
export const PRICES = {
  region: 'us-east-1',
  recorded: '2026-11-29',
  /** aws.amazon.com/api-gateway/pricing: HTTP API, first 300M requests/month. */
  httpApiPerMillionRequests: 1.0,
  /** aws.amazon.com/lambda/pricing: requests, and arm64 duration per GB-second (first 6B GB-s/month). */
  lambdaPerMillionRequests: 0.2,
  lambdaArmPerGbSecond: 0.0000133334,
  /** aws.amazon.com/dynamodb/pricing/on-demand: since the November 2024 price cut. */
  dynamoDbPerMillionWriteUnits: 0.625,
  dynamoDbPerMillionReadUnits: 0.125,
  /** aws.amazon.com/step-functions/pricing: Standard workflows, per state transition. */
  stepFunctionsPerTransition: 0.000025,
  /** aws.amazon.com/cloudwatch/pricing: Logs ingestion (standard class), custom metrics, standard-resolution alarms, dashboards. */
  logsPerGbIngested: 0.5,
  customMetricPerMonth: 0.3,
  alarmMetricPerMonth: 0.1,
  dashboardPerMonth: 3.0,
  /** aws.amazon.com/secrets-manager/pricing: per secret per month. */
  secretPerMonth: 0.4,
  /** aws.amazon.com/xray/pricing: traces recorded. */
  xrayPerMillionTracesRecorded: 5.0,
} as const;

/** Lambda's own START/END/REPORT lines per invocation in JSON log format: an estimate, not measured here. */
const PLATFORM_LOG_BYTES = 600;
/** The repair sweep's idle run (lib/task-sweeper.ts, every minute): an estimate, the bench does not run it. */
// One eventually consistent Query per shard of the sweep's index and one of the tenant counters' partition; an
// empty one still consumes 0.5 RRU.
const SWEEP = { runsPerMonth: 60 * 24 * 30, ms: 100, readUnits: (SWEEP_SHARDS + COUNTER_SHARDS) * 0.5, logBytes: 300 };
/** The Lambda invocations of each state of the workflow (lib/analysis-workflow.ts); its DynamoDB units are measured. */
const STATE_INVOKES: Record<string, number> = { Analyse: 1 };

/**
 * Read and write units measured on DynamoDB Local (bench/cost-units.ts): the new task (under the default tenant
 * limit), the duplicate, and the workflow's DynamoDB states on its success path.
 */
export interface MeasuredUnits {
  readonly newTask: PathUnits;
  readonly duplicate: PathUnits;
  readonly workflow: readonly PathUnits[];
}

export interface RequestProfile {
  /** Mean in-handler duration (DynamoDB Local: an upper bound for AWS). */
  readonly handlerMs: number;
  /** Bytes the handler's logger and metrics (EMF) wrote for one request. */
  readonly logBytes: number;
}

export interface TaskProfile {
  /** States the workflow entered for one task on the success path. */
  readonly states: string[];
}

interface Line {
  readonly item: string;
  readonly perNew: number;
  readonly perDuplicate: number;
}

const tableUnits = (u: Units) => u.table ?? 0;
const indexUnits = (u: Units) => totalUnits(u) - tableUnits(u);
const sumOf = (rows: readonly PathUnits[], f: (r: PathUnits) => number) => rows.reduce((s, r) => s + f(r), 0);

function lines(newTask: RequestProfile, duplicate: RequestProfile, task: TaskProfile, units: MeasuredUnits): Line[] {
  const p = PRICES;
  const wru = p.dynamoDbPerMillionWriteUnits / 1e6;
  const rru = p.dynamoDbPerMillionReadUnits / 1e6;
  const handlerWrite = { perNew: tableUnits(units.newTask.write), perDuplicate: tableUnits(units.duplicate.write) };
  const handlerRead = { perNew: totalUnits(units.newTask.read), perDuplicate: totalUnits(units.duplicate.read) };
  const workflowWrite = sumOf(units.workflow, (r) => tableUnits(r.write));
  const indexWrite = {
    perNew: indexUnits(units.newTask.write) + sumOf(units.workflow, (r) => indexUnits(r.write)),
    perDuplicate: indexUnits(units.duplicate.write),
  };
  const gb = FUNCTION_DEFAULTS.memorySize / 1024;
  // Lambda bills duration rounded up to the millisecond.
  const duration = (r: RequestProfile) => gb * (Math.ceil(r.handlerMs) / 1000) * p.lambdaArmPerGbSecond;
  const invokes = task.states.reduce((sum, s) => sum + (STATE_INVOKES[s] ?? 0), 0);
  const logs = (r: RequestProfile) => ((r.logBytes + PLATFORM_LOG_BYTES) / 1024 ** 3) * p.logsPerGbIngested;
  return [
    {
      item: 'API Gateway HTTP API request',
      perNew: p.httpApiPerMillionRequests / 1e6,
      perDuplicate: p.httpApiPerMillionRequests / 1e6,
    },
    {
      item: 'Lambda request (API handler)',
      perNew: p.lambdaPerMillionRequests / 1e6,
      perDuplicate: p.lambdaPerMillionRequests / 1e6,
    },
    {
      item: `Lambda arm64 duration (${FUNCTION_DEFAULTS.memorySize} MB; new ${Math.ceil(newTask.handlerMs)} ms, duplicate ${Math.ceil(duplicate.handlerMs)} ms)`,
      perNew: duration(newTask),
      perDuplicate: duration(duplicate),
    },
    {
      item: `DynamoDB writes by the handler, table (new ${handlerWrite.perNew} WRU, duplicate ${handlerWrite.perDuplicate} WRU)`,
      perNew: handlerWrite.perNew * wru,
      perDuplicate: handlerWrite.perDuplicate * wru,
    },
    {
      item: `DynamoDB reads by the handler (new ${handlerRead.perNew} RRU, duplicate ${handlerRead.perDuplicate} RRU)`,
      perNew: handlerRead.perNew * rru,
      perDuplicate: handlerRead.perDuplicate * rru,
    },
    {
      item: `DynamoDB writes by the workflow, table (${workflowWrite} WRU per task)`,
      perNew: workflowWrite * wru,
      perDuplicate: 0,
    },
    {
      item: `DynamoDB index writes, both indexes (${indexWrite.perNew} WRU per task, duplicate ${indexWrite.perDuplicate})`,
      perNew: indexWrite.perNew * wru,
      perDuplicate: indexWrite.perDuplicate * wru,
    },
    {
      item: `Step Functions Standard transitions (${task.states.length} per task)`,
      perNew: task.states.length * p.stepFunctionsPerTransition,
      perDuplicate: 0,
    },
    {
      item: "Lambda request (Analyse; the analysis' own duration is not included)",
      perNew: (invokes * p.lambdaPerMillionRequests) / 1e6,
      perDuplicate: 0,
    },
    {
      item: `CloudWatch Logs ingestion (new ${newTask.logBytes} B, duplicate ${duplicate.logBytes} B measured + ~${PLATFORM_LOG_BYTES} B Lambda platform lines)`,
      perNew: logs(newTask),
      perDuplicate: logs(duplicate),
    },
    {
      item: 'X-Ray traces (upper bound: every request sampled; the default rule samples 1/s + 5 %)',
      perNew: p.xrayPerMillionTracesRecorded / 1e6,
      perDuplicate: p.xrayPerMillionTracesRecorded / 1e6,
    },
  ];
}

const DUPLICATE_SHARES = [0, 0.5, 0.9, 0.99];
const usd = (x: number) => `$${x.toFixed(2)}`;

/** Markdown: one row per cost item, one column per duplicate share, per 1M POSTs. */
export function costTable(
  newTask: RequestProfile,
  duplicate: RequestProfile,
  task: TaskProfile,
  units: MeasuredUnits,
): string {
  const all = lines(newTask, duplicate, task, units);
  const cost = (l: Line, d: number) => 1e6 * ((1 - d) * l.perNew + d * l.perDuplicate);
  const out = [
    `| per 1M POSTs | ${DUPLICATE_SHARES.map((d) => `${d * 100} % duplicates`).join(' | ')} |`,
    `|---|${DUPLICATE_SHARES.map(() => '---:').join('|')}|`,
    ...all.map((l) => `| ${l.item} | ${DUPLICATE_SHARES.map((d) => usd(cost(l, d))).join(' | ')} |`),
    `| **total** | ${DUPLICATE_SHARES.map((d) => `**${usd(all.reduce((s, l) => s + cost(l, d), 0))}**`).join(' | ')} |`,
    `| state transitions billed | ${DUPLICATE_SHARES.map((d) => Math.round((1 - d) * 1e6 * task.states.length).toLocaleString('en-US')).join(' | ')} |`,
  ];
  return out.join('\n');
}

/** Markdown: the fixed monthly cost, read from the synthesized template (alarms and their metrics, dashboards). */
export function idleCost(template: CfnTemplate): string {
  const alarms = Object.values(template.Resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm');
  // An alarm on a metric-math expression is billed per metric it reads.
  const alarmMetrics = alarms.reduce(
    (n, a) =>
      n +
      (a.Properties?.MetricName
        ? 1
        : (a.Properties?.Metrics as { MetricStat?: unknown }[]).filter((m) => m.MetricStat).length),
    0,
  );
  const dashboards = Object.values(template.Resources).filter((r) => r.Type === 'AWS::CloudWatch::Dashboard').length;
  const secrets = Object.values(template.Resources).filter((r) => r.Type === 'AWS::SecretsManager::Secret').length;
  const customMetrics = 6 + Object.keys(ServiceEvent).length;
  const p = PRICES;
  const sweeper = Object.values(template.Resources).find(
    (r) => r.Type === 'AWS::Lambda::Function' && String(r.Properties?.Description).startsWith('Repairs active tasks'),
  );
  const sweeperGb = Number(sweeper?.Properties?.MemorySize ?? FUNCTION_DEFAULTS.memorySize) / 1024;
  const sweep =
    SWEEP.runsPerMonth *
    (p.lambdaPerMillionRequests / 1e6 +
      sweeperGb * (SWEEP.ms / 1000) * p.lambdaArmPerGbSecond +
      (SWEEP.readUnits * p.dynamoDbPerMillionReadUnits) / 1e6 +
      ((SWEEP.logBytes + PLATFORM_LOG_BYTES) / 1024 ** 3) * p.logsPerGbIngested);
  return [
    '| item | count | per month |',
    '|---|---:|---:|',
    `| CloudWatch alarms (standard resolution, per metric read) | ${alarms.length} alarms, ${alarmMetrics} metrics | ${usd(alarmMetrics * p.alarmMetricPerMonth)} |`,
    `| CloudWatch dashboard (free for the account's first 3) | ${dashboards} | ${usd(dashboards * p.dashboardPerMonth)} |`,
    `| repair sweep: scheduled every minute, even at idle (estimate: ${SWEEP.ms} ms, ${SWEEP.readUnits} RRU, ${SWEEP.logBytes} B of logs per run) | ${SWEEP.runsPerMonth.toLocaleString('en-US')} runs | ${usd(sweep)} |`,
    `| Secrets Manager: the task-id keyring (read once per cold start: a few calls a day at idle, $0.05 per 10,000) | ${secrets} | ${usd(secrets * p.secretPerMonth)} |`,
    '| API Gateway, Step Functions, SQS, SNS, the other functions and DynamoDB requests | 0 requests | $0.00 |',
    '| DynamoDB storage and PITR, log storage | about 0 GB at idle | ~$0.00 |',
    `| **at idle** | | **${usd(alarmMetrics * p.alarmMetricPerMonth + dashboards * p.dashboardPerMonth + secrets * p.secretPerMonth + sweep)}** |`,
    `| custom metrics once traffic flows (billed per hour a metric is published; the API's and the finalizer's; the sweep's 4 only in hours it repairs) | ${customMetrics} | up to ${usd(customMetrics * p.customMetricPerMonth)} |`,
  ].join('\n');
}
