/**
 * The capacity model: for a steady traffic (new tasks a second, the share of POSTs that are duplicates, tenants, the
 * analysis' duration), the utilisation of every limit the stack meets, the traffic at which each binds, and the
 * monthly cost. Pure: the stack's settings (stack-config.ts), the measured units (measured.ts) and the quotas
 * (quotas.ts) come in as arguments.
 *
 * Steady state (Little's law): active tasks = new tasks/s × the analysis' duration; traffic is spread evenly over the
 * tenants; the duplicates of a tenant all hit one video (the hot item: the worst case).
 */
import { PRICES } from '../../bench/cost';
import { type Measured, type PathRow, row } from './measured';
import { apiGatewayAccount, QUOTAS, type Quotas, sfnBucket, type TokenBucket } from './quotas';
import type { StackConfig } from './stack-config';

export interface Traffic {
  readonly newPerSecond: number;
  /** Share of POSTs that are duplicates of an active task, 0 ≤ d < 1. */
  readonly duplicateShare: number;
  readonly tenants: number;
  readonly analysisSeconds: number;
  readonly region: string;
}

export interface Limit {
  readonly name: string;
  /** The ceiling, in words (e.g. `50 requests/s`); some depend on the Region. */
  readonly ceiling: string | ((traffic: Traffic) => string);
  /** Where the ceiling comes from. */
  readonly source: string;
  /** Used / ceiling at `traffic`: ≥ 1 means it binds. */
  readonly utilisation: (traffic: Traffic) => number;
  /** What is used at `traffic`, in words. */
  readonly used: (traffic: Traffic) => string;
  readonly clientsSee: string;
  readonly raise: string;
}

export const ACTIVE_BY_AGE = 'active-by-age';
export const BY_TENANT = 'by-tenant';
/** The cost table's rows the model reads (bench/cost-units.ts writes them). */
export const Rows = {
  NewNoLimit: 'new task, no tenant limit',
  NewUnderLimit: 'new task under a tenant limit',
  Duplicate: 'duplicate of an active task',
  CancelNoLimit: 'cancel (`DELETE`), no tenant limit',
  CancelUnderLimit: 'cancel (`DELETE`) under a tenant limit',
  MarkRunning: 'workflow: `MarkRunning`',
  Finish: 'workflow: `MarkCompleted` (finish)',
} as const;

/** Assumptions that are neither quotas nor measured here (docs/ARCHITECTURE.md, "Repair sweep"). */
export const ASSUMED = {
  /** Latency of one Step Functions or DynamoDB call from Lambda. */
  callSeconds: 0.1,
  /** Size of one item in the sweep's index. */
  indexItemBytes: 400,
  /** Names a ListExecutions page returns. */
  listPageSize: 1_000,
  /** Bytes of index a Query page returns. */
  queryPageBytes: 1024 * 1024,
  /** Eventually consistent read units per index item read by the sweep (≈ 400 B / 4 KB × 0.5). */
  sweepReadUnitsPerTask: 0.05,
  secondsPerMonth: 30 * 24 * 3600,
  /** Lambda's own log lines per invocation (bench/cost.ts's estimate). */
  platformLogBytes: 600,
} as const;

type Units = Readonly<Record<string, number>>;
const minus = (a: Units, b: Units): Units =>
  Object.fromEntries([...new Set([...Object.keys(a), ...Object.keys(b)])].map((k) => [k, (a[k] ?? 0) - (b[k] ?? 0)]));
const plus = (...all: Units[]): Units => {
  const out: Record<string, number> = {};
  for (const u of all) for (const [k, v] of Object.entries(u)) out[k] = (out[k] ?? 0) + v;
  return out;
};
const total = (u: Units) => Object.values(u).reduce((s, n) => s + n, 0);

/** Write units per new task, per duplicate and on the hot keys, from the measured rows. */
export interface PathUnits {
  /** Every write of one new task to its end (claim, admission, MarkRunning, finish), per table and index. */
  readonly perTask: Units;
  readonly perDuplicate: Units;
  /** Read units the handler spends on one new task. */
  readonly readsPerTask: number;
  /** Units one task writes to its tenant's counter item (admission + end), and to the counters' index partition. */
  readonly counterItem: number;
  readonly counterIndex: number;
}

