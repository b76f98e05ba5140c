/**
 * `npm run check:deploy`: a deploy-shaped run against moto (moto_server, Python), the only offline emulator of
 * CloudFormation. Per variant: cdk bootstrap (once), cdk deploy, a second deploy that must change nothing, a clean
 * cdk diff, the token command against moto's Cognito, cdk destroy, then what is left. Then, shorter, the stack on a
 * table created beforehand (`-c tableName=…`): one deploy, no table resource, the functions name it, destroy leaves
 * it. Without moto_server it says how to get it and exits 0. What it cannot prove (quotas, IAM, API Gateway, alarms): docs/DEPLOY.md.
 */
import {
  CognitoIdentityProviderClient,
  CreateUserPoolClientCommand,
  CreateUserPoolCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { CloudFormationClient, ListStackResourcesCommand } from '@aws-sdk/client-cloudformation';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { freePort } from '../local/free-port';
import { ROOT, synthVariant, VARIANTS } from './synth-variants';
import { ACTIVE_BY_AGE_INDEX, Attr, BY_TENANT_INDEX } from '../lambda/shared/table';

/** Resource types moto's CloudFormation skips (measured with moto 5.2); a copy of the assembly leaves them out. */
const UNSUPPORTED = new Set([
  'AWS::ApiGatewayV2::Api',
  'AWS::ApiGatewayV2::Route',
  'AWS::ApiGatewayV2::Authorizer',
  'AWS::ApiGatewayV2::Stage',
  'AWS::ApiGatewayV2::Integration',
  'AWS::CloudWatch::Alarm',
  'AWS::Cognito::UserPool',
  'AWS::Cognito::UserPoolClient',
  'AWS::Logs::QueryDefinition',
  'AWS::SQS::QueuePolicy',
  'AWS::SNS::TopicPolicy',
  'AWS::Lambda::EventInvokeConfig',
  'AWS::SNS::Subscription',
]);

/** The variants deployed: the default (retain) and the one that destroys its data, for the residue check. */
const DEPLOYED = [
  { name: 'default', stackName: 'CheckRetain', context: VARIANTS.default, removal: 'retain' },
  { name: 'features', stackName: 'CheckDestroy', context: VARIANTS.features, removal: 'destroy' },
] as const;

/** The stack run on a table created beforehand, as after a restore (docs/OPERATIONS.md, Restore). */
const EXISTING = { name: 'existingTable', stackName: 'CheckExisting', context: VARIANTS.existingTable } as const;

/** The sections of a synthesized template this check rewrites; the others are copied as they are. */
interface DeployTemplate {
  Resources: Record<string, DeployResource>;
  Outputs?: Record<string, unknown>;
  [section: string]: unknown;
}

interface DeployResource {
  Type: string;
  Properties?: Record<string, unknown>;
  DependsOn?: string | string[];
  [attribute: string]: unknown;
}

type Literals = Record<string, { ref: string; arn?: string }>;

interface Pool {
  readonly userPoolId: string;
  readonly userPoolArn: string;
  readonly clientId: string;
}

/** Every logical id a value refers to (Ref, Fn::GetAtt, ${X} / ${X.Attr} in Fn::Sub). */
function referencesOf(value: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const v of value as unknown[]) referencesOf(v, into);
  else if (isObject(value)) {
    for (const [key, v] of Object.entries(value)) {
      if (key === 'Ref' && typeof v === 'string') into.add(v);
      else if (key === 'Fn::GetAtt') into.add(String(Array.isArray(v) ? v[0] : v).replace(/\..*$/, ''));
      else if (key === 'Fn::Sub') {
        const [text, variables] = Array.isArray(v) ? (v as unknown[]) : [v];
        for (const [, id] of String(text).matchAll(/\$\{([^}!.]+)[^}]*\}/g)) if (id) into.add(id);
        referencesOf(variables, into);
      } else referencesOf(v, into);
    }
  }
  return into;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Replaces references to the Cognito resources by the pool created through moto's API. */
