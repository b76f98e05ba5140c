/**
 * `npm run bench`: latency, AWS calls per request and state transitions per task on the local system (loopback only,
 * bounded counts), then the cost per 1M POSTs built from those measurements and the list prices in bench/cost.ts.
 * Prints Markdown. Latencies are DynamoDB Local on this machine, not AWS; call and transition counts are exact anywhere.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { powertoolsServiceMetrics } from '../lambda/adapters/powertools-metrics';
import { serviceConfigFromEnv } from '../lambda/adapters/env-config';
import { taskServiceOn } from '../lambda/adapters/task-service-from-env';
import { createTrackHandler } from '../lambda/track/track-handler';
import { startLocalSystem } from '../local/system';
import { resourcesOfType } from '../local/template';
import { costTable, idleCost, type MeasuredUnits, PRICES, type RequestProfile, type TaskProfile } from './cost';
import { CostPath, measureCostUnits, pathUnits } from './cost-units';
import { LOCAL_KEYRING } from '../local/local-aws';
import { METRICS_NAMESPACE, ServiceName } from '../lambda/shared/observability-names';
import { TaskKeys } from '../lambda/shared/task-keys';
import { postEvent } from './events';
import { measureRatiosInChild, ratioTable } from './ratios';

/** The most requests in flight in any scenario below; the SDK clients get as many sockets. */
const MAX_CONCURRENCY = 100;

const calls: Record<string, number> = {};
const handlerMs: number[] = [];

function counted<T extends DynamoDBClient | SFNClient>(client: T, service: string): T {
  (client as DynamoDBClient).middlewareStack.add(
    (next, context) => async (args) => {
      const key = `${service}.${String(context.commandName).replace(/Command$/, '')}`;
      calls[key] = (calls[key] ?? 0) + 1;
      return next(args);
    },
    { step: 'initialize', name: 'countCalls' },
  );
  return client;
}

// Sized for the bench's concurrency: the default agent's 50 sockets made requests queue (and smithy warn
// "socket usage at capacity=50") in the 100-concurrent burst. In Lambda one invocation is one request: 50 is plenty.
const requestHandler = { httpAgent: { keepAlive: true, maxSockets: MAX_CONCURRENCY } };

/**
 * The production handler, built from the same core and adapters as lambda/track/index.ts, with call counting on its
 * SDK clients and its in-process duration recorded (the figure Lambda would bill, on DynamoDB Local).
 */
function countingHandler() {
  const logger = new Logger({ serviceName: 'bench', logLevel: 'ERROR' });
  const { service } = taskServiceOn({
    dynamodb: counted(new DynamoDBClient({ requestHandler }), 'dynamodb'),
    sfn: counted(new SFNClient({ requestHandler }), 'sfn'),
    tableName: process.env.TABLE_NAME!,
    stateMachineArn: process.env.STATE_MACHINE_ARN!,
    keys: new TaskKeys(LOCAL_KEYRING),
    config: serviceConfigFromEnv(process.env),
    log: logger,
  });
  const handle = createTrackHandler(service, logger);
  return async (event: APIGatewayProxyEventV2) => {
    const t0 = performance.now();
    try {
      return await handle(event);
    } finally {
      handlerMs.push(performance.now() - t0);
    }
  };
}

const post = (apiUrl: string, body: object) =>
  fetch(`${apiUrl}/api/v1/track`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

async function waitForStatus(
  apiUrl: string,
  tenant: string,
  taskId: string,
  done: (status: string) => boolean,
): Promise<string> {
  for (let i = 0; i < 300; i++) {
    const res = await fetch(`${apiUrl}/api/v1/track/${taskId}?tenant_id=${tenant}`);
    const status = ((await res.json()) as { status?: string }).status ?? '';
    if (done(status)) return status;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`task ${taskId} never reached the expected status`);
}

function percentile(sorted: number[], p: number): number {
  const value = sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  if (value === undefined) throw new RangeError('percentile of no values');
  return value;
}

interface ScenarioResult {
  readonly perRequest: Record<string, number>;
  readonly handlerMeanMs: number;
}

const rows: string[] = [];

async function scenario(name: string, apiUrl: string, bodies: object[], concurrency: number): Promise<ScenarioResult> {
  for (const k of Object.keys(calls)) delete calls[k];
  handlerMs.length = 0;
  const latencies: number[] = [];
  const statuses: Record<number, number> = {};
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const body = bodies[next++];
        if (body === undefined) break;
        const t0 = performance.now();
        const res = await post(apiUrl, body);
        await res.arrayBuffer();
        latencies.push(performance.now() - t0);
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const n = bodies.length;
  const perRequest = Object.fromEntries(
    Object.entries(calls)
      .sort()
      .map(([k, v]) => [k, +(v / n).toFixed(3)]),
  );
  const handlerMeanMs = handlerMs.reduce((a, b) => a + b, 0) / Math.max(1, handlerMs.length);
  const ms = (p: number) => percentile(latencies, p).toFixed(1);
  const callText =
    Object.entries(perRequest)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || 'none';
  const statusText = Object.entries(statuses)
    .map(([k, v]) => `${k}×${v}`)
    .join(' ');
  rows.push(
    `| ${name} | ${n} | ${concurrency} | ${(n / seconds).toFixed(0)} | ${ms(50)} | ${ms(95)} | ${ms(99)} | ${handlerMeanMs.toFixed(1)} | ${statusText} | ${callText} |`,
  );
  return { perRequest, handlerMeanMs };
}

/** States entered per execution, from the local runner's transition log (`[sfn] <execution> → <state>`). */
const entered = new Map<string, string[]>();
function recordTransitions(line: string): void {
  const [, execution, state] = /^\[sfn\] (\S+) → (\S+)$/.exec(line) ?? [];
  if (execution && state) entered.set(execution, [...(entered.get(execution) ?? []), state]);
}

/** Runs tasks to their end with a short analysis and reports the states each entered (the billed transitions). */
async function transitions(apiUrl: string, tenant: string, prefix: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const res = await post(apiUrl, { tenant_id: tenant, video_filename: `${prefix}-${i}.mp4` });
    ids.push(((await res.json()) as { task_id: string }).task_id);
  }
  for (const id of ids)
    await waitForStatus(apiUrl, tenant, id, (s) => ['completed', 'failed', 'cancelled'].includes(s));
  const paths = ids.map((id) => (entered.get(id) ?? []).join(' → '));
  const distinct = [...new Set(paths)];
  if (distinct.length !== 1) throw new Error(`tasks of one kind took different paths: ${distinct.join(' | ')}`);
  const [first] = ids;
  if (first === undefined) throw new Error('transitions: no task to follow');
  return entered.get(first) ?? [];
}

