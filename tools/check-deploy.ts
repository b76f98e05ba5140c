/**
 * `npm run check:deploy`: a deploy-shaped run against moto (moto_server, Python), the only offline emulator of
 * CloudFormation. Per variant: cdk bootstrap (once), cdk deploy, a second deploy that must change nothing, a clean
 * cdk diff, the functions' task-id secret, the token command against moto's Cognito, cdk destroy, then what is left.
 * Then, shorter, the stack on a table and a keyring created beforehand (`-c tableName=… -c taskIdSecret=…`, a
 * restore into a new stack): one deploy, no table or secret resource, the functions name both, destroy leaves them.
 * Without moto_server it says how to get it and exits 0. What it cannot prove (quotas, IAM, API Gateway, alarms):
 * docs/DEPLOY.md.
 */
import {
  CognitoIdentityProviderClient,
  CreateUserPoolClientCommand,
  CreateUserPoolCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { CloudFormationClient, DescribeStacksCommand, ListStackResourcesCommand } from '@aws-sdk/client-cloudformation';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { freePort } from '../local/free-port';
import { ROOT, synthVariant, VARIANTS } from './synth-variants';
import { ACTIVE_BY_AGE_INDEX, Attr, BY_TENANT_INDEX } from '../lambda/shared/table';
import { TASK_ID_SECRET_ARN_ENV } from '../lambda/shared/deployment-names';
import { FIRST_KEY_VERSION, formatKeyring, parseKeyring } from '../lambda/shared/keyring';

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
  'AWS::SecretsManager::Secret',
]);

/** The functions that read the task-id keyring: the API handler, the finalizer and the sweeper (not Analyse). */
const KEYRING_READERS = 3;

/** The variants deployed: the default (retain) and the one that destroys its data, for the residue check. */
const DEPLOYED = [
  { name: 'default', stackName: 'CheckRetain', context: VARIANTS.default, removal: 'retain' },
  { name: 'features', stackName: 'CheckDestroy', context: VARIANTS.features, removal: 'destroy' },
] as const;

/** The stack on a table and a keyring created beforehand: a restore into a new stack (docs/OPERATIONS.md, Restore). */
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