export function pathUnits(measured: Measured, limited: boolean): PathUnits {
  const r = (name: string): PathRow => row(measured.rows, name);
  // What a tenant limit adds to a claim and to an end is the counter's write (measured: the same path with and
  // without a limit).
  const admit = minus(r(Rows.NewUnderLimit).write, r(Rows.NewNoLimit).write);
  const end = minus(r(Rows.CancelUnderLimit).write, r(Rows.CancelNoLimit).write);
  const finish = limited ? r(Rows.Finish).write : minus(r(Rows.Finish).write, end);
  const claim = r(limited ? Rows.NewUnderLimit : Rows.NewNoLimit);
  return {
    perTask: plus(claim.write, r(Rows.MarkRunning).write, finish),
    perDuplicate: r(Rows.Duplicate).write,
    readsPerTask: claim.readUnits,
    counterItem: limited ? (admit.table ?? 0) + (end.table ?? 0) : 0,
    counterIndex: limited ? (admit[ACTIVE_BY_AGE] ?? 0) + (end[ACTIVE_BY_AGE] ?? 0) : 0,
  };
}

export const postsPerSecond = (t: Traffic) => t.newPerSecond / (1 - t.duplicateShare);
export const duplicatesPerSecond = (t: Traffic) => postsPerSecond(t) - t.newPerSecond;
export const activeTasks = (t: Traffic) => t.newPerSecond * t.analysisSeconds;

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits });

/** How long one sweep run takes with `active` tasks (docs/ARCHITECTURE.md, "Repair sweep"). */
export function sweepRunSeconds(active: number, due: number, config: StackConfig, region: string, q: Quotas = QUOTAS) {
  const query = Math.ceil((active * ASSUMED.indexItemBytes) / ASSUMED.queryPageBytes) * ASSUMED.callSeconds;
  if (due <= config.sweep.listThreshold) {
    // Each due task described, 8 at a time.
    return query + Math.ceil(due / 8) * ASSUMED.callSeconds;
  }
  const list = sfnBucket(q.listExecutions, region);
  const pages = Math.ceil(active / ASSUMED.listPageSize);
  return query + pages * ASSUMED.callSeconds + Math.max(0, pages - list.bucket) / list.refill;
}