/** Bytes the production handler's logger and metrics write for one request (INFO level, EMF on), as in Lambda. */
async function logBytesPerRequest(body: object, makeDuplicate: boolean): Promise<number> {
  const previous = process.env.POWERTOOLS_METRICS_DISABLED;
  process.env.POWERTOOLS_METRICS_DISABLED = 'false';
  const logger = new Logger({ serviceName: ServiceName.TrackApi, logLevel: 'INFO' });
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: ServiceName.TrackApi });
  process.env.POWERTOOLS_METRICS_DISABLED = previous;
  const { service } = taskServiceOn({
    dynamodb: new DynamoDBClient({ requestHandler }),
    sfn: new SFNClient({ requestHandler }),
    tableName: process.env.TABLE_NAME!,
    stateMachineArn: process.env.STATE_MACHINE_ARN!,
    keys: new TaskKeys(LOCAL_KEYRING),
    config: serviceConfigFromEnv(process.env),
    log: logger,
    metrics: powertoolsServiceMetrics(metrics),
  });
  const handle = createTrackHandler(service, logger, (outcome) => {
    metrics.addMetric(outcome, MetricUnit.Count, 1);
    metrics.publishStoredMetrics();
  });
  const event = postEvent(body);
  let bytes = 0;
  let counting = false;
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (chunk: string | Uint8Array) => {
    if (counting) bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    return true;
  };
  try {
    if (makeDuplicate) await handle(event);
    counting = true;
    await handle(event);
  } finally {
    process.stdout.write = write;
  }
  return bytes;
}

/**
 * Runs tasks to their end and reports the states they entered (the billed transitions): in a local system of its own,
 * since each function's environment (the placeholder's delay) is fixed when its local runtime starts.
 */
async function measureTransitions(): Promise<{ success: string[]; rejected: string[] }> {
  process.env.ANALYSIS_DELAY_MS = '0';
  process.env.ANALYSIS_FAIL_PATTERN = '^rejected-';
  const system = await startLocalSystem({ port: 0, apiHandler: countingHandler, log: recordTransitions });
  try {
    const tenant = `bench-${randomUUID().slice(0, 8)}`;
    return {
      success: await transitions(system.apiUrl, tenant, 'done', 10),
      rejected: await transitions(system.apiUrl, tenant, 'rejected', 5),
    };
  } finally {
    await system.stop();
  }
}

/** The local system the load scenarios and the ratios run on. */
function startLoadSystem() {
  // Analyses park in a timer, so every task stays active (running) and the runner stays idle.
  process.env.ANALYSIS_DELAY_MS = '600000';
  // One tenant holds every task of the scenarios (300+ active): counted as under the default limit (so the calls and
  // the cost below are the default stack's), but never refused.
  process.env.TENANT_ACTIVE_TASK_LIMIT = String(1_000_000);
  return startLocalSystem({ port: 0, apiHandler: countingHandler, log: () => undefined });
}

/** `npm run bench:ratios`: only the write path against its floor (a couple of minutes). */
async function ratiosOnly() {
  const system = await startLoadSystem();
  try {
    console.log(ratioTable(await measureRatiosInChild(system)));
  } finally {
    await system.stop();
  }
}