function substitute(value: unknown, literals: Literals): unknown {
  if (Array.isArray(value)) return (value as unknown[]).map((v) => substitute(v, literals));
  if (!isObject(value)) return value;
  const ref = typeof value.Ref === 'string' ? literals[value.Ref] : undefined;
  if (ref) return ref.ref;
  const getAtt = value['Fn::GetAtt'];
  if (Array.isArray(getAtt) && getAtt[1] === 'Arn') {
    const arn = literals[String(getAtt[0])]?.arn;
    if (arn) return arn;
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, literals)]));
}

/**
 * The template moto can deploy: the Cognito pool and client replaced by `pool`, the other unsupported types left
 * out with everything that refers to them (the dashboard names the alarms), their outputs too.
 */
function motoTemplate(template: DeployTemplate, pool?: Pool): { template: DeployTemplate; removed: string[] } {
  const resources = template.Resources;
  const literals: Literals = {};
  for (const [id, r] of Object.entries(resources)) {
    if (r.Type === 'AWS::Cognito::UserPool' && pool) literals[id] = { ref: pool.userPoolId, arn: pool.userPoolArn };
    if (r.Type === 'AWS::Cognito::UserPoolClient' && pool) literals[id] = { ref: pool.clientId };
  }
  const removed = new Set(
    Object.entries(resources)
      .filter(([, r]) => UNSUPPORTED.has(r.Type))
      .map(([id]) => id),
  );
  for (let grew = true; grew;) {
    grew = false;
    for (const [id, r] of Object.entries(resources)) {
      if (removed.has(id)) continue;
      const refs = referencesOf(substitute(r.Properties ?? {}, literals));
      if ([...refs].some((ref) => removed.has(ref) && !literals[ref])) {
        removed.add(id);
        grew = true;
      }
    }
  }
  const kept: Record<string, DeployResource> = {};
  for (const [id, r] of Object.entries(resources)) {
    if (removed.has(id)) continue;
    // Substitution replaces references by literals and keeps every other member: still a resource.
    const copy = substitute(r, literals) as DeployResource;
    if (copy.DependsOn) {
      const deps = [copy.DependsOn].flat().filter((d) => !removed.has(d));
      if (deps.length) copy.DependsOn = deps;
      else delete copy.DependsOn;
    }
    kept[id] = copy;
  }
  const outputs = Object.fromEntries(
    Object.entries(template.Outputs ?? {})
      .map(([id, o]) => [id, substitute(o, literals)] as const)
      .filter(([, o]) => ![...referencesOf(o)].some((ref) => removed.has(ref) && !literals[ref])),
  );
  return {
    template: { ...template, Resources: kept, Outputs: outputs },
    removed: [...removed].filter((id) => !literals[id]).sort(),
  };
}

interface Step {
  readonly status: number;
  readonly output: string;
}

function cdk(args: string[], env: NodeJS.ProcessEnv): Step {
  const run = spawnSync(path.join(ROOT, 'node_modules/.bin/cdk'), args, {
    cwd: ROOT,
    env,
    encoding: 'utf8',
    timeout: 180_000,
  });
  return { status: run.status ?? 1, output: `${run.stdout ?? ''}${run.stderr ?? ''}` };
}

function tokenCommand(args: string[], env: NodeJS.ProcessEnv): Step {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'tools/token.ts', ...args], {
    cwd: ROOT,
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: run.status ?? 1, output: `${run.stdout ?? ''}${run.stderr ?? ''}`.trim() };
}

function expectStep(what: string, step: Step, ok: (s: Step) => boolean): void {
  if (!ok(step)) throw new Error(`${what} failed (exit ${step.status}):\n${step.output.slice(-3000)}`);
  console.log(`  ok: ${what}`);
}