/** What moto deploys in place of the resources its CloudFormation skips, created through its APIs. */
interface StandIns {
  readonly pool: Pool;
  /** The ARN of the task-id secret, when the stack has one. */
  readonly keyringArn?: string;
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

/** Replaces references to the Cognito resources and the secret by their stand-ins created through moto's APIs. */
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
 * The template moto can deploy: the Cognito pool and client and the task-id secret replaced by their stand-ins, the
 * other unsupported types left out with everything that refers to them (the dashboard names the alarms), their
 * outputs too.
 */
function motoTemplate(template: DeployTemplate, standIns?: StandIns): { template: DeployTemplate; removed: string[] } {
  const resources = template.Resources;
  const literals: Literals = {};
  const { pool, keyringArn } = standIns ?? {};
  for (const [id, r] of Object.entries(resources)) {
    if (r.Type === 'AWS::Cognito::UserPool' && pool) literals[id] = { ref: pool.userPoolId, arn: pool.userPoolArn };
    if (r.Type === 'AWS::Cognito::UserPoolClient' && pool) literals[id] = { ref: pool.clientId };
    // Ref of a secret is its ARN.
    if (r.Type === 'AWS::SecretsManager::Secret' && keyringArn) literals[id] = { ref: keyringArn };
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
  const { copy, original, keyringArn } = await motoAssembly(variant, synthesized, templateFile, endpoint);

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
  if (!keyringArn) throw new Error('the stack has no task-id secret.');
  await checkKeyringReaders(
    variant.stackName,
    keyringArn,
    await functionEnvironments(variant.stackName, endpoint),
    endpoint,
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
  reportKeyringRemoval(original, variant.removal);
  console.log(`  ${variant.name}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/**
 * What becomes of the task-id secret on AWS, from the template: moto's CloudFormation skips the type, and the stand-in
 * was created through its API, so what moto leaves says nothing about it.
 */
function reportKeyringRemoval(template: DeployTemplate, removal: 'retain' | 'destroy'): void {
  const [secret] = Object.values(template.Resources).filter((r) => r.Type === 'AWS::SecretsManager::Secret');
  const expected = removal === 'retain' ? 'Retain' : 'Delete';
  if (secret?.DeletionPolicy !== expected || secret.UpdateReplacePolicy !== expected)
    throw new Error(
      `removalPolicy=${removal}: the task-id secret's DeletionPolicy and UpdateReplacePolicy should be ${expected}, got ${String(secret?.DeletionPolicy)} and ${String(secret?.UpdateReplacePolicy)}.`,
    );
  console.log(
    `  task-id secret: not deployed by moto (stand-in made through its API); the template's DeletionPolicy is ${expected}, so on AWS ${removal === 'retain' ? 'it outlives cdk destroy (docs/OPERATIONS.md, Teardown)' : 'cdk destroy deletes it'}`,
  );
}

/** The stack UUID as the template computes it from the stack id (the keyring's salt). */
const STACK_UUID = { 'Fn::Select': [2, { 'Fn::Split': ['/', { Ref: 'AWS::StackId' }] }] };

/** A SecretStringTemplate (literal, or an Fn::Join of literals and STACK_UUID) with `uuid` for the stack's UUID. */
function withStackUuid(template: unknown, uuid: string): string {
  if (typeof template === 'string') return template;
  const join = isObject(template) ? template['Fn::Join'] : undefined;
  const parts = Array.isArray(join) && join[0] === '' && Array.isArray(join[1]) ? (join[1] as unknown[]) : undefined;
  if (!parts) throw new Error(`unexpected SecretStringTemplate ${JSON.stringify(template)}`);
  return parts
    .map((part) => {
      if (typeof part === 'string') return part;
      if (JSON.stringify(part) === JSON.stringify(STACK_UUID)) return uuid;
      throw new Error(`unexpected part of the SecretStringTemplate: ${JSON.stringify(part)}`);
    })
    .join('');
}

/** Creates a keyring secret in moto, after checking that the functions' own parser accepts it; returns its ARN. */
async function createKeyring(name: string, secretString: string, endpoint: string): Promise<string> {
  parseKeyring(secretString);
  const { ARN } = await new SecretsManagerClient({ endpoint }).send(
    new CreateSecretCommand({ Name: name, SecretString: secretString }),
  );
  if (!ARN) throw new Error(`CreateSecret ${name} returned no ARN.`);
  return ARN;
}

/**
 * The stand-in for the stack's task-id secret, made as CloudFormation would make it from the template's
 * GenerateSecretString: its template, with a random UUID for the stack's (unknown before the deploy), and its key
 * from GetRandomPassword with its rules. Undefined when the stack has no secret of its own.
 */
async function createGeneratedKeyring(
  template: DeployTemplate,
  stackName: string,
  endpoint: string,
): Promise<string | undefined> {
  const secrets = Object.values(template.Resources).filter((r) => r.Type === 'AWS::SecretsManager::Secret');
  if (secrets.length === 0) return undefined;
  const generator = secrets[0]?.Properties?.GenerateSecretString as Record<string, unknown> | undefined;
  if (secrets.length > 1 || !generator) throw new Error('expected one task-id secret with a GenerateSecretString.');
  const { RandomPassword } = await new SecretsManagerClient({ endpoint }).send(
    new GetRandomPasswordCommand({
      PasswordLength: generator.PasswordLength as number,
      ExcludePunctuation: generator.ExcludePunctuation as boolean,
      IncludeSpace: generator.IncludeSpace as boolean,
    }),
  );
  const fields = JSON.parse(withStackUuid(generator.SecretStringTemplate, randomUUID())) as Record<string, string>;
  const secretString = JSON.stringify({ ...fields, [String(generator.GenerateStringKey)]: RandomPassword });
  const arn = await createKeyring(`${stackName}-task-ids`, secretString, endpoint);
  console.log(
    `  ok: the secret's generator makes a keyring the functions accept (its stand-in made through moto's API)`,
  );
  return arn;
}

/** A deployed function's environment, through Lambda's REST API (moto checks no signature; no client for one call). */
async function functionEnvironment(functionName: string, endpoint: string): Promise<Record<string, string>> {
  const res = await fetch(`${endpoint}/2015-03-31/functions/${encodeURIComponent(functionName)}/configuration`, {
    headers: { authorization: 'AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/lambda/aws4_request' },
  });
  const config = (await res.json()) as { Environment?: { Variables?: Record<string, string> } };
  return config.Environment?.Variables ?? {};
}

/** The environments of the stack's deployed functions. */
async function functionEnvironments(stackName: string, endpoint: string): Promise<Record<string, string>[]> {
  const { StackResourceSummaries: resources = [] } = await new CloudFormationClient({ endpoint }).send(
    new ListStackResourcesCommand({ StackName: stackName }),
  );
  const functions = resources.filter((r) => r.ResourceType === 'AWS::Lambda::Function');
  return Promise.all(functions.map((f) => functionEnvironment(f.PhysicalResourceId ?? '', endpoint)));
}

/**
 * The API handler, the finalizer and the sweeper, only they, name `arn` in TASK_ID_SECRET_ARN (of `environments`, the
 * stack's functions'); so does the output.
 */
async function checkKeyringReaders(
  stackName: string,
  arn: string,
  environments: Record<string, string>[],
  endpoint: string,
): Promise<void> {
  const named = environments
    .map((variables) => variables[TASK_ID_SECRET_ARN_ENV])
    .filter((value) => value !== undefined);
  if (named.length !== KEYRING_READERS || named.some((value) => value !== arn))
    throw new Error(
      `functions' ${TASK_ID_SECRET_ARN_ENV}: ${JSON.stringify(named)}, expected ${arn} on ${KEYRING_READERS}.`,
    );
  const { Stacks: [stack] = [] } = await new CloudFormationClient({ endpoint }).send(
    new DescribeStacksCommand({ StackName: stackName }),
  );
  const output = stack?.Outputs?.find((o) => o.OutputKey === 'TaskIdSecretArn')?.OutputValue;
  if (output !== arn) throw new Error(`output TaskIdSecretArn: ${String(output)}, expected ${arn}.`);
  console.log(
    `  ok: ${named.length} functions name the task-id secret in ${TASK_ID_SECRET_ARN_ENV}, so does the output`,
  );
}

/**
 * A copy of the synthesized assembly that moto can deploy (motoTemplate), against a pool and (when the stack has its
 * own) a task-id secret created in moto. Also returns the synthesized template and the secret's ARN.
 */
async function motoAssembly(
  variant: { readonly name: string; readonly stackName: string },
  synthesized: string,
  templateFile: string,
  endpoint: string,
): Promise<{ copy: string; original: DeployTemplate; keyringArn?: string }> {
  const original = JSON.parse(readFileSync(templateFile, 'utf8')) as DeployTemplate;
  const pool = await createPool(endpoint, variant.stackName);
  const keyringArn = await createGeneratedKeyring(original, variant.stackName, endpoint);
  const copy = path.join(synthesized + '.moto');
  cpSync(synthesized, copy, { recursive: true });
  const { template, removed } = motoTemplate(original, { pool, keyringArn });
  writeFileSync(path.join(copy, path.basename(templateFile)), JSON.stringify(template, null, 1));
  console.log(
    `  left out for moto: ${removed.length} resources (${[...new Set(removed.map((id) => original.Resources[id]?.Type))].join(', ')})`,
  );
  return { copy, original, keyringArn };
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

/**
 * The stack on a table and a keyring created beforehand, as a restore into a new stack runs: one deploy (the full
 * variants prove redeploy, diff and token already), no table or secret of its own, every function that has
 * TABLE_NAME names the table and the three keyring readers name the secret, and destroy leaves both.
 */
async function checkExistingTable(work: string, env: NodeJS.ProcessEnv, endpoint: string): Promise<void> {
  const started = Date.now();
  const tableName = EXISTING.context?.tableName ?? '';
  console.log(`${EXISTING.name} (${EXISTING.stackName}, tableName=${tableName}, taskIdSecret=the old stack's):`);
  await createExistingTable(tableName, endpoint);
  console.log(`  ok: created ${tableName} with the stack's key schema and indexes`);
  const keyringName = `${EXISTING.stackName}-old-keyring`;
  const keyringArn = await createKeyring(
    keyringName,
    formatKeyring({
      salt: randomUUID(),
      current: FIRST_KEY_VERSION,
      keys: new Map([[FIRST_KEY_VERSION, randomBytes(32).toString('hex')]]),
    }),
    endpoint,
  );
  console.log(`  ok: created ${keyringName}, the old stack's keyring`);
  const synthesized = path.join(work, EXISTING.name);
  // The variant's taskIdSecret is a sample ARN; here, the secret just created.
  const context = { ...EXISTING.context, taskIdSecret: keyringArn, stackName: EXISTING.stackName };
  const templateFile = synthVariant(context, synthesized, { bundle: true });
  const { copy, original } = await motoAssembly(EXISTING, synthesized, templateFile, endpoint);
  // moto would skip a secret of the stack's own without a word: the template must have none.
  const owned = Object.values(original.Resources).filter((r) => /^AWS::(DynamoDB|SecretsManager)::/.test(r.Type));
  if (owned.length) throw new Error(`the template creates ${owned.map((r) => r.Type).join(', ')}.`);
  console.log(`  ok: no table or secret among the template's ${Object.keys(original.Resources).length} resources`);
  expectStep(
    'cdk deploy --method=direct',
    cdk(['deploy', '--app', copy, '--require-approval', 'never', '--method=direct'], env),
    (s) => s.status === 0,
  );
  const environments = await functionEnvironments(EXISTING.stackName, endpoint);
  const names = environments.map((variables) => variables.TABLE_NAME);
  const named = names.filter((n) => n !== undefined);
  if (named.length < 3 || named.some((n) => n !== tableName))
    throw new Error(`functions' TABLE_NAME: ${JSON.stringify(names)}, expected ${tableName} on at least 3.`);
  console.log(`  ok: ${named.length} functions name ${tableName} in TABLE_NAME`);
  await checkKeyringReaders(EXISTING.stackName, keyringArn, environments, endpoint);
  expectStep('cdk destroy', cdk(['destroy', '--app', copy, '--force'], env), (s) => s.status === 0);
  await new DynamoDBClient({ endpoint }).send(new DescribeTableCommand({ TableName: tableName }));
  await new SecretsManagerClient({ endpoint }).send(new DescribeSecretCommand({ SecretId: keyringArn }));
  console.log(`  ok: ${tableName} and ${keyringName} outlive cdk destroy`);
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
