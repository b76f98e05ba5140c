/** `npm run capacity`: the arguments, and the report the model's figures make. */
import { type Measured } from './measured';
import {
  activeTasks,
  type Assessment,
  assess,
  ceilingOf,
  type CostLine,
  monthlyCost,
  postsPerSecond,
  totalCost,
  type Traffic,
} from './model';
import type { StackConfig } from './stack-config';

export const USAGE = `Usage: npm run capacity -- --new-per-second N --duplicate-share D [--tenants T] [--analysis-seconds S] [--region R] [-c name=value ...]

  --new-per-second N    new analysis tasks a second (N >= 0)
  --duplicate-share D   share of POSTs that are duplicates of an active task (0 <= D < 1; 0.5 = half)
  --tenants T           tenants the traffic spreads evenly over (whole number >= 1; default 100)
  --analysis-seconds S  how long one analysis runs (S > 0; default 60)
  --region R            the AWS Region, for Region-dependent quotas (default us-east-1)
  -c name=value         a context as for cdk deploy: throttleRateLimit, throttleBurstLimit, tenantActiveTaskLimit,
                        analyseReservedConcurrency, sweeperReservedConcurrency, workflowTimeoutMinutes, redriveGraceSeconds`;

export class ArgumentError extends Error {}

export interface Args {
  readonly traffic: Traffic;
  readonly contexts: Record<string, string>;
}

const CONTEXTS = new Set([
  'throttleRateLimit',
  'throttleBurstLimit',
  'tenantActiveTaskLimit',
  'analyseReservedConcurrency',
  'sweeperReservedConcurrency',
  'workflowTimeoutMinutes',
  'redriveGraceSeconds',
]);

export function parseArgs(argv: readonly string[]): Args {
  const values = new Map<string, string>();
  const contexts: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? arg.split(/=(.*)/s) : [arg, undefined];
    const value = inline ?? argv[i + 1];
    if (flag === '-c' || flag === '--context') {
      const [name, v] = (value ?? '').split(/=(.*)/s);
      if (!name || v === undefined || !CONTEXTS.has(name)) {
        throw new ArgumentError(
          `-c needs name=value with one of: ${[...CONTEXTS].join(', ')}; got ${JSON.stringify(value ?? '')}.`,
        );
      }
      contexts[name] = v;
    } else if (
      ['--new-per-second', '--duplicate-share', '--tenants', '--analysis-seconds', '--region'].includes(flag ?? '')
    ) {
      if (value === undefined || (inline === undefined && value.startsWith('--')))
        throw new ArgumentError(`${flag} needs a value.`);
      values.set(flag ?? '', value);
    } else {
      throw new ArgumentError(`Unknown argument ${JSON.stringify(arg)}.`);
    }
    if (inline === undefined) i++;
  }
  const number = (flag: string, fallback: number | undefined, ok: (n: number) => boolean, rule: string) => {
    const raw = values.get(flag);
    if (raw === undefined) {
      if (fallback === undefined) throw new ArgumentError(`${flag} is required (${rule}).`);
      return fallback;
    }
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n) || !ok(n))
      throw new ArgumentError(`${flag} must be ${rule}, got ${JSON.stringify(raw)}.`);
    return n;
  };
  return {
    traffic: {
      newPerSecond: number('--new-per-second', undefined, (n) => n >= 0, 'a number >= 0'),
      duplicateShare: number(
        '--duplicate-share',
        undefined,
        (n) => n >= 0 && n < 1,
        'a share from 0 to below 1 (0.5 = half)',
      ),
      tenants: number('--tenants', 100, (n) => Number.isInteger(n) && n >= 1, 'a whole number >= 1'),
      analysisSeconds: number('--analysis-seconds', 60, (n) => n > 0, 'a number of seconds > 0'),
      region: values.get('--region') ?? 'us-east-1',
    },
    contexts,
  };
}

const fmt = (n: number, digits = 1) =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits }) : 'never';
const pct = (u: number) => `${u >= 10 ? fmt(u * 100, 0) : fmt(u * 100, 1)} %`;
const usd = (n: number) => `$${n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

/** The report: the settings, one row per limit, the first to bind, the monthly cost. */
export function report(config: StackConfig, measured: Measured, traffic: Traffic): string {
  const rows: Assessment[] = assess(config, measured, traffic);
  const first = rows[0];
  const cost: CostLine[] = monthlyCost(config, measured, traffic);
  const binding = rows.filter((r) => r.utilisation >= 1);
  const lines = [
    `Traffic: ${fmt(traffic.newPerSecond)} new tasks/s, ${fmt(traffic.duplicateShare * 100)} % duplicates (${fmt(postsPerSecond(traffic))} POSTs/s), ${fmt(traffic.tenants)} tenants, analysis ${fmt(traffic.analysisSeconds)} s, ${traffic.region}; ${fmt(activeTasks(traffic), 0)} tasks active at once.`,
    `Stack: stage throttle ${fmt(config.throttleRateLimit)}/s (burst ${fmt(config.throttleBurstLimit)}), tenant limit ${config.tenantActiveTaskLimit || 'none'}, Analyse reserved concurrency ${config.analyseReservedConcurrency ?? 'none'}, ${config.taskShards} task shards, ${config.counterShards} counter shard(s), sweep every ${config.sweep.scheduleSeconds} s.`,
    '',
    '| limit | ceiling | at this traffic | utilisation | binds at new tasks/s | what clients see then |',
    '|---|---|---|---:|---:|---|',
    ...rows.map(
      (r) =>
        `| ${r.utilisation >= 1 ? '**' + r.limit.name + '**' : r.limit.name} | ${ceilingOf(r.limit, traffic)} | ${r.limit.used(traffic)} | ${pct(r.utilisation)} | ${fmt(r.bindsAt)} | ${r.limit.clientsSee} |`,
    ),
    '',
  ];
  if (first) {
    const at = { ...traffic, newPerSecond: first.bindsAt };
    lines.push(
      Number.isFinite(first.bindsAt)
        ? `First to bind: ${first.limit.name}, at ${fmt(first.bindsAt)} new tasks/s (${fmt(postsPerSecond(at))} POSTs/s) with these duplicates, tenants and analysis time.`
        : 'No limit binds at any traffic with these inputs.',
      `  Clients then see: ${first.limit.clientsSee}.`,
      `  Raise it: ${first.limit.raise}.`,
    );
  }
  lines.push(
    binding.length > 0
      ? `At ${fmt(traffic.newPerSecond)} new tasks/s, ${binding.length} limit(s) bind: ${binding.map((b) => b.limit.name).join('; ')}.`
      : `At ${fmt(traffic.newPerSecond)} new tasks/s no limit binds (highest: ${rows.reduce((a, b) => (b.utilisation > a.utilisation ? b : a), rows[0] as Assessment).limit.name}).`,
    '',
    'Monthly cost (30 days, bench/cost.ts prices; verify before relying):',
    '',
    '| item | per month |',
    '|---|---:|',
    ...cost.map((l) => `| ${l.item} | ${usd(l.perMonth)} |`),
    `| **total** | **${usd(totalCost(cost))}** |`,
    '',
    "Quotas: tools/capacity/quotas.ts (AWS defaults: edit to your account's). Measured units: docs/ARCHITECTURE.md, docs/BENCHMARKS.md.",
  );
  return lines.join('\n');
}
