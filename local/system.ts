import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { JWK } from 'jose';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import type { ApiHandler } from './api-server';
import { corsPolicyFromTemplate } from './cors';
import { demoSiteRoutes } from './demo-site';
import { checkJava, createTable, LOCAL_AWS_ENV, startDynamoDbLocal } from './dynamodb-local';
import { LocalSetupError } from './errors';
import { functionArn, loadHandler, type LocalFunction, templateFunctions } from './lambdas';
import { type Execution, LocalStepFunctions } from './local-step-functions';
import { type SfnEndpoint, startSfnEndpoint } from './sfn-endpoint';
import { LOCAL_TENANT_CLAIM } from './jwt-issuer';
import { type LocalApi, type LocalAuth, startLocalApi } from './local-api';
import { type CfnTemplate, loadStack, type LocalNames, onlyResource, resolve, resourcesOfType, stateMachineDefinition } from './template';
import { DEFAULT_STACK_NAME } from '../lambda/shared/names';

export const PROJECT_ROOT = path.resolve(__dirname, '..');

export interface LocalSystemOptions {
  /** API port; 0 picks a free one. */
  readonly port: number;
  /** Keep DynamoDB Local's data in this folder (default: in memory). */
  readonly dataDir?: string;
  /** Where `cdk synth` writes the cloud assembly. */
  readonly cdkOut?: string;
  /**
   * How the local API authenticates (`AUTH` of npm start), whatever the template's own mode: `none` trusts the
   * tenant in the request, `jwt` runs a local issuer and the JWT authorizer. Sets the handler's AUTH_MODE.
   *
   * @default 'none'
   */
  readonly auth?: LocalAuth;
  /** Browser origins allowed to call the API, comma-separated: the `corsAllowOrigins` context of the synth. */
  readonly corsAllowOrigins?: string;
  /** The API handler; default: the Lambda handler's source module, lambda/track/index.ts. */
  readonly apiHandler?: () => ApiHandler;
  /**
   * How often the template's scheduled rules (the repair sweep) run locally; they also run once at start-up.
   * 0 runs them only at start-up. @default 20
   */
  readonly scheduleSeconds?: number;
  /** Reuse the cloud assembly already in `cdkOut` instead of running `cdk synth` (tests that restart often). */
  readonly skipSynth?: boolean;
  readonly log?: (line: string) => void;
}

export interface LocalSystem {
  readonly apiUrl: string;
  readonly dynamoDbEndpoint: string;
  readonly sfnEndpoint: string;
  readonly tableName: string;
  readonly stateMachineArn: string;
  readonly cdkOut: string;
  readonly template: CfnTemplate;
  readonly stepFunctions: LocalStepFunctions;
  /** Environment the handler runs with locally (endpoints, credentials, table, state machine). */
  readonly environment: Record<string, string>;
  /** The API's auth mode (`AUTH`). */
  readonly auth: LocalAuth;
  /**
   * Another API front end on the same table and state machine, with its own auth mode and handler (e.g. the
   * AUTH=jwt integration tests next to the AUTH=none ones). Stopped with the system.
   */
  startApi(options: { auth: LocalAuth; port: number; signingKey?: JWK }): Promise<LocalApi>;
  stop(): Promise<void>;
}

/** Local stand-ins for the template's references: table and state machine by logical id, fixed pseudo parameters. */
export function localNames(template: CfnTemplate, stackName = DEFAULT_STACK_NAME): LocalNames {
  return {
    ref(id) {
      const pseudo: Record<string, string> = {
        'AWS::Partition': 'aws',
        'AWS::Region': LOCAL_AWS_ENV.AWS_REGION,
        'AWS::AccountId': '000000000000',
        'AWS::URLSuffix': 'amazonaws.com',
        'AWS::StackName': stackName,
      };
      if (pseudo[id]) return pseudo[id];
      const type = template.Resources[id]?.Type;
      if (type === 'AWS::StepFunctions::StateMachine') return `arn:aws:states:${LOCAL_AWS_ENV.AWS_REGION}:000000000000:stateMachine:${id}`;
      return id;
    },
    getAtt(id, attribute) {
      const type = template.Resources[id]?.Type;
      if (type === 'AWS::Lambda::Function' && attribute === 'Arn') return functionArn(id);
      if (attribute === 'Arn') return `arn:aws:local:${LOCAL_AWS_ENV.AWS_REGION}:000000000000:${id}`;
      throw new LocalSetupError(`No local value for Fn::GetAtt ${id}.${attribute}`);
    },
  };
}

