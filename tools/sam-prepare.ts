/**
 * Prepares the containers of the `sam local invoke` setup from the template `npm run sam:synth` wrote to cdk.out.sam/
 * (docs/LOCAL.md, "sam local invoke"): creates the table in DynamoDB Local, creates the state machine in Step Functions
 * Local, and writes cdk.out.sam/sam-env.json, the --env-vars file of the functions.
 *
 *   npm run sam:prepare -- [--dynamodb http://127.0.0.1:8001] [--sfn http://127.0.0.1:8083 | --no-sfn] [--cdk-out cdk.out.sam]
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateStateMachineCommand, SFNClient } from '@aws-sdk/client-sfn';
import { existsSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { SAM_LOCAL_ENDPOINTS } from '../lib/sam-local-endpoints';
import { createTable, type TableDefinition } from '../local/dynamodb/dynamodb-local';
import { LocalSetupError } from '../local/errors';
import { LOCAL_CREDENTIALS, LOCAL_KEYRING_JSON, LOCAL_REGION } from '../local/local-aws';
import { TASK_ID_KEYRING_ENV } from '../lambda/shared/deployment-names';
import {
  type CfnTemplate,
  type EventRuleProperties,
  type FunctionProperties,
  loadStack,
  localNames,
  onlyResource,
  PROJECT_ROOT,
  resolve,
  resourcesOfType,
  stateMachineDefinition,
  type TemplateResource,
} from '../local/template';

/** The cloud assembly of the sam setup: apart from cdk.out/, which npm start, npm test and npm run bench re-synthesize. */
export const SAM_CDK_OUT = path.join(PROJECT_ROOT, 'cdk.out.sam');

/** Where the sam setup is described: the section sam:prepare's messages point to (a test keeps it there). */
export const SAM_DOCS = { file: 'docs/LOCAL.md', heading: 'sam local invoke' } as const;

/** The containers of the sam setup, each with the line that starts it (a test keeps them equal to SAM_DOCS'). */
export const SAM_CONTAINERS = {
  dynamodb: {
    name: 'DynamoDB Local',
    run: 'docker run -d --rm --name dynamodb --network sam-local -p 127.0.0.1:8001:8000 \\\n  amazon/dynamodb-local -jar DynamoDBLocal.jar -inMemory -sharedDb',
  },
  sfn: {
    name: 'Step Functions Local',
    run: 'docker run -d --rm --name stepfunctions --network sam-local -p 127.0.0.1:8083:8083 amazon/aws-stepfunctions-local',
  },
} as const;

const STATUS_CHANGE = 'Step Functions Execution Status Change';

export interface SamPrepareOptions {
  readonly cdkOut: string;
  readonly dynamodbEndpoint: string;
  /** Step Functions Local; undefined skips the state machine (StartExecution will then fail with 503). */
  readonly sfnEndpoint?: string;
}

export interface SamPrepared {
  readonly tableName: string;
  /** Undefined with --no-sfn. */
  readonly stateMachineArn?: string;
  readonly envFile: string;
  readonly templateFile: string;
  /** The --env-vars file's content: per function logical id, the variables sam local invoke overrides. */
  readonly env: Record<string, Record<string, string>>;
  /** Per function of the env file, its sample event in events/ (undefined when it has none). */
  readonly events: Record<string, string | undefined>;
}

export async function samPrepare(options: SamPrepareOptions): Promise<SamPrepared> {
  if (!existsSync(path.join(options.cdkOut, 'manifest.json'))) {
    throw new LocalSetupError(`No synthesized template in ${options.cdkOut}: run \`npm run sam:synth\` first.`);
  }
  const { template, stackName, templateFile } = loadStack(options.cdkOut);
  const names = localNames(template, stackName);
  const [tableId, table] = onlyResource(template, 'AWS::DynamoDB::Table');
  const [smId] = onlyResource(template, 'AWS::StepFunctions::StateMachine');

  const variables = ([, fn]: [string, TemplateResource]) =>
    (fn.Properties as FunctionProperties | undefined)?.Environment?.Variables ?? {};
  const samFunctions = resourcesOfType(template, 'AWS::Lambda::Function').filter(
    (fn) => variables(fn).STATE_MACHINE_ARN,
  );
  const declared = samFunctions.every((fn) => 'AWS_ENDPOINT_URL_DYNAMODB' in variables(fn));
  if (!declared) {
    throw new LocalSetupError(
      `${options.cdkOut} was not synthesized for sam local invoke (cdk synth -c localEndpoints=true): run \`npm run sam:synth\` first.`,
    );
  }
  await requireContainers(options);

  const credentials = LOCAL_CREDENTIALS;
  const region = LOCAL_REGION;
  const dynamodb = new DynamoDBClient({ endpoint: options.dynamodbEndpoint, region, credentials });
  await createTable(dynamodb, tableId, resolve(table.Properties, names) as TableDefinition);
  dynamodb.destroy();

  let stateMachineArn: string | undefined;
  if (options.sfnEndpoint) {
    const sfn = new SFNClient({ endpoint: options.sfnEndpoint, region, credentials });
    const created = await sfn.send(
      new CreateStateMachineCommand({
        name: smId,
        definition: JSON.stringify(stateMachineDefinition(template, names)),
        roleArn: 'arn:aws:iam::123456789012:role/DummyRole',
      }),
    );
    stateMachineArn = created.stateMachineArn!;
    sfn.destroy();
  }

  const env = Object.fromEntries(
    samFunctions.map(([id]) => [
      id,
      {
        TABLE_NAME: tableId,
        STATE_MACHINE_ARN: stateMachineArn ?? names.ref(smId),
        // The local keyring inline: the template's secret has no local emulator (the sam:synth template declares it).
        [TASK_ID_KEYRING_ENV]: LOCAL_KEYRING_JSON,
        ...SAM_LOCAL_ENDPOINTS,
      },
    ]),
  );
  const envFile = path.join(options.cdkOut, 'sam-env.json');
  writeFileSync(envFile, `${JSON.stringify(env, null, 2)}\n`);
  const samples = sampleEvents(template);
  const events = Object.fromEntries(Object.keys(env).map((id) => [id, samples[id]]));
  return { tableName: tableId, stateMachineArn, envFile, templateFile, env, events };
}

