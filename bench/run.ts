/**
 * `npm run bench`: latency and AWS calls per request of POST /api/v1/track on the local system (loopback only,
 * bounded counts). Figures are for DynamoDB Local on this machine, not for AWS; the call counts are exact anywhere.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { randomUUID } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { createDocumentClient, DynamoDbTaskStore } from '../lambda/adapters/dynamodb-task-store';
import { StepFunctionsWorkflow } from '../lambda/adapters/sfn-workflow';
import { serviceConfigFromEnv } from '../lambda/core/config';
import { TaskService } from '../lambda/core/task-service';
import { createTrackHandler } from '../lambda/track/track-handler';
import { startLocalSystem } from '../local/system';
import { resourcesOfType } from '../local/template';

const calls: Record<string, number> = {};
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

/** The production handler, built from the same core and adapters, with call counting on its SDK clients. */
function countingHandler() {
  const logger = new Logger({ serviceName: 'bench', logLevel: 'ERROR' });
  const service = new TaskService(
    new DynamoDbTaskStore(createDocumentClient(counted(new DynamoDBClient({}), 'dynamodb')), process.env.TABLE_NAME!),
    new StepFunctionsWorkflow(counted(new SFNClient({}), 'sfn'), process.env.STATE_MACHINE_ARN!),
    { now: () => new Date() },
    randomUUID,
    serviceConfigFromEnv(process.env),
    logger,
  );
  return createTrackHandler(service, logger);
}

async function waitUntilRunning(apiUrl: string, tenant: string, video: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const res = await fetch(`${apiUrl}/api/v1/track?tenant_id=${tenant}&video_filename=${video}`);
    if (((await res.json()) as { status?: string }).status === 'running') return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${video} never reached running`);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function scenario(name: string, apiUrl: string, bodies: object[], concurrency: number) {
  for (const k of Object.keys(calls)) delete calls[k];
  const latencies: number[] = [];
  const statuses: Record<number, number> = {};
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++];
        const t0 = performance.now();
        const res = await fetch(`${apiUrl}/api/v1/track`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        await res.arrayBuffer();
        latencies.push(performance.now() - t0);
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const n = bodies.length;
  const perRequest = Object.fromEntries(Object.entries(calls).sort().map(([k, v]) => [k, +(v / n).toFixed(3)]));
  console.log(
    `${name.padEnd(44)} n=${n} c=${concurrency} ${(n / seconds).toFixed(0).padStart(5)} req/s  p50 ${percentile(latencies, 50).toFixed(1)} ms  p95 ${percentile(latencies, 95).toFixed(1)} ms  p99 ${percentile(latencies, 99).toFixed(1)} ms  statuses ${JSON.stringify(statuses)}  calls/request ${JSON.stringify(perRequest)}`,
  );
}

async function main() {
  // Analyses park in a timer for the whole run, so every task stays active (running) and the runner stays idle.
  process.env.ANALYSIS_DELAY_MS = '600000';
  const system = await startLocalSystem({ port: 0, apiHandler: countingHandler, log: () => undefined });
  try {
    const tenant = `bench-${randomUUID().slice(0, 8)}`;
    const warm = Array.from({ length: 50 }, (_, i) => ({ tenant_id: `${tenant}-warm`, video_filename: `w${i}.mp4` }));
    await scenario('warm-up (discarded)', system.apiUrl, warm, 10);

    await scenario('new tasks (distinct videos)', system.apiUrl, Array.from({ length: 300 }, (_, i) => ({ tenant_id: tenant, video_filename: `new-${i}.mp4` })), 10);
    await waitUntilRunning(system.apiUrl, tenant, 'new-0.mp4');
    await scenario('duplicates of one running task', system.apiUrl, Array.from({ length: 1000 }, () => ({ tenant_id: tenant, video_filename: 'new-0.mp4' })), 50);
    await scenario('burst: 20 videos x 25 concurrent', system.apiUrl, Array.from({ length: 25 }).flatMap(() => Array.from({ length: 20 }, (_, i) => ({ tenant_id: tenant, video_filename: `burst-${i}.mp4` }))), 100);
    await scenario('invalid bodies (no AWS call)', system.apiUrl, Array.from({ length: 500 }, () => ({ tenant_id: 'bad tenant', video_filename: 'x' })), 50);

    console.log('\nLambda bundles (minified, AWS SDK v3 external: provided by the nodejs24.x runtime):');
    for (const [id, fn] of resourcesOfType(system.template, 'AWS::Lambda::Function')) {
      const dir = path.join(system.cdkOut, fn.Metadata!['aws:asset:path']);
      const files = readdirSync(dir).map((f) => `${f} ${(statSync(path.join(dir, f)).size / 1024).toFixed(1)} KiB`);
      console.log(`  ${id.padEnd(36)} ${files.join(', ')}`);
    }
  } finally {
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
