import { DEFAULT_SWEEP_OPTIONS, type SweepOptions } from './repair-sweep';

/** A token bucket: `bucket` calls at once, then `refill` a second. */
export interface TokenBucket {
  readonly bucket: number;
  readonly refill: number;
}

export interface StepFunctionsQuotas {
  readonly listExecutions: TokenBucket;
  readonly describeExecution: TokenBucket;
}

/**
 * Step Functions' default API throttling per account and Region (Standard workflows), from the developer guide's
 * "Step Functions service quotas", API action throttling. Soft quotas: an account may have more.
 */
export const STEP_FUNCTIONS_QUOTAS = {
  /** US East (N. Virginia), US West (Oregon), Europe (Ireland). */
  large: { listExecutions: { bucket: 200, refill: 5 }, describeExecution: { bucket: 300, refill: 15 } },
  /** Every other Region. */
  other: { listExecutions: { bucket: 100, refill: 2 }, describeExecution: { bucket: 250, refill: 10 } },
} as const satisfies Record<string, StepFunctionsQuotas>;

/** What ListExecutions returns a page (its maxResults limit). */
export const LIST_PAGE = 1000;
/** Shards of the active-by-age index: each is one Query at least. */
const INDEX_SHARDS = 16;
/** DynamoDB's page limit. */
const PAGE_BYTES = 1_000_000;

export interface SweepLoad {
  /** Active tasks older than the grace period, each with a running execution except `missing`. */
  readonly dueTasks: number;
  /** Due tasks whose start or end was lost: described (and repaired). */
  readonly missing: number;
  readonly quotas: StepFunctionsQuotas;
  /** @default DEFAULT_SWEEP_OPTIONS */
  readonly options?: Omit<SweepOptions, 'graceSeconds'>;
  /** Latency of one Step Functions or DynamoDB call from Lambda. @default 0.1 */
  readonly callSeconds?: number;
  /** Size of an index item (the active item, projection ALL). @default 400 */
  readonly itemBytes?: number;
  /** How long a run may take: the function's timeout (600 s) less its 15 s stop margin. @default 585 */
  readonly runBudgetSeconds?: number;
  /** The schedule. @default 60 */
  readonly intervalSeconds?: number;
  /** The re-drive grace (a lost start is due this long after its creation). @default 10 */
  readonly graceSeconds?: number;
}

export interface SweepPlan {
  readonly listCalls: number;
  readonly listSeconds: number;
  readonly indexPages: number;
  readonly indexSeconds: number;
  /** DescribeExecution calls of one run. */
  readonly describeCalls: number;
  readonly describeSeconds: number;
  /** One run, its phases one after another (conservative: the index is read while tasks are described). */
  readonly runSeconds: number;
  /** The list is not resumable: a run that cannot list everything within its budget makes no progress. */
  readonly fitsOneRun: boolean;
  /** Runs a pass takes: each describes at most maxTasks. */
  readonly runsPerPass: number;
  /** Between the starts of two runs: a tick that finds the lease held exits, the first one after the end runs. */
  readonly cadenceSeconds: number;
  /**
   * Worst case from a task needing repair (its start or end lost) to its repair: the pass in progress has just read
   * it, so the next pass repairs it, by its last run's end; + the grace for a lost start.
   */
  readonly repairBoundSeconds: number;
}

/**
 * Seconds for `calls` calls made `concurrency` at a time, each `latency` long, from a token bucket that starts full
 * and is refilled continuously (the throttled call waits for its token: adaptive retries pace to it).
 */
export function bucketSeconds(calls: number, quota: TokenBucket, latency: number, concurrency = 1): number {
  const step = latency / concurrency;
  let tokens = quota.bucket;
  let t = 0;
  for (let i = 0; i < calls; i++) {
    if (tokens < 1) {
      const wait = (1 - tokens) / quota.refill;
      t += wait;
      tokens = 1;
    }
    tokens -= 1;
    t += step;
    tokens = Math.min(quota.bucket, tokens + step * quota.refill);
  }
  return t;
}

/** The calls and times of one run and of a pass at `load`: the model the sweep's bounds are stated from. */
export function sweepPlan(load: SweepLoad): SweepPlan {
  const options = load.options ?? DEFAULT_SWEEP_OPTIONS;
  const latency = load.callSeconds ?? 0.1;
  const budget = load.runBudgetSeconds ?? 585;
  const interval = load.intervalSeconds ?? 60;
  const grace = load.graceSeconds ?? 10;
  const lists = load.dueTasks > options.listThreshold;
  // The list names every running execution: the due tasks' ones (the younger tasks' too, ignored here).
  const running = load.dueTasks - load.missing;
  const listCalls = lists ? Math.max(1, Math.ceil(running / LIST_PAGE)) : 0;
  const listSeconds = bucketSeconds(listCalls, load.quotas.listExecutions, latency);
  const indexPages = INDEX_SHARDS + Math.ceil((load.dueTasks * (load.itemBytes ?? 400)) / PAGE_BYTES);
  const indexSeconds = indexPages * latency;
  const described = lists ? load.missing : load.dueTasks;
  const describeCalls = Math.min(described, options.maxTasks);
  const describeSeconds = bucketSeconds(describeCalls, load.quotas.describeExecution, latency, options.concurrency);
  const runSeconds = listSeconds + indexSeconds + describeSeconds;
  const runsPerPass = Math.max(1, Math.ceil(described / options.maxTasks));
  const cadenceSeconds = (Math.floor(runSeconds / interval) + 1) * interval;
  const passSeconds = (runsPerPass - 1) * cadenceSeconds + runSeconds;
  return {
    listCalls,
    listSeconds,
    indexPages,
    indexSeconds,
    describeCalls,
    describeSeconds,
    runSeconds,
    fitsOneRun: runSeconds <= budget,
    runsPerPass,
    cadenceSeconds,
    // The rest of the pass in progress (up to a whole pass and the wait for the next tick), then the next pass.
    repairBoundSeconds: runsPerPass * cadenceSeconds + passSeconds + grace,
  };
}
