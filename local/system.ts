import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { JWK } from 'jose';
import * as path from 'node:path';
import { corsPolicyFromTemplate, localCorsAllowOrigins } from './api-gateway/cors';
import { type LocalApi, type LocalAuth, startLocalApi } from './api-gateway/local-api';
import type { ApiHandler } from './api-gateway/server';
import { checkJava, createTable, startDynamoDbLocal, type TableDefinition } from './dynamodb/dynamodb-local';
import { LocalSetupError } from './errors';
import { runSchedules, wireExecutionEvents } from './eventbridge/rules';
import { loadHandler, type LocalFunction, templateFunctions, withoutNodeOptions } from './lambda/runtime';
import { LOCAL_AWS_ENV, LOCAL_CREDENTIALS, LOCAL_KEYRING_JSON, LOCAL_REGION } from './local-aws';
import { TASK_ID_KEYRING_ENV } from '../lambda/shared/deployment-names';
import { demoSiteRoutes } from './local-only/demo-site';
import { withFaultInjection } from './local-only/fault-injection';
import { LOCAL_TENANT_CLAIM } from './local-only/jwt-issuer';
import { testControls } from './local-only/test-controls';
import { type SfnEndpoint, startSfnEndpoint } from './step-functions/endpoint';
import { LocalStepFunctions } from './step-functions/runner';
import {
  type CfnTemplate,
  loadStack,
  localNames,
  onlyResource,
  PROJECT_ROOT,
  resolve,
  stateMachineDefinition,
  synth,
} from './template';

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
  /**
   * Browser origins allowed to call the API, comma-separated: the `corsAllowOrigins` context of the synth.
   *
   * @default - LOCAL_DEV_SERVER_ORIGINS: localhost and 127.0.0.1 on ports 5173, 4173 and 3000
   */
  readonly corsAllowOrigins?: string;
  /** The API handler; default: lambda/track/index.ts's buildTrackHandler, from source, its AWS clients open to fault injection. */
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
    const context: Record<string, string> = { corsAllowOrigins: localCorsAllowOrigins(options.corsAllowOrigins) };
    if (!options.corsAllowOrigins) log(`[local] CORS for ${context.corsAllowOrigins} (CORS_ALLOW_ORIGINS to change)`);
    // TENANT_ACTIVE_TASK_LIMIT overrides the functions' environment locally; the state machine is synthesized with the
    // same limit, so that without one (0) nothing counts tenants, its finishing steps included.
    if (process.env.TENANT_ACTIVE_TASK_LIMIT !== undefined)
      context.tenantActiveTaskLimit = process.env.TENANT_ACTIVE_TASK_LIMIT;
    const [, dynamo, moreRoutes] = await Promise.all([
      options.skipSynth ? Promise.resolve() : synth(cdkOut, log, context),
      startDynamoDbLocal({ dataDir: options.dataDir, onUnexpectedExit }),
      demoSiteRoutes(),
    ]);
    stops.push(() => dynamo.stop());
    log(
      `[local] DynamoDB Local on ${dynamo.endpoint} (${options.dataDir ? `data in ${options.dataDir}` : 'in memory'})`,
    );

    const { template, stackName } = loadStack(cdkOut);
    const names = localNames(template, stackName);
    const [tableId, table] = onlyResource(template, 'AWS::DynamoDB::Table');
    const dynamodb = new DynamoDBClient({
      endpoint: dynamo.endpoint,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
    stops.push(() => Promise.resolve(dynamodb.destroy()));
    await createTable(dynamodb, tableId, resolve(table.Properties, names) as TableDefinition);

    const [smId] = onlyResource(template, 'AWS::StepFunctions::StateMachine');
    const stateMachineArn = names.ref(smId);
    const functions = templateFunctions(template, cdkOut, names);
    const lambdas = Object.fromEntries(functions.map((fn) => [fn.arn, loadHandler(fn)]));
    // Stopped after the executions and their end listeners (stops run in reverse): what the functions still do ends here.
    stops.push(async () => void (await Promise.all(Object.values(lambdas).map((l) => l.stop()))));
    const stepFunctions = new LocalStepFunctions({
      definition: stateMachineDefinition(template, names),
      stateMachineArn,
      dynamodb,
      lambdas,
      log,
    });
    stops.push(() => stepFunctions.stopAll());
    wireExecutionEvents(template, names, stepFunctions, lambdas, log);

    const sfnEndpoint: SfnEndpoint = await startSfnEndpoint(stepFunctions, testControls(stepFunctions));
    stops.push(() => sfnEndpoint.close());
    log(`[local] Step Functions endpoint on ${sfnEndpoint.url} (local controls: local/local-only/test-controls.ts)`);

    const environment: Record<string, string> = {
      ...LOCAL_AWS_ENV,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_SFN: sfnEndpoint.url,
      // Powertools' JSON lines stay for warnings and errors; the server prints one readable line per request.
      POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
      // No CloudWatch locally: metrics would only be EMF lines on stdout.
      POWERTOOLS_METRICS_DISABLED: process.env.POWERTOOLS_METRICS_DISABLED ?? 'true',
      ...trackFunctionEnvironment(functions),
      ...handlerAuthEnvironment(auth),
      // The keyring inline: the template's functions read theirs from a secret, which has no local emulator.
      [TASK_ID_KEYRING_ENV]: LOCAL_KEYRING_JSON,
    };
    // The handlers read their configuration from the environment, as in Lambda; local overrides win.
    // AUTH decides the handler's mode locally, not the template (whose default is cognito).
    const forced = (k: string) =>
      k in LOCAL_AWS_ENV ||
      k.startsWith('AWS_ENDPOINT_URL') ||
      k === 'AUTH_MODE' ||
      k === 'TENANT_CLAIM' ||
      k === TASK_ID_KEYRING_ENV;
    for (const [k, v] of Object.entries(environment)) process.env[k] = forced(k) ? v : (process.env[k] ?? v);

    // Loaded once the environment is set: the handler module reads it at import. Its SDK clients go through fault
    // injection (local-only/fault-injection.ts), idle until a test or demo injects a fault (LocalInjectFault).
    const { buildTrackHandler } = await import('../lambda/track/index');
    const localHandler = (env: Record<string, string | undefined>) =>
      buildTrackHandler(env, { wrapClient: withFaultInjection });
    const handler = options.apiHandler ? options.apiHandler() : localHandler(process.env);
    // Local-only: the demo page and /openapi.yaml; CORS as the synthesized stack configures it.
    const front = { cors: corsPolicyFromTemplate(template), moreRoutes };
    const api = await startLocalApi({ auth, port: options.port, handler, log, ...front });
    stops.push(() => api.close());
    const startApi = async (extra: { auth: LocalAuth; port: number; signingKey?: JWK }) => {
      const other = await startLocalApi({
        ...extra,
        handler: localHandler({ ...process.env, ...handlerAuthEnvironment(extra.auth) }),
        log,
        ...front,
      });
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
  const fn = functions.find(
    (f) => f.environment.STATE_MACHINE_ARN && f.environment.WORKFLOW_TIMEOUT_SECONDS && /Track/.test(f.logicalId),
  );
  if (!fn)
    throw new LocalSetupError('The synthesized template has no API handler function with STATE_MACHINE_ARN set.');
  return withoutNodeOptions(fn.environment);
}
