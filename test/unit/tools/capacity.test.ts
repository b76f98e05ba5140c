import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ArgumentError, parseArgs, report } from '../../../tools/capacity/cli';
import { parseBenchProfile, parseCostTable, readMeasured } from '../../../tools/capacity/measured';
import { assess, monthlyCost, pathUnits, totalCost, type Traffic } from '../../../tools/capacity/model';
import { counterShardsOf, defaultIn, readStackConfig, type StackConfig } from '../../../tools/capacity/stack-config';

const ROOT = path.resolve(__dirname, '../../..');
const measured = readMeasured();
/** The stack as the code configures it, with the stage throttle and tenant limit pinned so the thresholds below hold. */
const config: StackConfig = {
  ...readStackConfig(),
  throttleRateLimit: 50,
  throttleBurstLimit: 100,
  tenantActiveTaskLimit: 100,
};
const traffic = (over: Partial<Traffic>): Traffic => ({
  newPerSecond: 10,
  duplicateShare: 0,
  tenants: 100,
  analysisSeconds: 1,
  region: 'us-east-1',
  ...over,
});
const first = (t: Traffic, c = config) => assess(c, measured, t)[0];
const named = (t: Traffic, prefix: string, c = config) => {
  const found = assess(c, measured, t).find((a) => a.limit.name.startsWith(prefix));
  if (!found) throw new Error(`no limit ${prefix}`);
  return found;
};

describe('the binding limit', () => {
  test('the stage throttle (50/s) does not bind at 10 new/s and binds at 60', () => {
    const at10 = named(traffic({ newPerSecond: 10 }), 'API stage throttle');
    expect(at10.utilisation).toBeCloseTo(0.2);
    expect(assess(config, measured, traffic({ newPerSecond: 10 })).every((a) => a.utilisation < 1)).toBe(true);

    const at60 = traffic({ newPerSecond: 60 });
    expect(named(at60, 'API stage throttle').utilisation).toBeCloseTo(1.2);
    expect(first(at60)?.limit.name).toMatch(/^API stage throttle/);
    expect(first(at60)?.bindsAt).toBeCloseTo(50, 3);
    expect(report(config, measured, at60)).toContain('First to bind: API stage throttle');
  });

  test('duplicates bring the stage throttle closer: half duplicates, it binds at 25 new tasks/s', () => {
    expect(named(traffic({ duplicateShare: 0.5 }), 'API stage throttle').bindsAt).toBeCloseTo(25, 3);
  });

  test('a long analysis makes the Lambda concurrency bind before the stage throttle', () => {
    const t = traffic({ analysisSeconds: 60 });
    expect(first(t)?.limit.name).toMatch(/^Lambda concurrency/);
    // 1,000 executions ≈ 60 s × n + the handler's share + the sweep.
    expect(first(t)?.bindsAt).toBeGreaterThan(16);
    expect(first(t)?.bindsAt).toBeLessThan(16.7);
  });

  test('one tenant meets its limit first: 100 active tasks at 60 s each is 1.67 new/s', () => {
    const t = traffic({ tenants: 1, analysisSeconds: 60 });
    expect(first(t)?.limit.name).toMatch(/^tenant limit/);
    expect(first(t)?.bindsAt).toBeCloseTo(100 / 60, 3);
    expect(first(t)?.limit.clientsSee).toContain('429 /problems/tenant-quota-exceeded');
  });

  test('without a tenant limit there is no tenant limit and no counter', () => {
    const names = assess({ ...config, tenantActiveTaskLimit: 0 }, measured, traffic({})).map((a) => a.limit.name);
    expect(names.some((n) => /tenant limit|counter/.test(n))).toBe(false);
  });

  test('with one counter partition (before issue 27), a higher stage throttle moves the binding limit to it', () => {
    const c = { ...config, throttleRateLimit: 10_000, counterShards: 1 };
    const t = traffic({ newPerSecond: 260 });
    expect(first(t, c)?.limit.name).toMatch(/counter shard/);
    // 4 WRU a task (admission + end, measured) on one partition of 1,000 WRU/s.
    expect(first(t, c)?.bindsAt).toBeCloseTo(250, 3);
    // Spread over 16 counter shards, the same traffic no longer meets it.
    expect(named(t, 'DynamoDB: `active-by-age` counter', { ...c, counterShards: 16 }).utilisation).toBeLessThan(1);
  });

  test('Step Functions quotas depend on the Region', () => {
    const c = { ...config, throttleRateLimit: 10_000, counterShards: 64 };
    const east = named(traffic({ newPerSecond: 200 }), 'Step Functions StartExecution', c);
    const frankfurt = named(traffic({ newPerSecond: 200, region: 'eu-central-1' }), 'Step Functions StartExecution', c);
    expect(east.bindsAt).toBeCloseTo(300, 3);
    expect(frankfurt.bindsAt).toBeCloseTo(150, 3);
  });

  test('a reserved Analyse concurrency is a limit of its own', () => {
    const c = { ...config, analyseReservedConcurrency: 100 };
    const t = traffic({ analysisSeconds: 10 });
    expect(named(t, 'Analyse reserved', c).bindsAt).toBeCloseTo(10, 3);
    expect(first(t, c)?.limit.name).toBe('Analyse reserved concurrency');
  });
});