/** Runs `cdk synth` (the project's CDK CLI and cdk.json) so the local system runs what would be deployed. */
export async function synth(cdkOut: string, log: (line: string) => void, context: Record<string, string> = {}): Promise<void> {
  const started = Date.now();
  const cli = require.resolve('aws-cdk/bin/cdk');
  const env = { ...process.env, PATH: [path.dirname(process.execPath), path.join(PROJECT_ROOT, 'node_modules', '.bin'), process.env.PATH].join(path.delimiter) };
  const contextArgs = Object.entries(context).flatMap(([k, v]) => ['--context', `${k}=${v}`]);
  const child = spawn(process.execPath, [cli, 'synth', '--quiet', '--no-notices', '--output', cdkOut, ...contextArgs], { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const code = await new Promise<number | null>((r) => child.on('close', r));
  if (code !== 0) throw new LocalSetupError(`cdk synth failed (exit ${code}); fix the stack and try again:\n${output.trim().split('\n').slice(-30).join('\n')}`);
  log(`[local] synthesized the stack into ${path.relative(PROJECT_ROOT, cdkOut) || cdkOut} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/**
 * Starts the whole backend on this machine: the synthesized stack's table in DynamoDB Local, its state machine in
 * aws-local-stepfunctions (behind a local Step Functions endpoint), its finalizer rule, and the API handler behind
 * an HTTP server that speaks API Gateway's payload 2.0. Everything listens on 127.0.0.1.
 */
export async function startLocalSystem(options: LocalSystemOptions): Promise<LocalSystem> {
  const log = options.log ?? ((line: string) => console.log(line));
  const cdkOut = path.resolve(options.cdkOut ?? path.join(PROJECT_ROOT, 'cdk.out'));
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch((e: Error) => log(`[local] stop: ${e.message}`));
    stops.length = 0;
  };
  const auth = options.auth ?? 'none';
  checkJava();
  try {
    // Synthesis and DynamoDB Local's JVM start are independent: overlap them.
    const onUnexpectedExit = (reason: string, lastOutput: string) =>
      log(
        `[local] ERROR: DynamoDB Local has exited (${reason}). Every request now fails with 503 and nothing is recorded.\n` +
          `[local] Stop npm start (Ctrl-C) and start it again. DynamoDB Local's last output:\n${lastOutput}`,
      );
    const context: Record<string, string> = options.corsAllowOrigins ? { corsAllowOrigins: options.corsAllowOrigins } : {};
    const [, dynamo, moreRoutes] = await Promise.all([
      options.skipSynth ? Promise.resolve() : synth(cdkOut, log, context),
      startDynamoDbLocal({ dataDir: options.dataDir, onUnexpectedExit }),
      demoSiteRoutes(),
    ]);
    stops.push(() => dynamo.stop());
    log(`[local] DynamoDB Local on ${dynamo.endpoint} (${options.dataDir ? `data in ${options.dataDir}` : 'in memory'})`);

    const { template, stackName } = loadStack(cdkOut);
    const names = localNames(template, stackName);
    const [tableId, table] = onlyResource(template, 'AWS::DynamoDB::Table');
    const dynamodb = new DynamoDBClient({ endpoint: dynamo.endpoint, region: LOCAL_AWS_ENV.AWS_REGION, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    stops.push(async () => dynamodb.destroy());
    await createTable(dynamodb, tableId, resolve(table.Properties, names));

    const [smId] = onlyResource(template, 'AWS::StepFunctions::StateMachine');
    const stateMachineArn = names.ref(smId);
    const functions = templateFunctions(template, cdkOut, names);
    const lambdas = Object.fromEntries(functions.map((fn) => [fn.arn, loadHandler(fn)]));
    // Stopped after the executions and their end listeners (stops run in reverse): what the functions still do ends here.
    stops.push(async () => void (await Promise.all(Object.values(lambdas).map((l) => l.stop()))));
    const stepFunctions = new LocalStepFunctions({ definition: stateMachineDefinition(template, names), stateMachineArn, dynamodb, lambdas, log });
    stops.push(() => stepFunctions.stopAll());
    wireExecutionEvents(template, names, stepFunctions, lambdas, log);

    const sfnEndpoint: SfnEndpoint = await startSfnEndpoint(stepFunctions);
    stops.push(() => sfnEndpoint.close());
    log(`[local] Step Functions endpoint on ${sfnEndpoint.url} (local controls: local/sfn-endpoint.ts)`);

    const environment: Record<string, string> = {
      ...LOCAL_AWS_ENV,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_SFN: sfnEndpoint.url,
      // Powertools' JSON lines stay for warnings and errors; the server prints one readable line per request.
      POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
      // No CloudWatch locally: metrics would only be EMF lines on stdout.
      POWERTOOLS_METRICS_DISABLED: process.env.POWERTOOLS_METRICS_DISABLED ?? 'true',
      // Lets tests and demos fail chosen AWS calls of the API handler (lambda/adapters/fault-injection.ts); idle
      // until a fault is injected through the local Step Functions endpoint (LocalInjectFault).
      FAULT_INJECTION: process.env.FAULT_INJECTION ?? 'on',
      ...trackFunctionEnvironment(functions),
      ...handlerAuthEnvironment(auth),
    };
    // The handlers read their configuration from the environment, as in Lambda; local overrides win.
    // AUTH decides the handler's mode locally, not the template (whose default is cognito).
    const forced = (k: string) => k in LOCAL_AWS_ENV || k.startsWith('AWS_ENDPOINT_URL') || k === 'AUTH_MODE' || k === 'TENANT_CLAIM';
    for (const [k, v] of Object.entries(environment)) process.env[k] = forced(k) ? v : (process.env[k] ?? v);

    const handler = (options.apiHandler ?? (() => require('../lambda/track/index').handler as ApiHandler))();
    // Local-only: the demo page and /openapi.yaml; CORS as the synthesized stack configures it.
    const front = { cors: corsPolicyFromTemplate(template), moreRoutes };
    const api = await startLocalApi({ auth, port: options.port, handler, log, ...front });
    stops.push(() => api.close());
    const startApi = async (extra: { auth: LocalAuth; port: number; signingKey?: JWK }) => {
      const { buildTrackHandler } = require('../lambda/track/index') as typeof import('../lambda/track/index');
      const other = await startLocalApi({ ...extra, handler: buildTrackHandler({ ...process.env, ...handlerAuthEnvironment(extra.auth) }), log, ...front });
      stops.push(() => other.close());
      return other;
    };
    // Last to start, first to stop: no sweep runs while the rest shuts down.
    stops.push(runSchedules(template, names, lambdas, options.scheduleSeconds ?? 20, log));

    return {
      apiUrl: api.url,
      dynamoDbEndpoint: dynamo.endpoint,
      sfnEndpoint: sfnEndpoint.url,
      tableName: tableId,
      stateMachineArn,
      cdkOut,
      template,
      stepFunctions,
      environment: { ...environment, TABLE_NAME: tableId, STATE_MACHINE_ARN: stateMachineArn },
      auth,
      startApi,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function handlerAuthEnvironment(auth: LocalAuth): Record<string, string> {
  return { AUTH_MODE: auth, TENANT_CLAIM: LOCAL_TENANT_CLAIM };
}

function trackFunctionEnvironment(functions: LocalFunction[]): Record<string, string> {
  const fn = functions.find((f) => f.environment.STATE_MACHINE_ARN && f.environment.WORKFLOW_TIMEOUT_SECONDS && /Track/.test(f.logicalId));
  if (!fn) throw new LocalSetupError('The synthesized template has no API handler function with STATE_MACHINE_ARN set.');
  const { NODE_OPTIONS: _node, ...env } = fn.environment;
  return env;
}

/**
 * EventBridge locally: each rule on "Step Functions Execution Status Change" for this state machine invokes its
 * Lambda target with the event AWS would send, whenever an execution ends with a matching status.
 */
function wireExecutionEvents(
  template: CfnTemplate,
  names: LocalNames,
  sfn: LocalStepFunctions,
  lambdas: Record<string, (event: any) => Promise<unknown>>,
  log: (line: string) => void,
): void {
  for (const [ruleId, rule] of resourcesOfType(template, 'AWS::Events::Rule')) {
    const props = resolve(rule.Properties, names);
    const pattern = props.EventPattern ?? {};
    if (!pattern['detail-type']?.includes('Step Functions Execution Status Change')) continue;
    for (const target of props.Targets ?? []) {
      const invoke = lambdas[target.Arn];
      if (!invoke) continue;
      sfn.onExecutionEnd(async (execution: Execution) => {
        const statuses: string[] | undefined = pattern.detail?.status;
        const machines: string[] | undefined = pattern.detail?.stateMachineArn;
        if (statuses && !statuses.includes(execution.status)) return;
        if (machines && !machines.includes(execution.stateMachineArn)) return;
        log(`[events] ${ruleId}: ${execution.name} ${execution.status} → finalizer`);
        await invoke(executionStatusEvent(execution));
      });
    }
  }
}

/**
 * EventBridge schedules locally: each rule with a ScheduleExpression invokes its Lambda targets at start-up, then
 * every `intervalSeconds` (shorter than on AWS, so a restart is repaired quickly), never two runs at once.
 * @returns a stop function that waits for a run in progress.
 */
function runSchedules(
  template: CfnTemplate,
  names: LocalNames,
  lambdas: Record<string, (event: any) => Promise<unknown>>,
  intervalSeconds: number,
  log: (line: string) => void,
): () => Promise<void> {
  const jobs: (() => Promise<void>)[] = [];
  for (const [ruleId, rule] of resourcesOfType(template, 'AWS::Events::Rule')) {
    const props = resolve(rule.Properties, names);
    if (!props.ScheduleExpression) continue;
    for (const target of props.Targets ?? []) {
      const invoke = lambdas[target.Arn];
      if (!invoke) continue;
      jobs.push(async () => {
        const report = (await invoke({ 'detail-type': 'Scheduled Event', source: 'aws.events', resources: [ruleId], detail: {} })) as Record<string, number> | undefined;
        if (report && (report.started || report.ended || report.errors)) {
          log(`[sweep] ${ruleId}: ${report.candidates} checked, ${report.started} started, ${report.ended} ended, ${report.errors} failed`);
        }
      });
    }
  }
  let running: Promise<void> | undefined;
  const tick = () => {
    if (running) return;
    running = Promise.all(jobs.map((job) => job().catch((e: Error) => log(`[sweep] failed: ${e.message}; the next run tries again`)))).then(() => {
      running = undefined;
    });
  };
  tick();
  const timer = intervalSeconds > 0 ? setInterval(tick, intervalSeconds * 1000) : undefined;
  return async () => {
    if (timer) clearInterval(timer);
    await running;
  };
}

export function executionStatusEvent(execution: Execution) {
  return {
    version: '0',
    id: crypto.randomUUID(),
    'detail-type': 'Step Functions Execution Status Change',
    source: 'aws.states',
    account: '000000000000',
    time: new Date().toISOString(),
    region: LOCAL_AWS_ENV.AWS_REGION,
    resources: [execution.executionArn],
    detail: {
      executionArn: execution.executionArn,
      stateMachineArn: execution.stateMachineArn,
      name: execution.name,
      status: execution.status,
      startDate: execution.startDate.getTime(),
      stopDate: execution.stopDate?.getTime() ?? null,
      input: execution.input,
      output: execution.output ?? null,
      error: execution.error ?? null,
      cause: execution.cause ?? null,
    },
  };
}
