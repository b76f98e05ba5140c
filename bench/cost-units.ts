/**
 * Read and write units per request path, measured on DynamoDB Local: every DynamoDB call of the API handler and of
 * the state machine's DynamoDB states asks for `ReturnConsumedCapacity: 'INDEXES'`, and what DynamoDB Local answers
 * is summed per path, for the table and for each index. `npm run bench:cost-table` writes the result into
 * docs/ARCHITECTURE.md between the cost-table markers; test/integration/cost-table.test.ts measures again and fails
 * when the doc differs.
 *
 * One thing is not reported by DynamoDB: a write refused by its condition (a duplicate's claim, the tenant counter
 * at its limit) answers with an error that carries no ConsumedCapacity. AWS charges it the write units of the item
 * (1 for this app's items, all under 1 KB) and writes no index; it is counted so here, and marked in the table. A
 * transaction a condition cancelled (the admission at the tenant limit) is counted by the same rule at the
 * transactional rate: 2 per item.
 */
import { type ConsumedCapacity, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { taskServiceOn } from '../lambda/adapters/task-service-from-env';
import { analyse, type AnalyseInput } from '../lambda/analyse/analyse';
import { DEFAULT_TASK_SERVICE_CONFIG, SILENT_LOG } from '../lambda/core/task-recovery';
import { Route } from '../lambda/shared/api-routes';
import { ACTIVE_BY_AGE_INDEX, BY_TENANT_INDEX } from '../lambda/shared/table';
import type { Keyring } from '../lambda/shared/keyring';
import { TaskKeys } from '../lambda/shared/task-keys';
import { createTrackHandler } from '../lambda/track/track-handler';
import { toApiGatewayEvent } from '../local/api-gateway/event';
import { templateFunctions } from '../local/lambda/runtime';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../local/local-aws';
import { LocalStepFunctions } from '../local/step-functions/runner';
import { loadStack, localNames, onlyResource, stateMachineDefinition } from '../local/template';

/** Where to measure: the local system's DynamoDB Local and table, and the cloud assembly it was started from. */
export interface CostTarget {
  readonly dynamoDbEndpoint: string;
  readonly tableName: string;
  readonly cdkOut: string;
  /** The keyring the local system's functions use (local/local-aws.ts). */
  readonly keyring: Keyring;
}

/** Units one path consumed: `table` and one entry per index, as DynamoDB reports them (the table's name aside). */
export type Units = Record<string, number>;

export interface PathUnits {
  readonly path: string;
  /** The HTTP status the handler answered, or the state for the workflow's rows. */
  readonly answer: string;
  /** DynamoDB calls in order, e.g. `PutItem, UpdateItem (refused)`. */
  readonly calls: string;
  readonly read: Units;
  readonly write: Units;
}

/** The rows other code picks (bench/cost.ts prices them). */
export const CostPath = {
  NewTaskUnderLimit: 'new task under a tenant limit',
  Duplicate: 'duplicate of an active task',
  MarkRunning: 'workflow: `MarkRunning`',
  Finish: 'workflow: `MarkCompleted` (finish)',
} as const;

const READS = new Set(['GetItem', 'Query', 'Scan', 'BatchGetItem', 'TransactGetItems']);
const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);
/** The indexes in a fixed column order; an index that is not here still gets a column (after these). */
export const INDEXES = [ACTIVE_BY_AGE_INDEX, BY_TENANT_INDEX] as const;

interface Call {
  readonly name: string;
  readonly refused: boolean;
  readonly read: Units;
  readonly write: Units;
}

/** Sums what the DynamoDB clients it is attached to consume, call by call. */
class CapacityMeter {
  private calls: Call[] = [];

