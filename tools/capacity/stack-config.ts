/**
 * The settings of the stack as configured, read from the code that sets them (never copied here): the stage throttle
 * and the sweep's defaults from lib/ sources, the tenant limit and timings from their modules, the table's shards
 * from lambda/shared/table.ts, overridden by cdk.json's context and by `-c name=value` as `cdk deploy` would be.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_TENANT_ACTIVE_TASK_LIMIT } from '../../lambda/shared/deployment-names';
import * as table from '../../lambda/shared/table';
import { DEFAULT_TASK_RULES } from '../../lib/task-rules';
import { FUNCTION_DEFAULTS } from '../../lib/private/tracking-function';

export const ROOT = path.resolve(__dirname, '../..');

export interface StackConfig {
  readonly throttleRateLimit: number;
  readonly throttleBurstLimit: number;
  /** 0: no limit, no counter. */
  readonly tenantActiveTaskLimit: number;
  readonly analyseReservedConcurrency?: number;
  readonly sweeperReservedConcurrency?: number;
  readonly workflowTimeoutSeconds: number;
  readonly redriveGraceSeconds: number;
  readonly apiMemoryMb: number;
  readonly sweep: {
    readonly scheduleSeconds: number;
    readonly maxTasksPerRun: number;
    readonly listThreshold: number;
    /** The run's budget: the function's timeout less the 15 s it stops itself before. */
    readonly runBudgetSeconds: number;
  };
  /** Partitions of `active-by-age` the task items spread over. */
  readonly taskShards: number;
  /** Partitions of `active-by-age` the tenant counters spread over. */
  readonly counterShards: number;
}

/** A `?? <number>` default of `name` in a source file; throws naming the file when the pattern is gone. */
export function defaultIn(source: string, file: string, name: string): number {
  const match = new RegExp(`${name.replace(/\./g, '\\.')}\\s*\\?\\?\\s*([0-9_]+)`).exec(source);
  if (!match?.[1])
    throw new Error(`capacity: cannot find the default of ${name} in ${file}; update tools/capacity/stack-config.ts.`);
  return Number(match[1].replace(/_/g, ''));
}

/** The sweeper function's timeout in seconds, from `timeout: Duration.minutes(N)` in lib/task-sweeper.ts. */
export function sweeperTimeoutIn(source: string): number {
  const match = /timeout:\s*Duration\.(minutes|seconds)\((\d+)\)/.exec(source);
  if (!match?.[1] || !match[2]) throw new Error('capacity: cannot find the sweeper timeout in lib/task-sweeper.ts.');
  return Number(match[2]) * (match[1] === 'minutes' ? 60 : 1);
}

/** The sweep's schedule default, `props.schedule ?? Duration.minutes(N)`. */
function scheduleIn(source: string): number {
  const match = /props\.schedule\s*\?\?\s*Duration\.(minutes|hours)\((\d+)\)/.exec(source);
  if (!match?.[1] || !match[2]) throw new Error('capacity: cannot find the sweep schedule in lib/task-sweeper.ts.');
  return Number(match[2]) * (match[1] === 'minutes' ? 60 : 3600);
}

/**
 * The counters' shard count from lambda/shared/table.ts as it is now: `COUNTER_SHARDS` (a count) when the code
 * spreads them, else the one `COUNTER_SHARD`.
 */
export function counterShardsOf(module: Record<string, unknown>): number {
  const many = module.COUNTER_SHARDS;
  if (typeof many === 'number' && many >= 1) return many;
  if (Array.isArray(many) && many.length >= 1) return many.length;
  if (typeof module.COUNTER_SHARD === 'number') return 1;
  throw new Error('capacity: lambda/shared/table.ts exports neither COUNTER_SHARDS nor COUNTER_SHARD.');
}

/** A context value: `-c` first, then cdk.json. */
function numberFrom(name: string, contexts: Record<string, unknown>): number | undefined {
  const raw = contexts[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0)
    throw new Error(`Context "${name}" must be a number >= 0, got ${JSON.stringify(raw)}.`);
  return value;
}

export function readStackConfig(overrides: Record<string, string> = {}, root = ROOT): StackConfig {
  const read = (file: string) => readFileSync(path.join(root, file), 'utf8');
  const cdkJson = JSON.parse(read('cdk.json')) as { context?: Record<string, unknown> };
  const contexts = { ...cdkJson.context, ...overrides };
  const api = read('lib/track-api.ts');
  const sweeper = read('lib/task-sweeper.ts');
  const timeout = sweeperTimeoutIn(sweeper);
  return {
    throttleRateLimit:
      numberFrom('throttleRateLimit', contexts) ?? defaultIn(api, 'lib/track-api.ts', 'props.throttleRateLimit'),
    throttleBurstLimit:
      numberFrom('throttleBurstLimit', contexts) ?? defaultIn(api, 'lib/track-api.ts', 'props.throttleBurstLimit'),
    tenantActiveTaskLimit: numberFrom('tenantActiveTaskLimit', contexts) ?? DEFAULT_TENANT_ACTIVE_TASK_LIMIT,
    analyseReservedConcurrency: numberFrom('analyseReservedConcurrency', contexts),
    sweeperReservedConcurrency: numberFrom('sweeperReservedConcurrency', contexts),
    workflowTimeoutSeconds:
      (numberFrom('workflowTimeoutMinutes', contexts) ?? DEFAULT_TASK_RULES.workflowTimeout.toSeconds() / 60) * 60,
    redriveGraceSeconds: numberFrom('redriveGraceSeconds', contexts) ?? DEFAULT_TASK_RULES.redriveGrace.toSeconds(),
    apiMemoryMb: FUNCTION_DEFAULTS.memorySize,
    sweep: {
      scheduleSeconds: scheduleIn(sweeper),
      maxTasksPerRun: defaultIn(sweeper, 'lib/task-sweeper.ts', 'props.maxTasksPerRun'),
      listThreshold: defaultIn(sweeper, 'lib/task-sweeper.ts', 'props.listThreshold'),
      runBudgetSeconds: timeout - 15,
    },
    taskShards: table.SWEEP_SHARDS,
    counterShards: counterShardsOf(table),
  };
}