/**
 * Each function's sample event, by what invokes it in the template: the HTTP API's integration gets an API Gateway
 * payload 2.0 event, an EventBridge rule on execution status changes gets such an event.
 */
export function sampleEvents(template: CfnTemplate): Record<string, string> {
  const events: Record<string, string> = {};
  for (const [, integration] of resourcesOfType(template, 'AWS::ApiGatewayV2::Integration')) {
    const id = getAttTarget(integration.Properties?.IntegrationUri);
    if (id) events[id] = 'events/post-track.json';
  }
  for (const [, rule] of resourcesOfType(template, 'AWS::Events::Rule')) {
    const props = rule.Properties as EventRuleProperties | undefined;
    if (!props?.EventPattern?.['detail-type']?.includes(STATUS_CHANGE)) continue;
    for (const target of props.Targets ?? []) {
      const id = getAttTarget(target.Arn);
      if (id) events[id] = 'events/execution-failed.json';
    }
  }
  return events;
}

function getAttTarget(value: unknown): string | undefined {
  const getAtt = (value as { 'Fn::GetAtt'?: [string, string] } | undefined)?.['Fn::GetAtt'];
  return getAtt?.[1] === 'Arn' ? getAtt[0] : undefined;
}

/** Fails, naming each missing container and the line that starts it, when nothing answers on its endpoint. */
async function requireContainers(options: SamPrepareOptions): Promise<void> {
  const wanted: { name: string; run: string; endpoint: string }[] = [
    { ...SAM_CONTAINERS.dynamodb, endpoint: options.dynamodbEndpoint },
  ];
  if (options.sfnEndpoint) wanted.push({ ...SAM_CONTAINERS.sfn, endpoint: options.sfnEndpoint });
  const missing = (await Promise.all(wanted.map(async (c) => ((await answers(c.endpoint)) ? undefined : c)))).filter(
    (c) => c !== undefined,
  );
  if (missing.length === 0) return;
  throw new LocalSetupError(
    [
      ...missing.map((c) => `Nothing answers on ${c.endpoint}: is the ${c.name} container running?`),
      `Start ${missing.length > 1 ? 'them' : 'it'} (${SAM_DOCS.file}, "${SAM_DOCS.heading}"):`,
      '  docker network create sam-local   # once',
      ...missing.map((c) => `  ${c.run.replace(/\n/g, '\n  ')}`),
      ...(missing.some((c) => c.name === SAM_CONTAINERS.sfn.name)
        ? ['Or prepare the table alone: npm run sam:prepare -- --no-sfn']
        : []),
    ].join('\n'),
  );
}

/** Whether a TCP connection to the endpoint's host and port opens within two seconds. */
function answers(endpoint: string): Promise<boolean> {
  const url = new URL(endpoint);
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  return new Promise((done) => {
    const socket = net.connect({ host: url.hostname, port });
    const finish = (ok: boolean) => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(2000, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

/** What the command prints once the containers are ready: what was created and each function's invoke line. */
export function samPrepareReport(prepared: SamPrepared, options: SamPrepareOptions, cwd = process.cwd()): string[] {
  const rel = (p: string) => path.relative(cwd, p) || '.';
  const lines = [`Table ${prepared.tableName} ready in DynamoDB Local (${options.dynamodbEndpoint}).`];
  lines.push(
    prepared.stateMachineArn
      ? `State machine ${prepared.stateMachineArn} ready in Step Functions Local (${options.sfnEndpoint}).`
      : 'No state machine (--no-sfn): a new task cannot start its workflow, so POST answers 503.',
  );
  lines.push(`--env-vars file: ${rel(prepared.envFile)}. Invoke each function with its sample event:`);
  for (const [id, event] of Object.entries(prepared.events)) {
    const invoke = `sam local invoke ${id} -t ${rel(prepared.templateFile)}${event ? ` -e ${event}` : ''} --env-vars ${rel(prepared.envFile)} --docker-network sam-local`;
    lines.push(`  ${invoke}${event ? '' : '   # no sample event in events/ for this function'}`);
  }
  return lines;
}

if (require.main === module) {
  const { values } = parseArgs({
    options: {
      dynamodb: { type: 'string', default: 'http://127.0.0.1:8001' },
      sfn: { type: 'string', default: 'http://127.0.0.1:8083' },
      'no-sfn': { type: 'boolean', default: false },
      'cdk-out': { type: 'string', default: SAM_CDK_OUT },
    },
  });
  const options: SamPrepareOptions = {
    cdkOut: path.resolve(values['cdk-out']),
    dynamodbEndpoint: values.dynamodb,
    sfnEndpoint: values['no-sfn'] ? undefined : values.sfn,
  };
  samPrepare(options)
    .then((prepared) => console.log(samPrepareReport(prepared, options).join('\n')))
    .catch((error: unknown) => {
      console.error(error instanceof LocalSetupError ? error.message : error);
      process.exit(1);
    });
}