/** Every limit of the stack as configured. */
export function limits(config: StackConfig, measured: Measured, q: Quotas = QUOTAS): Limit[] {
  const limited = config.tenantActiveTaskLimit > 0;
  const units = pathUnits(measured, limited);
  const bench = measured.bench;
  const p = postsPerSecond;
  const handlerConcurrency = (t: Traffic) =>
    (t.newPerSecond * bench.newMs + duplicatesPerSecond(t) * bench.duplicateMs) / 1000;
  const analyseReserved = config.analyseReservedConcurrency;
  const sweeperConcurrency = config.sweeperReservedConcurrency ?? 1;
  const perTenant = (t: Traffic) => t.newPerSecond / t.tenants;
  const taskIndexUnits = (units.perTask[ACTIVE_BY_AGE] ?? 0) - units.counterIndex;
  const dynamoThrottled =
    '503 with Retry-After (DynamoDB throttled past the SDK retries); the workflow retries its own writes: tasks end late';
  const design = 'a design change (spread the key), not a quota';
  const out: Limit[] = [
    {
      name: 'API stage throttle (all tenants share it)',
      ceiling: `${fmt(config.throttleRateLimit)} requests/s, burst ${fmt(config.throttleBurstLimit)}`,
      source: 'lib/track-api.ts default, or -c throttleRateLimit / throttleBurstLimit',
      utilisation: (t) => p(t) / config.throttleRateLimit,
      used: (t) => `${fmt(p(t), 1)} POSTs/s`,
      clientsSee: '429 Too Many Requests from API Gateway (no Retry-After; the client package backs off and retries)',
      raise: '-c throttleRateLimit=… -c throttleBurstLimit=… (up to the account throttle)',
    },
    {
      name: 'API Gateway account throttle (all APIs of the account)',
      ceiling: `${fmt(q.apiGatewayAccount.large.refill)} requests/s (${fmt(q.apiGatewayAccount.small.refill)} in some Regions)`,
      source: 'quotas.ts apiGatewayAccount',
      utilisation: (t) => p(t) / apiGatewayAccount(t.region).refill,
      used: (t) => `${fmt(p(t), 1)} requests/s`,
      clientsSee: '429 Too Many Requests from API Gateway',
      raise: 'a quota request (Service Quotas L-8A5B8E43)',
    },
    {
      name: 'Lambda concurrency (account, shared by every function)',
      ceiling: `${fmt(q.lambdaConcurrentExecutions)} concurrent executions`,
      source: 'quotas.ts lambdaConcurrentExecutions; the handler duration from docs/BENCHMARKS.md',
      utilisation: (t) =>
        (handlerConcurrency(t) + (analyseReserved ?? activeTasks(t)) + sweeperConcurrency) /
        q.lambdaConcurrentExecutions,
      used: (t) =>
        `API ${fmt(handlerConcurrency(t), 1)} + Analyse ${fmt(analyseReserved ?? activeTasks(t), 1)}${analyseReserved ? ' (reserved)' : ''} + sweep ${sweeperConcurrency}`,
      clientsSee:
        'the handler is throttled: 5xx from API Gateway (no Retry-After; retried by the client package); analyses wait (tasks stay `running`) and end `failed` past the workflow timeout',
      raise:
        'a quota request (Concurrent executions); -c analyseReservedConcurrency=N keeps the analysis from starving the API',
    },
    {
      name: 'Step Functions StartExecution (Standard, account)',
      ceiling: (t) => bucketText(sfnBucket(q.startExecution, t.region), 'starts'),
      source: 'quotas.ts startExecution',
      utilisation: (t) => t.newPerSecond / sfnBucket(q.startExecution, t.region).refill,
      used: (t) => `${fmt(t.newPerSecond, 1)} starts/s of ${fmt(sfnBucket(q.startExecution, t.region).refill)}/s`,
      clientsSee:
        '503 with Retry-After from the function for the new task (claimed; the retry, the next POST or the sweep starts it)',
      raise: 'a quota request (StartExecution throttle)',
    },
    {
      name: 'Step Functions state transitions (Standard, account)',
      ceiling: (t) => bucketText(sfnBucket(q.stateTransitions, t.region), 'transitions'),
      source: `quotas.ts stateTransitions; ${bench.statesPerTask} per task (docs/BENCHMARKS.md)`,
      utilisation: (t) => (t.newPerSecond * bench.statesPerTask) / sfnBucket(q.stateTransitions, t.region).refill,
      used: (t) =>
        `${fmt(t.newPerSecond * bench.statesPerTask, 1)}/s of ${fmt(sfnBucket(q.stateTransitions, t.region).refill)}/s`,
      clientsSee: 'no error: executions are throttled (ExecutionThrottled), tasks stay `not_started`/`running` longer',
      raise: 'a quota request (StateTransition throttle)',
    },
    {
      name: 'Step Functions open executions (account)',
      ceiling: `${fmt(q.openExecutions)} running executions`,
      source: 'quotas.ts openExecutions',
      utilisation: (t) => activeTasks(t) / q.openExecutions,
      used: (t) => `${fmt(activeTasks(t))} running (new/s × analysis s)`,
      clientsSee: '503 with Retry-After from the function (ExecutionLimitExceeded at StartExecution)',
      raise: 'a quota request (open executions)',
    },
    {
      name: "DynamoDB: a tenant's active video item (its duplicates)",
      ceiling: `${fmt(q.partitionWriteUnits)} WRU/s per item`,
      source: 'quotas.ts partitionWriteUnits; the duplicate row of the cost table',
      utilisation: (t) => ((duplicatesPerSecond(t) / t.tenants) * total(units.perDuplicate)) / q.partitionWriteUnits,
      used: (t) => `${fmt((duplicatesPerSecond(t) / t.tenants) * total(units.perDuplicate), 1)} WRU/s`,
      clientsSee: `${dynamoThrottled} (that video's duplicates)`,
      raise: design,
    },
    {
      name: `DynamoDB: \`${BY_TENANT}\` partition of one tenant`,
      ceiling: `${fmt(q.partitionWriteUnits)} WRU/s per partition`,
      source: `quotas.ts partitionWriteUnits; ${fmt(units.perTask[BY_TENANT] ?? 0)} WRU per task (cost table)`,
      utilisation: (t) => (perTenant(t) * (units.perTask[BY_TENANT] ?? 0)) / q.partitionWriteUnits,
      used: (t) => `${fmt(perTenant(t) * (units.perTask[BY_TENANT] ?? 0), 1)} WRU/s`,
      clientsSee: `${dynamoThrottled} (a throttled index throttles the table's writes)`,
      raise: design,
    },
    {
      name: `DynamoDB: \`${ACTIVE_BY_AGE}\` task shards`,
      ceiling: `${fmt(q.partitionWriteUnits)} WRU/s per shard × ${config.taskShards} (SWEEP_SHARDS)`,
      source: `lambda/shared/table.ts; ${fmt(taskIndexUnits)} WRU per task (cost table)`,
      utilisation: (t) => (t.newPerSecond * taskIndexUnits) / config.taskShards / q.partitionWriteUnits,
      used: (t) => `${fmt((t.newPerSecond * taskIndexUnits) / config.taskShards, 1)} WRU/s a shard`,
      clientsSee: dynamoThrottled,
      raise: 'more shards (SWEEP_SHARDS in lambda/shared/table.ts)',
    },
    {
      name: 'DynamoDB on-demand table throughput (table, each index)',
      ceiling: `${fmt(q.onDemandTableWriteUnits)} WRU/s`,
      source: 'quotas.ts onDemandTableWriteUnits; every write of the cost table',
      utilisation: (t) => {
        const columns = new Set([...Object.keys(units.perTask), ...Object.keys(units.perDuplicate)]);
        const rates = [...columns].map(
          (c) => t.newPerSecond * (units.perTask[c] ?? 0) + duplicatesPerSecond(t) * (units.perDuplicate[c] ?? 0),
        );
        return Math.max(0, ...rates) / q.onDemandTableWriteUnits;
      },
      used: (t) =>
        `${fmt(t.newPerSecond * (units.perTask.table ?? 0) + duplicatesPerSecond(t) * (units.perDuplicate.table ?? 0), 1)} WRU/s on the table`,
      clientsSee: `${dynamoThrottled}; past twice the previous peak within 30 minutes on-demand throttles too`,
      raise: 'a quota request (table-level write throughput)',
    },
    {
      name: 'repair sweep run (ListExecutions + index query)',
      ceiling: `${fmt(config.sweep.runBudgetSeconds)} s a run (the sweeper's timeout less 15 s)`,
      source: 'lib/task-sweeper.ts; quotas.ts listExecutions; docs/ARCHITECTURE.md "Repair sweep"',
      utilisation: (t) =>
        sweepRunSeconds(activeTasks(t), dueTasks(t, config), config, t.region, q) / config.sweep.runBudgetSeconds,
      used: (t) => `${fmt(sweepRunSeconds(activeTasks(t), dueTasks(t, config), config, t.region, q), 1)} s a run`,
      clientsSee:
        'no error: runs stop early and start over, so a lost start or end (a blocked video) waits longer than a minute or two',
      raise: 'a quota request (ListExecutions) shortens the list; past it, a design change (docs/ARCHITECTURE.md)',
    },
  ];
  if (limited) {
    out.push(
      {
        name: "tenant limit (a tenant's active tasks)",
        ceiling: `${fmt(config.tenantActiveTaskLimit)} active tasks per tenant`,
        source: 'DEFAULT_TENANT_ACTIVE_TASK_LIMIT, or -c tenantActiveTaskLimit',
        utilisation: (t) => (perTenant(t) * t.analysisSeconds) / config.tenantActiveTaskLimit,
        used: (t) => `${fmt(perTenant(t) * t.analysisSeconds, 1)} active a tenant`,
        clientsSee:
          "429 /problems/tenant-quota-exceeded for that tenant's new tasks (not retried; duplicates still 200)",
        raise: '-c tenantActiveTaskLimit=… (0: none), sized to the Lambda concurrency',
      },
      {
        name: "DynamoDB: a tenant's counter item",
        ceiling: `${fmt(q.partitionWriteUnits)} WRU/s per item`,
        source: `quotas.ts partitionWriteUnits; ${fmt(units.counterItem)} WRU per task (cost table: with limit − without)`,
        utilisation: (t) => (perTenant(t) * units.counterItem) / q.partitionWriteUnits,
        used: (t) => `${fmt(perTenant(t) * units.counterItem, 1)} WRU/s`,
        clientsSee: `${dynamoThrottled} (that tenant's new tasks)`,
        raise: design,
      },
      {
        name: `DynamoDB: \`${ACTIVE_BY_AGE}\` counter shard(s)`,
        ceiling: `${fmt(q.partitionWriteUnits)} WRU/s per shard × ${config.counterShards} (COUNTER_SHARD(S))`,
        source: `lambda/shared/table.ts; ${fmt(units.counterIndex)} WRU per task (cost table: with limit − without)`,
        utilisation: (t) => counterShardUnits(t, units.counterIndex, config.counterShards) / q.partitionWriteUnits,
        used: (t) => `${fmt(counterShardUnits(t, units.counterIndex, config.counterShards), 1)} WRU/s on the hottest`,
        clientsSee: `${dynamoThrottled} (every tenant's new tasks)`,
        raise: 'spread the counters over more shards (lambda/shared/table.ts)',
      },
    );
  }
  if (analyseReserved !== undefined) {
    out.push({
      name: 'Analyse reserved concurrency',
      ceiling: `${fmt(analyseReserved)} concurrent analyses`,
      source: '-c analyseReservedConcurrency',
      utilisation: (t) => activeTasks(t) / analyseReserved,
      used: (t) => `${fmt(activeTasks(t), 1)} analyses at once`,
      clientsSee: 'no error at first: analyses wait (tasks stay `running`) and end `failed` past the workflow timeout',
      raise: '-c analyseReservedConcurrency=… (within the account concurrency)',
    });
  }
  return out;
}