  attach(client: DynamoDBClient): DynamoDBClient {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const name = String(context.commandName).replace(/Command$/, '');
        if (READS.has(name) || WRITES.has(name))
          (args.input as Record<string, unknown>).ReturnConsumedCapacity = 'INDEXES';
        try {
          const result = await next(args);
          const reported = (result.output as { ConsumedCapacity?: ConsumedCapacity | ConsumedCapacity[] })
            .ConsumedCapacity;
          this.record(name, [reported ?? []].flat());
          return result;
        } catch (error) {
          // No ConsumedCapacity on a refused condition: AWS charges the item's write units (1: items under 1 KB).
          if ((error as Error).name === 'ConditionalCheckFailedException' && WRITES.has(name))
            this.calls.push({ name, refused: true, read: {}, write: { table: 1 } });
          // A transaction a condition cancelled: counted by the same rule at the transactional rate (2 per item).
          if ((error as Error).name === 'TransactionCanceledException') {
            const items = ((args.input as { TransactItems?: unknown[] }).TransactItems ?? []).length;
            this.calls.push({ name, refused: true, read: {}, write: { table: 2 * items } });
          }
          throw error;
        }
      },
      { step: 'initialize', name: 'consumedCapacity' },
    );
    return client;
  }

  private record(name: string, reported: ConsumedCapacity[]): void {
    const units: Units = {};
    for (const c of reported) {
      add(units, 'table', c.Table?.CapacityUnits ?? 0);
      for (const [index, u] of Object.entries(c.GlobalSecondaryIndexes ?? {})) add(units, index, u.CapacityUnits ?? 0);
      for (const [index, u] of Object.entries(c.LocalSecondaryIndexes ?? {})) add(units, index, u.CapacityUnits ?? 0);
    }
    const isRead = READS.has(name);
    this.calls.push({ name, refused: false, read: isRead ? units : {}, write: isRead ? {} : units });
  }

  /** The calls since the last take, and forgets them. */
  take(): Call[] {
    const taken = this.calls;
    this.calls = [];
    return taken;
  }
}

function add(units: Units, key: string, n: number): void {
  units[key] = (units[key] ?? 0) + n;
}

function sum(calls: readonly Call[], side: 'read' | 'write'): Units {
  const total: Units = {};
  for (const c of calls) for (const [k, n] of Object.entries(c[side])) add(total, k, n);
  return total;
}

function row(path: string, answer: string | number, calls: readonly Call[]): PathUnits {
  return {
    path,
    answer: String(answer),
    calls: calls.map((c) => (c.refused ? `${c.name} (refused)` : c.name)).join(', ') || 'none',
    read: sum(calls, 'read'),
    write: sum(calls, 'write'),
  };
}