describe('the monthly cost', () => {
  test('grows linearly with the traffic, from the idle cost', () => {
    const cost = (n: number) =>
      totalCost(monthlyCost(config, measured, traffic({ newPerSecond: n, duplicateShare: 0.5 })));
    const idle = measured.bench.idlePerMonth ?? 0;
    expect(cost(0)).toBeCloseTo(idle, 6);
    expect(cost(20) - idle).toBeCloseTo(2 * (cost(10) - idle), 6);
    expect(cost(30) - idle).toBeCloseTo(3 * (cost(10) - idle), 6);
    expect(cost(10)).toBeGreaterThan(idle);
  });
});

describe('the measured units', () => {
  test('the cost table in docs/ARCHITECTURE.md parses into per-path units', () => {
    const rows = parseCostTable(readFileSync(path.join(ROOT, 'docs', 'ARCHITECTURE.md'), 'utf8'));
    const newTask = rows.get('new task, no tenant limit');
    expect(newTask?.write.table).toBeGreaterThan(0);
    expect(Object.keys(newTask?.write ?? {})).toEqual(['table', 'active-by-age', 'by-tenant']);
    expect(rows.get('duplicate of an active task')?.answer).toBe('200');
  });

  test('a table of the bench format, with the units a tenant limit adds', () => {
    const doc = [
      'text',
      '<!-- cost-table:start (generated by `npm run bench:cost-table`; do not edit) -->',
      '| path | answer | DynamoDB calls | RRU table | RRU indexes | WRU table | WRU `active-by-age` | WRU `by-tenant` | WRU total |',
      '|---|---|---|---:|---:|---:|---:|---:|---:|',
      '| new task, no tenant limit | 201 | PutItem | 0 | 0 | 1 | 1 | 1 | 3 |',
      '| new task under a tenant limit | 201 | PutItem, TransactWriteItems | 0 | 0 | 3 | 3 | 1 | 7 |',
      '| duplicate of an active task | 200 | PutItem (refused) | 0 | 0 | 1 | 0 | 0 | 1 |',
      '| cancel (`DELETE`), no tenant limit | 200 | GetItem, TransactWriteItems | 1 | 0 | 4 | 2 | 4 | 10 |',
      '| cancel (`DELETE`) under a tenant limit | 200 | GetItem, TransactWriteItems | 1 | 0.5 | 6 | 4 | 4 | 14 |',
      '| workflow: `MarkRunning` | state | UpdateItem | 0 | 0 | 1 | 1 | 1 | 3 |',
      '| workflow: `MarkCompleted` (finish) | state | TransactWriteItems | 0 | 0 | 6 | 4 | 4 | 14 |',
      '<!-- cost-table:end -->',
    ].join('\n');
    const rows = parseCostTable(doc);
    expect(rows.get('cancel (`DELETE`) under a tenant limit')?.readUnits).toBe(1.5);
    const units = pathUnits({ rows, bench: measured.bench }, true);
    expect(units.perTask).toEqual({ table: 10, 'active-by-age': 8, 'by-tenant': 6 });
    expect(units.counterItem).toBe(4);
    expect(units.counterIndex).toBe(4);
    const unlimited = pathUnits({ rows, bench: measured.bench }, false);
    expect(unlimited.perTask).toEqual({ table: 6, 'active-by-age': 4, 'by-tenant': 6 });
    expect(unlimited.counterItem).toBe(0);
  });

  test('missing markers or a changed table are clear errors', () => {
    expect(() => parseCostTable('no table here')).toThrow(/cost-table markers/);
    expect(() =>
      parseCostTable('<!-- cost-table:start -->\n| path | answer |\n|---|---|\n| x | 200 |\n<!-- cost-table:end -->'),
    ).toThrow(/no column "WRU table"/);
  });

  test("docs/BENCHMARKS.md gives the handler's profile", () => {
    const bench = parseBenchProfile(readFileSync(path.join(ROOT, 'docs', 'BENCHMARKS.md'), 'utf8'));
    expect(bench.newMs).toBeGreaterThan(0);
    expect(bench.statesPerTask).toBe(3);
    expect(() => parseBenchProfile('nothing')).toThrow(/BENCHMARKS.md no longer gives/);
  });
});