async function waitForMoto(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${url}/moto-api/`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`moto_server did not answer on ${url} within 10 s.`);
}

async function createPool(endpoint: string, stackName: string): Promise<Pool> {
  const cognito = new CognitoIdentityProviderClient({ endpoint });
  const { UserPool } = await cognito.send(
    new CreateUserPoolCommand({
      PoolName: `${stackName}-users`,
      Schema: [{ Name: 'tenant_id', AttributeDataType: 'String', Mutable: false }],
    }),
  );
  const { UserPoolClient } = await cognito.send(
    new CreateUserPoolClientCommand({
      UserPoolId: UserPool!.Id!,
      ClientName: 'frontend',
      ExplicitAuthFlows: ['ALLOW_ADMIN_USER_PASSWORD_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'],
    }),
  );
  return { userPoolId: UserPool!.Id!, userPoolArn: UserPool!.Arn!, clientId: UserPoolClient!.ClientId! };
}

function payloadOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

async function checkVariant(
  variant: (typeof DEPLOYED)[number],
  work: string,
  env: NodeJS.ProcessEnv,
  endpoint: string,
): Promise<void> {
  const started = Date.now();
  console.log(`${variant.name} (${variant.stackName}, removalPolicy=${variant.removal}):`);
  const synthesized = path.join(work, variant.name);
  const templateFile = synthVariant({ ...variant.context, stackName: variant.stackName }, synthesized, {
    bundle: true,
  });
  if (variant === DEPLOYED[0]) {
    expectStep(
      'cdk bootstrap',
      cdk(['bootstrap', 'aws://123456789012/us-east-1', '--app', synthesized], env),
      (s) => s.status === 0,
    );
  }
  const copy = await motoAssembly(variant, synthesized, templateFile, endpoint);

  const app = ['--app', copy, '--require-approval', 'never'];
  expectStep('cdk deploy --method=direct', cdk(['deploy', ...app, '--method=direct'], env), (s) => s.status === 0);
  expectStep(
    'second cdk deploy changes nothing',
    cdk(['deploy', ...app, '--method=direct'], env),
    (s) => s.status === 0 && /no changes/.test(s.output),
  );
  expectStep(
    'cdk diff is clean',
    cdk(['diff', '--app', copy, '--fail', '--no-change-set'], env),
    (s) => s.status === 0 && /There were no differences/.test(s.output),
  );

  const args = ['--stack', variant.stackName, '--tenant', 'tenant1', '--user', 'alice@example.com'];
  const first = tokenCommand(args, env);
  expectStep(
    'token command creates the user and prints its ID token',
    first,
    (s) => s.status === 0 && payloadOf(s.output.split('\n').at(-1) ?? '')['custom:tenant_id'] === 'tenant1',
  );
  expectStep(
    "token command leaves an existing user's password alone",
    tokenCommand(args, env),
    (s) => s.status === 1 && /its password is left alone/.test(s.output),
  );
  expectStep(
    'token command --reset-password signs the existing user in again',
    tokenCommand([...args, '--reset-password'], env),
    (s) => s.status === 0,
  );
  expectStep(
    'token command on an unknown stack: one line, exit 1',
    tokenCommand(['--stack', 'NoSuchStack', ...args.slice(2)], env),
    (s) => s.status === 1 && s.output.split('\n').length === 1 && /does not exist/.test(s.output),
  );

  expectStep('cdk destroy', cdk(['destroy', '--app', copy, '--force'], env), (s) => s.status === 0);
  const residue = await residueOf(variant.stackName, endpoint);
  console.log(`  left after destroy: ${residue.length ? residue.join(', ') : 'nothing'}`);
  const table = residue.some((r) => r.startsWith('table '));
  if (variant.removal === 'retain' && !table)
    throw new Error(
      'removalPolicy=retain: the task table (like the log groups, dead-letter queue and user pool) should outlive cdk destroy.',
    );
  if (variant.removal === 'destroy' && residue.length)
    throw new Error(`removalPolicy=destroy: cdk destroy left ${residue.join(', ')}.`);
  console.log(`  ${variant.name}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** A copy of the synthesized assembly that moto can deploy (motoTemplate), against a pool created in moto. */
async function motoAssembly(
  variant: { readonly name: string; readonly stackName: string },
  synthesized: string,
  templateFile: string,
  endpoint: string,
): Promise<string> {
  const pool = await createPool(endpoint, variant.stackName);
  const copy = path.join(synthesized + '.moto');
  cpSync(synthesized, copy, { recursive: true });
  const original = JSON.parse(readFileSync(templateFile, 'utf8')) as DeployTemplate;
  const { template, removed } = motoTemplate(original, pool);
  writeFileSync(path.join(copy, path.basename(templateFile)), JSON.stringify(template, null, 1));
  console.log(
    `  left out for moto: ${removed.length} resources (${[...new Set(removed.map((id) => original.Resources[id]?.Type))].join(', ')})`,
  );
  return copy;
}

/** The table a restore would leave: the stack's key schema and both indexes, created through moto's API. */
async function createExistingTable(tableName: string, endpoint: string): Promise<void> {
  const ddb = new DynamoDBClient({ endpoint });
  const projection = { ProjectionType: 'ALL' as const };
  await ddb.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: Attr.pk, AttributeType: 'S' },
        { AttributeName: Attr.sweepShard, AttributeType: 'N' },
        { AttributeName: Attr.createdAt, AttributeType: 'S' },
        { AttributeName: Attr.tenantId, AttributeType: 'S' },
      ],
      KeySchema: [{ AttributeName: Attr.pk, KeyType: 'HASH' }],
      GlobalSecondaryIndexes: [
        {
          IndexName: ACTIVE_BY_AGE_INDEX,
          KeySchema: [
            { AttributeName: Attr.sweepShard, KeyType: 'HASH' },
            { AttributeName: Attr.createdAt, KeyType: 'RANGE' },
          ],
          Projection: projection,
        },
        {
          IndexName: BY_TENANT_INDEX,
          KeySchema: [
            { AttributeName: Attr.tenantId, KeyType: 'HASH' },
            { AttributeName: Attr.createdAt, KeyType: 'RANGE' },
          ],
          Projection: projection,
        },
      ],
    }),
  );
  await waitUntilTableExists({ client: ddb, maxWaitTime: 30 }, { TableName: tableName });
}