/** The Step Functions client of the handler: StartExecution and StopExecution are recorded, never sent. */
function recordingSfn(starts: { name: string; input: string }[]): SFNClient {
  const sfn = new SFNClient({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  sfn.middlewareStack.add(
    (_next, context) => (args) => {
      const input = args.input as { name?: string; input?: string };
      if (context.commandName === 'StartExecutionCommand') {
        starts.push({ name: String(input.name), input: String(input.input) });
        const output = { $metadata: {}, executionArn: `local:${input.name}`, startDate: new Date() };
        return Promise.resolve({ output, response: {} });
      }
      if (context.commandName === 'StopExecutionCommand')
        return Promise.resolve({ output: { $metadata: {}, stopDate: new Date() }, response: {} });
      return Promise.reject(new Error(`cost-units: ${String(context.commandName)} is not expected`));
    },
    { step: 'initialize', name: 'recordExecutions' },
  );
  return sfn;
}

/**
 * Runs every path once against `target` (fresh tenants, so a shared table is fine) and returns its units. The API
 * paths go through the production handler (createTrackHandler over taskServiceOn); the workflow's rows are the
 * synthesized state machine, run by the local runner on a metered client, with the placeholder analysis answering at
 * once. The state machine in `cdkOut` is the default stack's, synthesized with a tenant limit.
 */
export async function measureCostUnits(target: CostTarget): Promise<PathUnits[]> {
  const meter = new CapacityMeter();
  const client = () =>
    meter.attach(
      new DynamoDBClient({ endpoint: target.dynamoDbEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS }),
    );
  const dynamodb = client();
  const starts: { name: string; input: string }[] = [];
  const sfn = recordingSfn(starts);
  const { template, stackName } = loadStack(target.cdkOut);
  const names = localNames(template, stackName);
  const [smId] = onlyResource(template, 'AWS::StepFunctions::StateMachine');
  const keys = new TaskKeys(target.keyring);
  const handlerWith = (tenantActiveTaskLimit: number) => {
    const { service } = taskServiceOn({
      dynamodb,
      sfn,
      tableName: target.tableName,
      stateMachineArn: names.ref(smId),
      keys,
      config: { ...DEFAULT_TASK_SERVICE_CONFIG, tenantActiveTaskLimit },
      cursorKeys: keys,
    });
    return createTrackHandler(service, SILENT_LOG);
  };
  const noLimit = handlerWith(0);
  // A limit of 2: the tenant's first task creates its counter, the second is a new task under the limit (the
  // counter exists, as in the steady state), the third is refused.
  const limited = handlerWith(2);
  const rows: PathUnits[] = [];
  type Handler = ReturnType<typeof handlerWith>;
  const send = async (handler: Handler, event: APIGatewayProxyEventV2) => {
    const response = await handler(event);
    return { status: response.statusCode, body: JSON.parse(response.body ?? '{}') as Record<string, unknown> };
  };
  const measure = async (path: string, handler: Handler, event: APIGatewayProxyEventV2) => {
    meter.take();
    const answer = await send(handler, event);
    rows.push(row(path, answer.status, meter.take()));
    return answer;
  };
  const post = (tenant: string, video: unknown, idempotencyKey?: string) =>
    toApiGatewayEvent({
      method: 'POST',
      url: Route.Collection,
      headers: {
        'content-type': 'application/json',
        ...(idempotencyKey === undefined ? {} : { 'idempotency-key': `"${idempotencyKey}"` }),
      },
      body: JSON.stringify({ tenant_id: tenant, video_filename: video }),
    });
  const get = (url: string) => toApiGatewayEvent({ method: 'GET', url });
  const del = (url: string) => toApiGatewayEvent({ method: 'DELETE', url });
  const run = randomUUID().slice(0, 8);
  const free = `cost-free-${run}`;
  const limitedTenant = `cost-limited-${run}`;
  const q = (tenant: string) => `tenant_id=${encodeURIComponent(tenant)}`;

  const created = await measure('new task, no tenant limit', noLimit, post(free, 'a.mp4'));
  const freeId = String(created.body.task_id);
  await measure(CostPath.Duplicate, noLimit, post(free, 'a.mp4'));
  await measure('invalid input', noLimit, post(free, ''));
  await measure('`GET` by id, active task', noLimit, get(`${Route.Collection}/${freeId}?${q(free)}`));
  await measure('`GET` by video, active task', noLimit, get(`${Route.Collection}?${q(free)}&video_filename=a.mp4`));
  await measure('cancel (`DELETE`), no tenant limit', noLimit, del(`${Route.Collection}/${freeId}?${q(free)}`));
  const keyed = await measure(
    'new task with an `Idempotency-Key`, no tenant limit',
    noLimit,
    post(free, 'k.mp4', 'k1'),
  );
  // The task ends (cancelled here: the cheapest end), then its retry under the same key is replayed.
  await send(noLimit, del(`${Route.Collection}/${String(keyed.body.task_id)}?${q(free)}`));
  await measure('replay of an `Idempotency-Key` after its task ended', noLimit, post(free, 'k.mp4', 'k1'));

  const first = await send(limited, post(limitedTenant, 'first.mp4'));
  starts.length = 0;
  const second = await measure(CostPath.NewTaskUnderLimit, limited, post(limitedTenant, 'second.mp4'));
  const execution = starts[0];
  if (!execution) throw new Error('cost-units: the new task under a limit started no execution');
  await measure('new task refused by the tenant limit (429)', limited, post(limitedTenant, 'third.mp4'));
  await measure(
    'cancel (`DELETE`) under a tenant limit',
    limited,
    del(`${Route.Collection}/${String(first.body.task_id)}?${q(limitedTenant)}`),
  );

  // The workflow of the second task: the synthesized definition, its DynamoDB states on a metered client.
  const runnerClient = client();
  const analyseNow = (event: unknown) => analyse(event as AnalyseInput, { delayMs: 0 });
  const runner = new LocalStepFunctions({
    definition: stateMachineDefinition(template, names),
    stateMachineArn: names.ref(smId),
    dynamodb: runnerClient,
    lambdas: Object.fromEntries(templateFunctions(template, target.cdkOut, names).map((fn) => [fn.arn, analyseNow])),
  });
  meter.take();
  const ended = runner.startExecution(execution.name, execution.input);
  await runner.idle();
  runnerClient.destroy();
  if (ended.status !== 'SUCCEEDED') throw new Error(`cost-units: the workflow ended ${ended.status}`);
  const states = meter.take();
  rows.push(
    row(
      'workflow: `MarkRunning`',
      'state',
      states.filter((c) => c.name === 'UpdateItem'),
    ),
    row(
      'workflow: `MarkCompleted` (finish)',
      'state',
      states.filter((c) => c.name !== 'UpdateItem'),
    ),
  );

  const secondId = String(second.body.task_id);
  await measure('`GET` by id, finished task', limited, get(`${Route.Collection}/${secondId}?${q(limitedTenant)}`));
  await measure('listing, one page of 2 finished tasks', limited, get(`${Route.Collection}?${q(limitedTenant)}`));
  dynamodb.destroy();
  sfn.destroy();
  return rows;
}

/** The row of `path`; throws when the measurement has none. */
export function pathUnits(rows: readonly PathUnits[], path: string): PathUnits {
  const found = rows.find((r) => r.path === path);
  if (!found) throw new Error(`cost-units: no row "${path}"`);
  return found;
}

/** All units of one side, table and indexes. */
export function totalUnits(units: Units): number {
  return Object.values(units).reduce((s, n) => s + n, 0);
}

const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1));