describe("the stack's settings come from the code", () => {
  test('the stage throttle defaults from lib/track-api.ts, a -c override wins', () => {
    const source = readFileSync(path.join(ROOT, 'lib', 'track-api.ts'), 'utf8');
    const fromCode = readStackConfig();
    const cdkContext = (JSON.parse(readFileSync(path.join(ROOT, 'cdk.json'), 'utf8')) as { context: object }).context;
    if (!('throttleRateLimit' in cdkContext)) {
      expect(fromCode.throttleRateLimit).toBe(defaultIn(source, 'lib/track-api.ts', 'props.throttleRateLimit'));
    }
    expect(readStackConfig({ throttleRateLimit: '200' }).throttleRateLimit).toBe(200);
    expect(() => readStackConfig({ throttleRateLimit: 'fast' })).toThrow(/Context "throttleRateLimit"/);
    expect(() => defaultIn('nothing', 'lib/x.ts', 'props.y')).toThrow(
      /cannot find the default of props.y in lib\/x.ts/,
    );
  });

  test('the counter shards follow lambda/shared/table.ts', () => {
    expect(counterShardsOf({ COUNTER_SHARD: 16 })).toBe(1);
    expect(counterShardsOf({ COUNTER_SHARD: 16, COUNTER_SHARDS: 8 })).toBe(8);
    expect(() => counterShardsOf({})).toThrow(/COUNTER_SHARDS/);
  });
});

describe('arguments', () => {
  test('the defaults and the flags', () => {
    const args = parseArgs(['--new-per-second', '12.5', '--duplicate-share=0.9', '-c', 'tenantActiveTaskLimit=0']);
    expect(args.traffic).toEqual({
      newPerSecond: 12.5,
      duplicateShare: 0.9,
      tenants: 100,
      analysisSeconds: 60,
      region: 'us-east-1',
    });
    expect(args.contexts).toEqual({ tenantActiveTaskLimit: '0' });
  });

  test.each([
    [['--duplicate-share', '0'], /--new-per-second is required/],
    [['--new-per-second', '10'], /--duplicate-share is required/],
    [['--new-per-second', '-1', '--duplicate-share', '0'], /--new-per-second must be a number >= 0, got "-1"/],
    [['--new-per-second', '10', '--duplicate-share', '1'], /--duplicate-share must be a share from 0 to below 1/],
    [['--new-per-second', '10', '--duplicate-share', '0', '--tenants', '1.5'], /--tenants must be a whole number/],
    [['--new-per-second', '10', '--duplicate-share', '0', '--analysis-seconds', '0'], /--analysis-seconds must be/],
    [['--new-per-second', '--duplicate-share', '0'], /--new-per-second needs a value/],
    [['--new-per-second', '10', '--duplicate-share', '0', '--fast'], /Unknown argument "--fast"/],
    [['--new-per-second', '10', '--duplicate-share', '0', '-c', 'memory=1'], /-c needs name=value with one of/],
  ])('%j is refused', (argv, message) => {
    expect(() => parseArgs(argv)).toThrow(ArgumentError);
    expect(() => parseArgs(argv)).toThrow(message);
  });
});