async function main() {
  if (process.argv.includes('--ratios-only')) return ratiosOnly();
  const { success, rejected } = await measureTransitions();

  const system = await startLoadSystem();
  try {
    const tenant = `bench-${randomUUID().slice(0, 8)}`;
    const warm = Array.from({ length: 50 }, (_, i) => ({ tenant_id: `${tenant}-warm`, video_filename: `w${i}.mp4` }));
    await scenario('warm-up (JIT, connections; not used below)', system.apiUrl, warm, 10);

    const created = await scenario(
      'new tasks (distinct videos)',
      system.apiUrl,
      Array.from({ length: 300 }, (_, i) => ({ tenant_id: tenant, video_filename: `new-${i}.mp4` })),
      10,
    );
    const first = (await (
      await fetch(`${system.apiUrl}/api/v1/track?tenant_id=${tenant}&video_filename=new-0.mp4`)
    ).json()) as { task_id: string };
    await waitForStatus(system.apiUrl, tenant, first.task_id, (s) => s === 'running');
    const duplicate = await scenario(
      'duplicates of one running task',
      system.apiUrl,
      Array.from({ length: 1000 }, () => ({ tenant_id: tenant, video_filename: 'new-0.mp4' })),
      50,
    );
    await scenario(
      'burst: 20 videos x 25 concurrent',
      system.apiUrl,
      Array.from({ length: 25 }).flatMap(() =>
        Array.from({ length: 20 }, (_, i) => ({ tenant_id: tenant, video_filename: `burst-${i}.mp4` })),
      ),
      MAX_CONCURRENCY,
    );
    await scenario(
      'invalid bodies (no AWS call)',
      system.apiUrl,
      Array.from({ length: 500 }, () => ({ tenant_id: 'bad tenant', video_filename: 'x' })),
      50,
    );
    const ratios = await measureRatiosInChild(system);

    console.log(
      '### The write path against its floor (the API bundle vs a bare conditional PutItem, one DynamoDB Local)\n',
    );
    console.log(ratioTable(ratios));
    console.log('');

    console.log('### Requests (POST /api/v1/track, local system)\n');
    console.log(
      '| scenario | n | concurrency | req/s | p50 ms | p95 ms | p99 ms | handler mean ms | statuses | AWS calls per request |',
    );
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|---|---|');
    for (const row of rows) console.log(row);

    console.log('\n### State transitions per task (Standard workflow: each state entered is billed)\n');
    console.log('| path | states entered | transitions |');
    console.log('|---|---|---:|');
    console.log(`| success (10 tasks) | ${success.join(' → ')} | ${success.length} |`);
    console.log(`| analysis rejected (5 tasks) | ${rejected.join(' → ')} | ${rejected.length} |`);

    console.log(
      '\n### Lambda bundles (minified, source maps, AWS SDK v3 external: provided by the nodejs24.x runtime)\n',
    );
    console.log('| function | files |');
    console.log('|---|---|');
    for (const [id, fn] of resourcesOfType(system.template, 'AWS::Lambda::Function')) {
      const asset: unknown = fn.Metadata?.['aws:asset:path'];
      if (typeof asset !== 'string')
        throw new Error(`bench: ${id} has no asset path; was it synthesized with bundling?`);
      const dir = path.join(system.cdkOut, asset);
      const files = readdirSync(dir)
        .sort()
        .map((f) => `${f} ${(statSync(path.join(dir, f)).size / 1024).toFixed(1)} KiB`);
      console.log(`| ${id} | ${files.join(', ')} |`);
    }

    // While analyses park: the duplicate probe's first request stays active.
    const newLogBytes = await logBytesPerRequest({ tenant_id: tenant, video_filename: 'log-probe-new.mp4' }, false);
    const dupLogBytes = await logBytesPerRequest({ tenant_id: tenant, video_filename: 'log-probe-dup.mp4' }, true);
    const measured = await measureCostUnits({
      dynamoDbEndpoint: system.dynamoDbEndpoint,
      tableName: system.tableName,
      cdkOut: system.cdkOut,
      keyring: LOCAL_KEYRING,
    });
    const units: MeasuredUnits = {
      newTask: pathUnits(measured, CostPath.NewTaskUnderLimit),
      duplicate: pathUnits(measured, CostPath.Duplicate),
      workflow: [pathUnits(measured, CostPath.MarkRunning), pathUnits(measured, CostPath.Finish)],
    };
    const newTask: RequestProfile = {
      handlerMs: created.handlerMeanMs,
      logBytes: newLogBytes,
    };
    const dup: RequestProfile = {
      handlerMs: duplicate.handlerMeanMs,
      logBytes: dupLogBytes,
    };
    const task: TaskProfile = { states: success };
    console.log(
      `\n### Cost per 1M POSTs (list prices ${PRICES.region}, recorded ${PRICES.recorded}; see bench/cost.ts)\n`,
    );
    console.log(costTable(newTask, dup, task, units));
    console.log('\n### Monthly cost at idle (no requests)\n');
    console.log(idleCost(system.template));
  } finally {
    // On stderr: whatever the shutdown prints comes after this line, apart from the figures.
    console.error(
      '[bench] stopping the local system (aborts the parked executions; each ABORTED end runs the finalizer)',
    );
    await system.stop();
  }
}

main().then(
  // Aborted analyses leave their placeholder timers behind; nothing else is pending.
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
