/**
 * `npm run bench:cpu`: what the API function adds to a duplicate's one PutItem, in CPU time, without a network or
 * DynamoDB Local in the way. The API bundle (as the stack bundles it) and a bare conditional PutItem send through SDK
 * clients whose HTTP handler answers at once with the same ConditionalCheckFailedException and its ALL_OLD item, so
 * all that is timed is this process's work: the SDK's for both, the handler's own on top. Alternated blocks,
 * medians of CPU time per request (`process.cpuUsage()`). The function's configuration is the ratio bench's (the local
 * system's: warnings and errors logged, metrics off); in Lambda each request's log line and EMF line add to it.
 */
import { ConditionalCheckFailedException, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { Readable } from 'node:stream';
import { AuthMode } from '../lambda/shared/auth-modes';
import { TASK_ID_KEYRING_ENV } from '../lambda/shared/deployment-names';
import { LOCAL_KEYRING, LOCAL_KEYRING_JSON } from '../local/local-aws';
import { TaskKeys } from '../lambda/shared/task-keys';
import { requireBundled } from './bundle';
import { postEvent } from './events';
import { median } from './stats';

const BLOCKS = Number(process.env.BLOCKS ?? 15);
const PER_BLOCK = 2000;
const TENANT = 'bench-cpu';
const VIDEO = 'settled.mp4';

const ENV = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  AUTH_MODE: AuthMode.None,
  TABLE_NAME: 'Tasks',
  STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:000000000000:stateMachine:bench',
  [TASK_ID_KEYRING_ENV]: LOCAL_KEYRING_JSON,
  POWERTOOLS_LOG_LEVEL: 'WARN',
  POWERTOOLS_METRICS_DISABLED: 'true',
  // Never reached: every request is answered by the handler below.
  AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:9',
  AWS_ENDPOINT_URL_SFN: 'http://127.0.0.1:9',
};

/** The settled task's active item, as DynamoDB returns it in ALL_OLD. */
function winnerItem() {
  const keys = new TaskKeys(LOCAL_KEYRING);
  const at = new Date().toISOString();
  const s = (v: string) => ({ S: v });
  const n = (v: number) => ({ N: String(v) });
  return {
    pk: s(keys.activeKey(TENANT, VIDEO)),
    item_type: s('active'),
    task_id: s(keys.newTaskId(TENANT, VIDEO)),
    tenant_id: s(TENANT),
    video_filename: s(VIDEO),
    created_at: s(at),
    status: s('running'),
    updated_at: s(at),
    started_at: s(at),
    lease_expires_at: n(2_000_000_000),
    retain_until: n(2_100_000_000),
    sweep_shard: n(3),
  };
}

/** An HTTP handler that answers every request with a refused conditional write holding `item`. */
function refusingHandler(item: object) {
  const body = Buffer.from(
    JSON.stringify({
      __type: 'com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException',
      message: 'The conditional request failed',
      Item: item,
    }),
  );
  return {
    handle: () =>
      Promise.resolve({
        response: {
          statusCode: 400,
          reason: 'Bad Request',
          headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'bench' },
          body: Readable.from([body]),
        },
      }),
  };
}

async function cpuPerRequest(fn: () => Promise<void>): Promise<number> {
  const start = process.cpuUsage();
  for (let i = 0; i < PER_BLOCK; i++) await fn();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / PER_BLOCK;
}

async function main() {
  Object.assign(process.env, ENV);
  const { buildTrackHandler } = await requireBundled<typeof import('../lambda/track/index')>('lambda/track/index.ts');
  const item = winnerItem();
  const answer = refusingHandler(item);
  const handle = buildTrackHandler(process.env, {
    wrapClient: (client) => {
      (client.config as { requestHandler: unknown }).requestHandler = answer;
      return client;
    },
  });
  const floor = new DynamoDBClient({ requestHandler: answer });
  const event = postEvent({ tenant_id: TENANT, video_filename: VIDEO });
  const duplicate = async () => {
    const res = (await handle(event)) as APIGatewayProxyStructuredResultV2;
    if (res.statusCode !== 200 || (JSON.parse(String(res.body)) as { task_id?: string }).task_id !== item.task_id.S)
      throw new Error(`bench: expected the winner, got ${res.statusCode} ${res.body}`);
  };
  const bare = async () => {
    const refused = await floor
      .send(
        new PutItemCommand({
          TableName: ENV.TABLE_NAME,
          Item: item,
          ConditionExpression: 'attribute_not_exists(pk)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      )
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    if (!(refused instanceof ConditionalCheckFailedException) || !refused.Item)
      throw new Error(`bench: expected a refused put, got ${String(refused)}`);
  };
  // Warm-up: JIT for both paths.
  await cpuPerRequest(bare);
  await cpuPerRequest(duplicate);
  const floorUs: number[] = [];
  const duplicateUs: number[] = [];
  for (let b = 0; b < BLOCKS; b++) {
    floorUs.push(await cpuPerRequest(bare));
    duplicateUs.push(await cpuPerRequest(duplicate));
  }
  const f = median(floorUs);
  const d = median(duplicateUs);
  console.log(
    `CPU time per request, no network (node ${process.version}, ${BLOCKS} alternated blocks of ${PER_BLOCK}, medians):\n`,
  );
  console.log('| bare refused PutItem (SDK) | settled duplicate (API bundle) | the handler adds | bare / duplicate |');
  console.log('|---:|---:|---:|---:|');
  console.log(`| ${f.toFixed(1)} µs | ${d.toFixed(1)} µs | ${(d - f).toFixed(1)} µs | ${(f / d).toFixed(3)}× |`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
