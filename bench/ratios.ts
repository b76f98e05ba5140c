/**
 * The write path against its floor (issue 16): in one run on one DynamoDB Local, the in-process API handler
 * (lambda/track/index.ts buildTrackHandler, its SDK clients counted through its client-wrap option) against a bare
 * conditional PutItem, in alternated rounds at the same concurrency. A ratio is the median throughput of a scenario
 * over the median throughput of the bare PutItem with the same outcome: one that lands for a new task, one refused
 * by its condition (ALL_OLD) for a duplicate, the least work that decides each. Ratios, not absolute times, compare
 * across machines and loads; the ratio against the landing put is printed too.
 */
import { ConditionalCheckFailedException, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { Route } from '../lambda/shared/names';

/** What each scenario must reach (issue 16). */
export const RATIO_TARGETS = { racing: 0.9, settled: 0.9, created: 0.55 } as const;
/**
 * A new task under a tenant limit has no target of its own: the limit's counter write is a second, necessary write
 * (issue 17 lets the limit cost new tasks, never duplicates; docs/ARCHITECTURE.md, "Why a limit costs a second write").
 */
type Scenario = 'floor' | 'floorRefused' | keyof typeof RATIO_TARGETS | 'createdUnderLimit';
/** The floor each scenario is measured against: the bare put with the same outcome. */
const FLOOR_OF = { racing: 'floorRefused', settled: 'floorRefused', created: 'floor', createdUnderLimit: 'floor' } as const;

const CONCURRENCY = 64;
const PER_ROUND = 256;
const ROUNDS = 9;

export interface RatioSystem {
  /** The API function's environment in the local system (TABLE_NAME, STATE_MACHINE_ARN, TASK_ID_KEY, endpoints). */
  readonly environment: Record<string, string>;
  readonly dynamoDbEndpoint: string;
  readonly sfnEndpoint: string;
  readonly tableName: string;
}

export interface RatioRow {
  readonly scenario: Scenario;
  readonly medianPerSecond: number;
  /** Against the bare put with the same outcome (FLOOR_OF); the floors' own rows against themselves. */
  readonly ratio: number;
  /** Against the bare put that lands. */
  readonly ratioToLanding: number;
  readonly callsPerRequest: Record<string, number>;
}

const LABELS: Record<Scenario, string> = {
  floor: 'bare conditional PutItem that lands (floor of a new task)',
  floorRefused: 'bare conditional PutItem refused, ALL_OLD (floor of a duplicate)',
  racing: 'racing duplicate (winner still not_started)',
  settled: 'settled duplicate (task running)',
  created: 'new task (no tenant limit: tenantActiveTaskLimit=0)',
  createdUnderLimit: 'new task under a tenant limit (the default: its counter write)',
};

export async function measureRatios(system: RatioSystem): Promise<RatioRow[]> {
  const calls: Record<Scenario, Record<string, number>> = { floor: {}, floorRefused: {}, racing: {}, settled: {}, created: {}, createdUnderLimit: {} };
  const requests: Record<Scenario, number> = { floor: 0, floorRefused: 0, racing: 0, settled: 0, created: 0, createdUnderLimit: 0 };
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
  const { buildTrackHandler } = require('../lambda/track/index') as typeof import('../lambda/track/index');
  // Thousands of new tasks pile up under one tenant. Without a limit (0) no counter is written: one put, one start.
  const handle = buildTrackHandler({ ...process.env, ...system.environment, TENANT_ACTIVE_TASK_LIMIT: '0' }, { wrapClient: countCalls });
  // Under a limit each new task takes its slot on the tenant's counter first, as the default stack does (100); the
  // limit here is high enough never to refuse, so every request is a created task. Its executions are held, so the
  // state machine's own counting does not matter.
  const limited = buildTrackHandler({ ...process.env, ...system.environment, TENANT_ACTIVE_TASK_LIMIT: String(1_000_000) }, { wrapClient: countCalls });
  // The floor gets a client configured as the handler's own (SDK defaults), so the two differ only by what they send.
  const floorClient = new DynamoDBClient({ endpoint: system.dynamoDbEndpoint });

  const held = `ratio-held-${randomUUID().slice(0, 8)}`;
  const settledTenant = `ratio-run-${randomUUID().slice(0, 8)}`;
  // Held before their first state: a racing duplicate's winner stays not_started, and new tasks' executions do no work
  // during the rounds.
  await localControl(system.sfnEndpoint, 'LocalHold', { field: 'tenant_id', value: held });
  const running = await expectPost(handle, settledTenant, 'settled.mp4', 201);
  await waitUntilRunning(handle, settledTenant, running);

  const refusedKey = `BENCH#refused#${held}`;
  await floorClient.send(new PutItemCommand({ TableName: system.tableName, Item: floorItem(refusedKey) }));
  const post = (tenant: string, video: string) => handle(postEvent(tenant, video)) as Promise<APIGatewayProxyStructuredResultV2>;
  const runs: Record<Scenario, (round: number) => Promise<number>> = {
    floor: (round) =>
      timed(PER_ROUND, async (i) => {
        await floorClient.send(
          new PutItemCommand({
            TableName: system.tableName,
            Item: floorItem(`BENCH#floor#${held}#${round}#${i}`),
            ConditionExpression: 'attribute_not_exists(pk)',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        );
      }),
    floorRefused: () =>
      timed(PER_ROUND, async () => {
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
        if (!(refused instanceof ConditionalCheckFailedException) || !refused.Item) throw new Error(`bench: expected a refused put with its item, got ${String(refused)}`);
      }),
    racing: async (round) => {
      const video = `racing-${round}.mp4`;
      const winner = await expectPost(handle, held, video, 201);
      current = 'racing';
      return timed(PER_ROUND, async () => expectAnswer(await post(held, video), 200, winner, 'not_started'));
    },
    settled: () => timed(PER_ROUND, async () => expectAnswer(await post(settledTenant, 'settled.mp4'), 200, running, 'running')),
    created: (round) => timed(PER_ROUND, async (i) => expectAnswer(await post(held, `new-${round}-${i}.mp4`), 201)),
    createdUnderLimit: (round) =>
      timed(PER_ROUND, async (i) => expectAnswer((await limited(postEvent(held, `limited-${round}-${i}.mp4`))) as APIGatewayProxyStructuredResultV2, 201)),
  };
  const order: Scenario[] = ['floor', 'floorRefused', 'racing', 'settled', 'created', 'createdUnderLimit'];
  const perSecond: Record<Scenario, number[]> = { floor: [], floorRefused: [], racing: [], settled: [], created: [], createdUnderLimit: [] };
  try {
    // One untimed round of each first (JIT, connections), then rounds in a rotated order.
    for (const s of order) await runs[s](-1);
    for (const s of order) calls[s] = {};
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < order.length; k++) {
        const s = order[(k + round) % order.length];
        current = s === 'racing' ? undefined : s;
        perSecond[s].push(await runs[s](round));
        requests[s] += PER_ROUND;
        current = undefined;
      }
    }
  } finally {
    floorClient.destroy();
  }
  const floorMedian = median(perSecond.floor);
  const against = (scenario: Scenario) => (scenario === 'floor' || scenario === 'floorRefused' ? scenario : FLOOR_OF[scenario]);
  return order.map((scenario) => ({
    scenario,
    medianPerSecond: median(perSecond[scenario]),
    ratio: median(perSecond[scenario]) / median(perSecond[against(scenario)]),
    ratioToLanding: median(perSecond[scenario]) / floorMedian,
    callsPerRequest: Object.fromEntries(Object.entries(calls[scenario]).sort().map(([k, v]) => [k, +(v / requests[scenario]).toFixed(3)])),
  }));
}

/** The rows as Markdown, each ratio against its target. */
export function ratioTable(rows: readonly RatioRow[]): string {
  const lines = [
    `Concurrency ${CONCURRENCY}, ${PER_ROUND} requests a round, ${ROUNDS} rounds in rotated order; ratio = median req/s of the scenario / median req/s of the bare PutItem with the same outcome (refused for a duplicate, landing for a new task).\n`,
    '| scenario | median req/s | ratio | target | ratio to the landing put | AWS calls per request |',
    '|---|---:|---:|---|---:|---|',
  ];
  for (const row of rows) {
    const target = row.scenario in RATIO_TARGETS ? RATIO_TARGETS[row.scenario as keyof typeof RATIO_TARGETS] : undefined;
    const verdict =
      target !== undefined
        ? `≥ ${target} ${row.ratio >= target ? 'met' : '**BELOW TARGET**'}`
        : row.scenario === 'createdUnderLimit'
          ? 'none: the limit needs a second write (ARCHITECTURE.md)'
          : '—';
    const callText = Object.entries(row.callsPerRequest).map(([k, v]) => `${k} ${v}`).join(', ') || 'dynamodb.PutItem 1 (by construction)';
    lines.push(`| ${LABELS[row.scenario]} | ${row.medianPerSecond.toFixed(0)} | ${row.ratio.toFixed(2)}× | ${verdict} | ${row.ratioToLanding.toFixed(2)}× | ${callText} |`);
  }
  return lines.join('\n');
}

/** Runs `n` calls of `fn`, CONCURRENCY in flight; returns calls per second. */
async function timed(n: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) await fn(next++);
    }),
  );
  return n / ((performance.now() - started) / 1000);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** An item of an active task's size and shape, so the floor writes what a claim writes. */