const bucketText = (b: TokenBucket, what: string) => `${fmt(b.refill)} ${what}/s, bucket ${fmt(b.bucket)}`;

/** The ceiling of `limit` at `traffic`, in words. */
export const ceilingOf = (limit: Limit, traffic: Traffic) =>
  typeof limit.ceiling === 'string' ? limit.ceiling : limit.ceiling(traffic);

/** Tasks older than the re-drive grace: those a sweep run checks. */
function dueTasks(t: Traffic, config: StackConfig): number {
  return t.newPerSecond * Math.max(0, t.analysisSeconds - config.redriveGraceSeconds);
}

/** Write units a second on the hottest counter shard: tenants spread evenly over the shards. */
function counterShardUnits(t: Traffic, perTask: number, shards: number): number {
  const tenantsOnHottest = Math.ceil(t.tenants / Math.min(shards, t.tenants));
  return (t.newPerSecond / t.tenants) * tenantsOnHottest * perTask;
}

/** The new tasks a second at which `limit` reaches 1 (the other inputs fixed); Infinity when it never does. */
export function bindingPoint(limit: Limit, traffic: Traffic, ceiling = 1e9): number {
  const at = (n: number) => limit.utilisation({ ...traffic, newPerSecond: n });
  if (at(0) >= 1) return 0;
  if (at(ceiling) < 1) return Infinity;
  let lo = 0;
  let hi = ceiling;
  for (let i = 0; i < 200 && hi - lo > 1e-6 * Math.max(1, hi); i++) {
    const mid = (lo + hi) / 2;
    if (at(mid) >= 1) hi = mid;
    else lo = mid;
  }
  return hi;
}