/** The index columns: the known ones in order, then any other index a row names. */
function indexColumns(rows: readonly PathUnits[]): string[] {
  const others = rows.flatMap((r) => [...Object.keys(r.read), ...Object.keys(r.write)]);
  return [...new Set<string>([...INDEXES, ...others])].filter((k) => k !== 'table');
}

/** Markdown: one row per path, read and write units for the table and each index. */
export function costUnitsTable(rows: readonly PathUnits[]): string {
  const indexes = indexColumns(rows);
  const total = totalUnits;
  const lines = [
    `| path | answer | DynamoDB calls | RRU table | RRU indexes | WRU table | ${indexes.map((i) => `WRU \`${i}\``).join(' | ')} | WRU total |`,
    `|---|---|---|---:|---:|---:|${indexes.map(() => '---:').join('|')}|---:|`,
    ...rows.map((r) => {
      const readIndexes = total(r.read) - (r.read.table ?? 0);
      return `| ${r.path} | ${r.answer} | ${r.calls} | ${fmt(r.read.table ?? 0)} | ${fmt(readIndexes)} | ${fmt(r.write.table ?? 0)} | ${indexes.map((i) => fmt(r.write[i] ?? 0)).join(' | ')} | ${fmt(total(r.write))} |`;
    }),
  ];
  return lines.join('\n');
}

export const COST_TABLE_START = '<!-- cost-table:start (generated by `npm run bench:cost-table`; do not edit) -->';
export const COST_TABLE_END = '<!-- cost-table:end -->';

/** The table between the markers in `doc`; throws when the markers are missing. */
export function tableInDoc(doc: string): string {
  const start = doc.indexOf(COST_TABLE_START);
  const end = doc.indexOf(COST_TABLE_END);
  if (start < 0 || end < start) throw new Error(`the cost-table markers are missing: ${COST_TABLE_START}`);
  return doc.slice(start + COST_TABLE_START.length, end).trim();
}

/** `doc` with the table between the markers replaced. */
export function withTable(doc: string, table: string): string {
  const current = tableInDoc(doc);
  const start = doc.indexOf(COST_TABLE_START) + COST_TABLE_START.length;
  const end = doc.indexOf(COST_TABLE_END);
  return current === table ? doc : `${doc.slice(0, start)}\n${table}\n${doc.slice(end)}`;
}
