/**
 * The write path against its floor (issue 16): in one run on one DynamoDB Local, the API function as Lambda runs it
 * (lambda/track/index.ts bundled with the stack's esbuild settings, buildTrackHandler in-process, its SDK clients
 * counted through its client-wrap option) against a bare conditional PutItem with the same outcome: one that lands
 * for a new task, one refused by its condition (ALL_OLD) for a duplicate, the least work that decides each. A bare
 * landing put followed by a bare StartExecution is measured against the landing put as well: the least a new task
 * does, so its ratio bounds what any new task can read on this machine.
 *
 * The function and the floor run in a process of their own, as a function runs in Lambda: the local Step Functions
 * endpoint (in the local system's process) would otherwise charge the emulator's work for each StartExecution to the
 * function's CPU. Each round runs every scenario next to its floor, in alternating order, and a scenario's ratio is
 * the median over the rounds of its throughput over its floor's in the same pair: on this shared 2-core machine the
 * throughput of one block moves by a third from one second to the next, and a pair's two blocks see the same moment.
 * Ratios, not absolute times, compare across machines and loads; the ratio against the landing put is printed too.
 */
import { ConditionalCheckFailedException, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { storageKeyOf } from '../lambda/core/storage-key';
import { Route } from '../lambda/shared/api-routes';
import { tenantCounterKey } from '../lambda/shared/table';
import { requireBundled, ROOT } from './bundle';
import { postEvent as postTrackEvent } from './events';
import { median, quantile } from './stats';

/** What each scenario must reach (issue 16). */
export const RATIO_TARGETS = { racing: 0.9, settled: 0.9, created: 0.55 } as const;
/**
 * A new task under a tenant limit has no target of its own: the limit's counter write is a second, necessary write
 * (issue 17 lets the limit cost new tasks, never duplicates; docs/ARCHITECTURE.md, "Why a limit costs a second write").
 */
type Scenario = 'floor' | 'floorRefused' | 'floorStarted' | keyof typeof RATIO_TARGETS | 'createdUnderLimit';
/**
 * The floor each scenario is measured against: the bare put with the same outcome. `floorStarted` (a bare put that
 * lands, then a bare StartExecution) is the least any new task can do; measured against the landing put, it is the
 * highest ratio a new task can read here, whatever the function does around its two calls.
 */
const FLOOR_OF = {
  racing: 'floorRefused',
  settled: 'floorRefused',
  created: 'floor',
  createdUnderLimit: 'floor',
  floorStarted: 'floor',
} as const;

const CONCURRENCY = 64;
/** Requests in one timed block. */
const PER_BLOCK = 256;
const ROUNDS = 41;
/**
 * The bare calls with the same outcome as each scenario, for the CPU comparison: a new task against the bare put and
 * start, its same two calls (its throughput is paired with the landing put, FLOOR_OF, as its target is set against it).
 */
const SAME_CALLS_OF = {
  racing: 'floorRefused',
  settled: 'floorRefused',
  created: 'floorStarted',
  floorStarted: 'floor',
} as const;
/** Each round, in rotated order: the scenario and its floor side by side. */
const PAIRED = ['racing', 'settled', 'created', 'createdUnderLimit', 'floorStarted'] as const;

export interface RatioSystem {
  /** The API function's environment in the local system (TABLE_NAME, STATE_MACHINE_ARN, TASK_ID_KEYRING, endpoints). */
  readonly environment: Record<string, string>;
  readonly dynamoDbEndpoint: string;
  readonly sfnEndpoint: string;
  readonly tableName: string;
}

export interface RatioRow {
  readonly scenario: Scenario;
  readonly medianPerSecond: number;
  /** Median over the rounds of the scenario's req/s over its floor's in the same pair (FLOOR_OF); floors: 1. */
  readonly ratio: number;
  /** The middle half of the pairs' ratios (25th to 75th percentile): how much one pair's reading moves. */
  readonly spread?: readonly [number, number];
  /** Against the bare put that lands. */
  readonly ratioToLanding: number;
  /** Median CPU time of the function's process per request (µs): when that process is the bottleneck, the ratios follow these. */
  readonly cpuMicrosPerRequest: number;
  /** The bare calls' CPU per request over this scenario's (SAME_CALLS_OF): steadier than throughput from run to run. */
  readonly cpuRatio?: number;
  readonly callsPerRequest: Record<string, number>;
}

const LABELS: Record<Scenario, string> = {
  floor: 'bare conditional PutItem that lands (floor of a new task)',
  floorRefused: 'bare conditional PutItem refused, ALL_OLD (floor of a duplicate)',
  floorStarted: 'bare PutItem that lands, then a bare StartExecution (the least a new task does)',
  racing: 'racing duplicate (winner still not_started)',
  settled: 'settled duplicate (task running)',
  created: 'new task (no tenant limit: tenantActiveTaskLimit=0)',
  createdUnderLimit: 'new task under a tenant limit (the default: its counter write)',
};

type TrackModule = typeof import('../lambda/track/index');

export async function measureRatios(system: RatioSystem): Promise<RatioRow[]> {
  const calls: Record<Scenario, Record<string, number>> = {
    floor: {},
    floorRefused: {},
    floorStarted: {},
    racing: {},
    settled: {},
    created: {},
    createdUnderLimit: {},
  };
  const requests: Record<Scenario, number> = {
    floor: 0,
    floorRefused: 0,
    floorStarted: 0,
    racing: 0,
    settled: 0,
    created: 0,
    createdUnderLimit: 0,
  };
  let current: Scenario | undefined;
  const countCalls = <C extends DynamoDBClient | SFNClient>(client: C): C => {
    const service = client instanceof DynamoDBClient ? 'dynamodb' : 'sfn';
    (client as DynamoDBClient).middlewareStack.add(
      (next, context) => async (args) => {
        if (current) {
          const key = `${service}.${String(context.commandName).replace(/Command$/, '')}`;
          calls[current][key] = (calls[current][key] ?? 0) + 1;
        }
        return next(args);
      },
      { step: 'initialize', name: 'benchCountCalls' },
    );
    return client;
  };
  // Loaded once the local system has set the environment: the handler module checks AUTH_MODE at import.
  const { buildTrackHandler } = await requireBundled<TrackModule>('lambda/track/index.ts');
  const handle = buildTrackHandler(
    { ...process.env, ...system.environment, TENANT_ACTIVE_TASK_LIMIT: '0' },
    { wrapClient: countCalls },
  );
  // Under a limit each new task takes its slot on the tenant's counter first, as the default stack does (100); the
  // limit here is high enough never to refuse, so every request is a created task. Its executions are held, so the
  // state machine's own counting does not matter.
  const limited = buildTrackHandler(
    { ...process.env, ...system.environment, TENANT_ACTIVE_TASK_LIMIT: String(1_000_000) },
    { wrapClient: countCalls },
  );
  // The floor gets a client configured as the handler's own (SDK defaults) and counted the same way, so the two
  // differ only by what they do around the call.
  const floorClient = countCalls(new DynamoDBClient({ endpoint: system.dynamoDbEndpoint }));
  const floorSfn = countCalls(new SFNClient({ endpoint: system.sfnEndpoint }));
  const stateMachineArn = system.environment.STATE_MACHINE_ARN;

  const held = `ratio-held-${randomUUID().slice(0, 8)}`;
  const settledTenant = `ratio-run-${randomUUID().slice(0, 8)}`;
  // Held before their first state: a racing duplicate's winner stays not_started, and new tasks' executions do no work
  // during the rounds.
  await localControl(system.sfnEndpoint, 'LocalHold', { field: 'tenant_id', value: held });
  const running = await expectPost(handle, settledTenant, 'settled.mp4', 201);
  await waitUntilRunning(handle, settledTenant, running);

  const refusedKey = `BENCH#refused#${held}`;
  await floorClient.send(new PutItemCommand({ TableName: system.tableName, Item: floorItem(refusedKey) }));
  const post = (tenant: string, video: string) =>
    handle(postEvent(tenant, video)) as Promise<APIGatewayProxyStructuredResultV2>;
  const runs: Record<Scenario, (block: number) => Promise<BlockSample>> = {
    floor: (block) =>
      timed(PER_BLOCK, async (i) => {
        await floorClient.send(
          new PutItemCommand({
            TableName: system.tableName,
            Item: floorItem(`BENCH#floor#${held}#${block}#${i}`),
            ConditionExpression: 'attribute_not_exists(pk)',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        );
      }),
    floorStarted: (block) =>
      timed(PER_BLOCK, async (i) => {
        const taskId = `floor-${block}-${i}-${held}`;
        const pk = `BENCH#started#${held}#${block}#${i}`;
        // The held tenant's: its execution waits before its first state, as a new task's does during the rounds.
        const item = floorItem(pk, taskId, held);
        await floorClient.send(
          new PutItemCommand({
            TableName: system.tableName,
            Item: item,
            ConditionExpression: 'attribute_not_exists(pk)',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        );
        await floorSfn.send(
          new StartExecutionCommand({ stateMachineArn, name: taskId, input: floorExecutionInput(item) }),
        );
      }),
    floorRefused: () =>
      timed(PER_BLOCK, async () => {
        const refused = await floorClient
          .send(
            new PutItemCommand({
              TableName: system.tableName,
              Item: floorItem(refusedKey),
              ConditionExpression: 'attribute_not_exists(pk)',
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            }),
          )
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        if (!(refused instanceof ConditionalCheckFailedException) || !refused.Item)
          throw new Error(`bench: expected a refused put with its item, got ${String(refused)}`);
      }),
    racing: async (block) => {
      const video = `racing-${block}.mp4`;
      const saved = current;
      current = undefined;
      const winner = await expectPost(handle, held, video, 201);
      current = saved;
      return timed(PER_BLOCK, async () => expectAnswer(await post(held, video), 200, winner, 'not_started'));
    },
    settled: () =>
      timed(PER_BLOCK, async () => expectAnswer(await post(settledTenant, 'settled.mp4'), 200, running, 'running')),
    created: (block) => timed(PER_BLOCK, async (i) => expectAnswer(await post(held, `new-${block}-${i}.mp4`), 201)),
    createdUnderLimit: (block) =>
      timed(PER_BLOCK, async (i) => expectAnswer(await limited(postEvent(held, `limited-${block}-${i}.mp4`)), 201)),
  };
  const order: Scenario[] = [
    'floor',
    'floorRefused',
    'floorStarted',
    'racing',
    'settled',
    'created',
    'createdUnderLimit',
  ];
  const samples: Record<Scenario, BlockSample[]> = {
    floor: [],
    floorRefused: [],
    floorStarted: [],
    racing: [],
    settled: [],
    created: [],
    createdUnderLimit: [],
  };
  const pairRatios: Record<(typeof PAIRED)[number], number[]> = {
    racing: [],
    settled: [],
    created: [],
    createdUnderLimit: [],
    floorStarted: [],
  };
  let block = 0;
  const measure = async (s: Scenario) => {
    current = s;
    const sample = await runs[s](block++);
    current = undefined;
    samples[s].push(sample);
    requests[s] += PER_BLOCK;
    return sample.perSecond;
  };
  try {
    // One untimed block of each first (JIT, connections).
    for (const s of order) await runs[s](block++);
    for (let round = 0; round < ROUNDS; round++) {
      // The scenarios' order rotates by one each round.
      const shift = round % PAIRED.length;
      for (const [k, s] of [...PAIRED.slice(shift), ...PAIRED.slice(0, shift)].entries()) {
        // Which of the pair goes first alternates, so neither always follows the other's leftovers (GC, sockets).
        if ((round + k) % 2 === 0) {
          const floor = await measure(FLOOR_OF[s]);
          pairRatios[s].push((await measure(s)) / floor);
        } else {
          const scenario = await measure(s);
          pairRatios[s].push(scenario / (await measure(FLOOR_OF[s])));
        }
      }
    }
  } finally {
    floorClient.destroy();
    floorSfn.destroy();
  }
  const perSecond = (scenario: Scenario) => samples[scenario].map((sample) => sample.perSecond);
  const floorMedian = median(perSecond('floor'));
  const cpuOf = (scenario: Scenario) => median(samples[scenario].map((sample) => sample.cpuMicros));
  return order.map((scenario) => {
    const bare = scenario in SAME_CALLS_OF ? SAME_CALLS_OF[scenario as keyof typeof SAME_CALLS_OF] : undefined;
    const paired = scenario === 'floor' || scenario === 'floorRefused' ? undefined : pairRatios[scenario];
    return {
      scenario,
      medianPerSecond: median(perSecond(scenario)),
      ratio: paired ? median(paired) : 1,
      spread: paired ? [quantile(paired, 0.25), quantile(paired, 0.75)] : undefined,
      ratioToLanding: median(perSecond(scenario)) / floorMedian,
      cpuMicrosPerRequest: cpuOf(scenario),
      cpuRatio: bare ? cpuOf(bare) / cpuOf(scenario) : undefined,
      callsPerRequest: Object.fromEntries(
        Object.entries(calls[scenario])
          .sort()
          .map(([k, v]) => [k, +(v / requests[scenario]).toFixed(3)]),
      ),
    };
  });
}

/** The rows as Markdown, each ratio against its target. */
export function ratioTable(rows: readonly RatioRow[]): string {
  const lines = [
    `The API bundle in a process of its own against a bare PutItem, concurrency ${CONCURRENCY}, ${PER_BLOCK} requests a block, ${ROUNDS} rounds; each round runs every scenario next to the bare PutItem with the same outcome (refused for a duplicate, landing for a new task), the order alternating. ratio = median over the rounds of the pair's req/s ratio. The CPU column divides the function process's CPU per request for the same calls made bare (a duplicate: the refused put; a new task: the put and the start) by the scenario's: what the function adds around its calls, steadier than throughput.\n`,
    '| scenario | median req/s | ratio (middle half of the pairs) | target | ratio to the landing put | CPU µs per request | CPU: the same calls bare / this | AWS calls per request |',
    '|---|---:|---:|---|---:|---:|---:|---|',
  ];
  const ceiling = rows.find((row) => row.scenario === 'floorStarted');
  for (const row of rows) {
    const target =
      row.scenario in RATIO_TARGETS ? RATIO_TARGETS[row.scenario as keyof typeof RATIO_TARGETS] : undefined;
    // When even the bare write and start read below a new task's target, say so: no handler could reach it in this run.
    const bound =
      row.scenario === 'created' && ceiling && ceiling.ratio < (target ?? 0)
        ? ` (the bare PutItem + StartExecution itself reads ${ceiling.ratio.toFixed(2)}×)`
        : '';
    const verdict =
      target !== undefined
        ? `≥ ${target} ${row.ratio >= target ? 'met' : '**BELOW TARGET**'}${bound}`
        : row.scenario === 'createdUnderLimit'
          ? 'none: the limit needs a second write (ARCHITECTURE.md)'
          : row.scenario === 'floorStarted'
            ? 'none: the highest a new task can read'
            : '—';
    const callText =
      Object.entries(row.callsPerRequest)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || '—';
    const spread = row.spread ? ` (${row.spread[0].toFixed(2)}-${row.spread[1].toFixed(2)})` : '';
    lines.push(
      `| ${LABELS[row.scenario]} | ${row.medianPerSecond.toFixed(0)} | ${row.ratio.toFixed(2)}×${spread} | ${verdict} | ${row.ratioToLanding.toFixed(2)}× | ${row.cpuMicrosPerRequest.toFixed(0)} | ${row.cpuRatio === undefined ? '—' : `${row.cpuRatio.toFixed(2)}×`} | ${callText} |`,
    );
  }
  return lines.join('\n');
}

/** One timed block. */
interface BlockSample {
  readonly perSecond: number;
  /** CPU time of this process per request, in µs. */
  readonly cpuMicros: number;
}

/** Runs `n` calls of `fn`, CONCURRENCY in flight. */
async function timed(n: number, fn: (i: number) => Promise<unknown>): Promise<BlockSample> {
  let next = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) await fn(next++);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { perSecond: n / seconds, cpuMicros: (used.user + used.system) / n };
}

/** An item of an active task's size and shape, so the floor writes what a claim writes. */
function floorItem(pk: string, taskId = 'x'.repeat(43), tenant = 'ratio-held-00000000') {
  const now = new Date().toISOString();
  const s = (v: string) => ({ S: v });
  const n = (v: number) => ({ N: String(v) });
  return {
    pk: s(pk),
    item_type: s('active'),
    task_id: s(taskId),
    tenant_id: s(tenant),
    video_filename: s('new-0-000.mp4'),
    status: s('not_started'),
    created_at: s(now),
    updated_at: s(now),
    lease_expires_at: n(2_000_000_000),
    retain_until: n(2_100_000_000),
    sweep_shard: n(3),
  };
}

/** An execution input of a task's size and shape (sfn-workflow.ts, ExecutionInput), for the item the floor wrote. */
function floorExecutionInput(item: ReturnType<typeof floorItem>): string {
  return JSON.stringify({
    task_id: item.task_id.S,
    tenant_id: item.tenant_id.S,
    video_filename: item.video_filename.S,
    created_at: item.created_at.S,
    retain_until: Number(item.retain_until.N),
    task_key: item.pk.S,
    tenant_key: tenantCounterKey(item.tenant_id.S),
    storage_key: storageKeyOf(item.tenant_id.S, item.video_filename.S),
  });
}

function postEvent(tenant: string, video: string): APIGatewayProxyEventV2 {
  return postTrackEvent({ tenant_id: tenant, video_filename: video });
}

type Handle = ReturnType<typeof import('../lambda/track/index').buildTrackHandler>;

async function expectPost(handle: Handle, tenant: string, video: string, status: number): Promise<string> {
  const res = (await handle(postEvent(tenant, video))) as APIGatewayProxyStructuredResultV2;
  return expectAnswer(res, status);
}

/** A scenario that silently measured something else (a 503, a re-drive) would be a wrong figure: stop instead. */
function expectAnswer(
  res: APIGatewayProxyStructuredResultV2,
  status: number,
  taskId?: string,
  taskStatus?: string,
): string {
  const body = JSON.parse(String(res.body)) as { task_id: string; status: string };
  if (res.statusCode !== status || (taskId && body.task_id !== taskId) || (taskStatus && body.status !== taskStatus)) {
    throw new Error(`bench: expected ${status} ${taskId ?? ''} ${taskStatus ?? ''}, got ${res.statusCode} ${res.body}`);
  }
  return body.task_id;
}

async function waitUntilRunning(handle: Handle, tenant: string, taskId: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const res = (await handle({
      ...postEvent(tenant, ''),
      rawPath: `${Route.Collection}/${taskId}`,
      rawQueryString: `tenant_id=${tenant}`,
      queryStringParameters: { tenant_id: tenant },
      pathParameters: { task_id: taskId },
      requestContext: { http: { method: 'GET', path: `${Route.Collection}/${taskId}` } },
      body: undefined,
    } as unknown as APIGatewayProxyEventV2)) as APIGatewayProxyStructuredResultV2;
    if ((JSON.parse(String(res.body)) as { status?: string }).status === 'running') return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`bench: task ${taskId} never started running`);
}

/** A local-only control of the local Step Functions endpoint (local/local-only/test-controls.ts). */
async function localControl(endpoint: string, operation: string, input: Record<string, unknown>): Promise<void> {
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: { 'x-amz-target': `AWSStepFunctions.${operation}`, 'content-type': 'application/x-amz-json-1.0' },
    body: JSON.stringify(input),
  });
  if (!res.ok) throw new Error(`${operation} failed: ${res.status} ${await res.text()}`);
}

/** Where the child reads the system it measures against. */
const SYSTEM_ENV = 'RATIO_SYSTEM';

/**
 * measureRatios in a child process (this file run directly) against `system`, which this process keeps serving:
 * the measured function's CPU is then its own, not shared with the local Step Functions endpoint.
 */
export function measureRatiosInChild(system: RatioSystem): Promise<RatioRow[]> {
  const { environment, dynamoDbEndpoint, sfnEndpoint, tableName } = system;
  const child = spawn(process.execPath, ['--import', 'tsx', __filename], {
    cwd: ROOT,
    env: { ...process.env, [SYSTEM_ENV]: JSON.stringify({ environment, dynamoDbEndpoint, sfnEndpoint, tableName }) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`bench: the ratio process exited with ${code}`));
      // The rows are the last line: anything the function logged (warnings, errors) comes before them.
      resolve(JSON.parse(out.trim().split('\n').pop()!) as RatioRow[]);
    });
  });
}

if (require.main === module) {
  const system = JSON.parse(process.env[SYSTEM_ENV] ?? 'null') as RatioSystem | null;
  if (!system) throw new Error(`bench/ratios.ts is run by measureRatiosInChild (${SYSTEM_ENV} unset)`);
  // The function's configuration came with the environment: the local system set it in the parent's before spawning.
  measureRatios(system).then(
    (rows) => process.stdout.write(`${JSON.stringify(rows)}\n`),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