export interface Assessment {
  readonly limit: Limit;
  readonly utilisation: number;
  readonly bindsAt: number;
}

/** Every limit at `traffic`, the first to bind first. */
export function assess(config: StackConfig, measured: Measured, traffic: Traffic, q: Quotas = QUOTAS): Assessment[] {
  return limits(config, measured, q)
    .map((limit) => ({ limit, utilisation: limit.utilisation(traffic), bindsAt: bindingPoint(limit, traffic) }))
    .sort((a, b) => a.bindsAt - b.bindsAt);
}

export interface CostLine {
  readonly item: string;
  readonly perMonth: number;
}

/** The monthly cost at `traffic`, at bench/cost.ts's prices. The analysis' own work is priced as Lambda time. */
export function monthlyCost(config: StackConfig, measured: Measured, traffic: Traffic): CostLine[] {
  const units = pathUnits(measured, config.tenantActiveTaskLimit > 0);
  const bench = measured.bench;
  const month = ASSUMED.secondsPerMonth;
  const news = traffic.newPerSecond * month;
  const dups = duplicatesPerSecond(traffic) * month;
  const posts = news + dups;
  const gb = config.apiMemoryMb / 1024;
  const pr = PRICES;
  const logBytes = (b: number) => ((b + ASSUMED.platformLogBytes) / 1024 ** 3) * pr.logsPerGbIngested;
  const sweepRuns = month / config.sweep.scheduleSeconds;
  const lines: CostLine[] = [
    {
      item: `API Gateway HTTP API (${fmt(posts / 1e6, 1)}M requests)`,
      perMonth: (posts / 1e6) * pr.httpApiPerMillionRequests,
    },
    {
      item: `Lambda, API handler (requests and ${config.apiMemoryMb} MB × ${bench.newMs} / ${bench.duplicateMs} ms)`,
      perMonth:
        (posts / 1e6) * pr.lambdaPerMillionRequests +
        gb * ((news * Math.ceil(bench.newMs) + dups * Math.ceil(bench.duplicateMs)) / 1000) * pr.lambdaArmPerGbSecond,
    },
    {
      item: `DynamoDB writes (${fmt(total(units.perTask))} WRU a task, ${fmt(total(units.perDuplicate))} a duplicate)`,
      perMonth:
        ((news * total(units.perTask) + dups * total(units.perDuplicate)) / 1e6) * pr.dynamoDbPerMillionWriteUnits,
    },
    {
      item: `DynamoDB reads (${fmt(units.readsPerTask, 1)} RRU a task; the sweep ${ASSUMED.sweepReadUnitsPerTask} RRU an active task a run)`,
      perMonth:
        ((news * units.readsPerTask + sweepRuns * activeTasks(traffic) * ASSUMED.sweepReadUnitsPerTask) / 1e6) *
        pr.dynamoDbPerMillionReadUnits,
    },
    {
      item: `Step Functions Standard (${bench.statesPerTask} transitions a task)`,
      perMonth: news * bench.statesPerTask * pr.stepFunctionsPerTransition,
    },
    {
      item: `Lambda, Analyse (${fmt(traffic.analysisSeconds, 1)} s at ${config.apiMemoryMb} MB a task)`,
      perMonth:
        (news / 1e6) * pr.lambdaPerMillionRequests + news * gb * traffic.analysisSeconds * pr.lambdaArmPerGbSecond,
    },
    {
      item: 'CloudWatch Logs ingestion and X-Ray (upper bound: every request traced)',
      perMonth:
        news * logBytes(bench.newLogBytes) +
        dups * logBytes(bench.duplicateLogBytes) +
        (posts / 1e6) * pr.xrayPerMillionTracesRecorded,
    },
  ];
  if (bench.idlePerMonth !== undefined) {
    lines.push({ item: 'at idle: alarms, dashboard, the sweep (docs/BENCHMARKS.md)', perMonth: bench.idlePerMonth });
  }
  return lines;
}

export const totalCost = (lines: readonly CostLine[]) => lines.reduce((s, l) => s + l.perMonth, 0);