function floorItem(pk: string) {
  const now = new Date().toISOString();
  const s = (v: string) => ({ S: v });
  const n = (v: number) => ({ N: String(v) });
  return {
    pk: s(pk),
    item_type: s('active'),
    task_id: s('x'.repeat(43)),
    tenant_id: s('ratio-held-00000000'),
    video_filename: s('new-0-000.mp4'),
    status: s('not_started'),
    created_at: s(now),
    updated_at: s(now),
    lease_expires_at: n(2_000_000_000),
    retain_until: n(2_100_000_000),
    sweep_shard: n(3),
  };
}

function postEvent(tenant: string, video: string): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    rawPath: Route.Collection,
    rawQueryString: '',
    headers: { 'content-type': 'application/json' },
    requestContext: { http: { method: 'POST', path: Route.Collection } },
    body: JSON.stringify({ tenant_id: tenant, video_filename: video }),
    isBase64Encoded: false,
  } as unknown as APIGatewayProxyEventV2;
}

type Handle = ReturnType<typeof import('../lambda/track/index').buildTrackHandler>;

async function expectPost(handle: Handle, tenant: string, video: string, status: number): Promise<string> {
  const res = (await handle(postEvent(tenant, video))) as APIGatewayProxyStructuredResultV2;
  return expectAnswer(res, status);
}

/** A scenario that silently measured something else (a 503, a re-drive) would be a wrong figure: stop instead. */
function expectAnswer(res: APIGatewayProxyStructuredResultV2, status: number, taskId?: string, taskStatus?: string): string {
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