/** TABLE_NAME of a deployed function, through Lambda's REST API (moto checks no signature; no SDK client for one call). */
async function functionTableName(functionName: string, endpoint: string): Promise<string | undefined> {
  const res = await fetch(`${endpoint}/2015-03-31/functions/${encodeURIComponent(functionName)}/configuration`, {
    headers: { authorization: 'AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/lambda/aws4_request' },
  });
  const config = (await res.json()) as { Environment?: { Variables?: Record<string, string> } };
  return config.Environment?.Variables?.TABLE_NAME;
}

/**
 * The stack on a table created beforehand: one deploy (the full variants prove redeploy, diff and token already),
 * no table among the stack's resources, every function that has TABLE_NAME names it, and destroy leaves it.
 */
async function checkExistingTable(work: string, env: NodeJS.ProcessEnv, endpoint: string): Promise<void> {
  const started = Date.now();
  const tableName = EXISTING.context?.tableName ?? '';
  console.log(`${EXISTING.name} (${EXISTING.stackName}, tableName=${tableName}):`);
  await createExistingTable(tableName, endpoint);
  console.log(`  ok: created ${tableName} with the stack's key schema and indexes`);
  const synthesized = path.join(work, EXISTING.name);
  const templateFile = synthVariant({ ...EXISTING.context, stackName: EXISTING.stackName }, synthesized, {
    bundle: true,
  });
  const copy = await motoAssembly(EXISTING, synthesized, templateFile, endpoint);
  expectStep(
    'cdk deploy --method=direct',
    cdk(['deploy', '--app', copy, '--require-approval', 'never', '--method=direct'], env),
    (s) => s.status === 0,
  );
  const cfn = new CloudFormationClient({ endpoint });
  const { StackResourceSummaries: resources = [] } = await cfn.send(
    new ListStackResourcesCommand({ StackName: EXISTING.stackName }),
  );
  const tables = resources.filter((r) => r.ResourceType?.startsWith('AWS::DynamoDB::'));
  if (tables.length) throw new Error(`the stack owns ${tables.map((r) => r.LogicalResourceId).join(', ')}.`);
  console.log(`  ok: no table among the stack's ${resources.length} resources`);
  const functions = resources.filter((r) => r.ResourceType === 'AWS::Lambda::Function');
  const names = await Promise.all(functions.map((f) => functionTableName(f.PhysicalResourceId ?? '', endpoint)));
  const named = names.filter((n) => n !== undefined);
  if (named.length < 3 || named.some((n) => n !== tableName))
    throw new Error(`functions' TABLE_NAME: ${JSON.stringify(names)}, expected ${tableName} on at least 3.`);
  console.log(`  ok: ${named.length} functions name ${tableName} in TABLE_NAME`);
  expectStep('cdk destroy', cdk(['destroy', '--app', copy, '--force'], env), (s) => s.status === 0);
  await new DynamoDBClient({ endpoint }).send(new DescribeTableCommand({ TableName: tableName }));
  console.log(`  ok: ${tableName} outlives cdk destroy`);
  console.log(`  ${EXISTING.name}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** The stack's tables and log groups that outlived it (their physical names start with or contain the stack name). */
async function residueOf(stackName: string, endpoint: string): Promise<string[]> {
  const { TableNames = [] } = await new DynamoDBClient({ endpoint }).send(new ListTablesCommand({}));
  // CloudWatch Logs' JSON protocol directly: one call, not worth another SDK client (moto checks no signature).
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'Logs_20140328.DescribeLogGroups',
      authorization: 'AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/logs/aws4_request',
    },
    body: '{}',
  });
  const { logGroups = [] } = (await res.json()) as { logGroups?: { logGroupName: string }[] };
  return [
    ...TableNames.filter((t) => t.startsWith(stackName)).map((t) => `table ${t}`),
    ...logGroups
      .map((g) => g.logGroupName)
      .filter((g) => g.includes(stackName))
      .map((g) => `log group ${g}`),
  ];
}

async function main(): Promise<number> {
  const probe = spawnSync('moto_server', ['--help'], { encoding: 'utf8' });
  if (probe.error) {
    console.log('check:deploy skipped: moto_server is not installed (pip install "moto[server]", then run it again).');
    return 0;
  }
  const port = await freePort();
  // moto's CloudFormation reads templates from its S3 only through an endpoint whose host contains "localhost".
  const endpoint = `http://localhost:${port}`;
  const moto = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  const work = mkdtempSync(path.join(tmpdir(), 'check-deploy-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AWS_ENDPOINT_URL: endpoint,
    AWS_ENDPOINT_URL_S3_FOR_CLOUDFORMATION: endpoint,
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_PROFILE: '',
    CDK_DISABLE_VERSION_CHECK: 'true',
  };
  // This process's own SDK clients (the pool, the residue check) talk to moto with the same fake credentials.
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_REGION: 'us-east-1',
  });
  try {
    await waitForMoto(endpoint);
    for (const variant of DEPLOYED) await checkVariant(variant, work, env, endpoint);
    await checkExistingTable(work, env, endpoint);
    console.log('check:deploy: passed against moto (it cannot prove quotas, IAM or API Gateway: docs/DEPLOY.md)');
    return 0;
  } catch (error) {
    console.error(`check:deploy: ${(error as Error).message}`);
    return 1;
  } finally {
    moto.kill();
    rmSync(work, { recursive: true, force: true });
  }
}

void main().then((code) => {
  process.exitCode = code;
});
