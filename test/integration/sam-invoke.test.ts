import { execFile } from 'node:child_process';
import { TEST_KEYS } from '../support/stored-items';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { type LocalFunction, templateFunctions } from '../../local/lambda/runtime';
import {
  type EventRuleProperties,
  loadStack,
  localNames,
  PROJECT_ROOT,
  resolve,
  resourcesOfType,
  type TemplateResource,
} from '../../local/template';
import { LocalSetupError } from '../../local/errors';
import { LOCAL_KEYRING_JSON } from '../../local/local-aws';
import { freePort } from '../../local/free-port';
import { SAM_CONTAINERS, samPrepare, samPrepareReport } from '../../tools/sam-prepare';
import { env, getActive, getTask, holdExecutions, post, releaseExecutions, uniqueTenant } from './support';

const run = promisify(execFile);
const EVENTS_DIR = path.join(PROJECT_ROOT, 'events');

/**
 * What `sam local invoke <function> -t <template> -e events/<event>.json` does, without Docker: take the function's
 * built asset, handler and environment from the synthesized template, add the --env-vars overrides (local
 * endpoints), and invoke it with the event in a fresh Node.js process.
 */
const { template, stackName } = loadStack(env.cdkOut);
const names = localNames(template, stackName);
const functions = templateFunctions(template, env.cdkOut, names);
/** The first resource of a type; the stack's first rule is the one on execution status changes. */
function firstOfType(type: string): TemplateResource {
  const [found] = resourcesOfType(template, type);
  if (!found) throw new Error(`The synthesized stack has no ${type}`);
  return found[1];
}
function functionAt(arn: unknown): LocalFunction {
  const [logicalId] = (arn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'];
  const fn = functions.find((f) => f.logicalId === logicalId);
  if (!fn) throw new Error(`No function ${logicalId} in the synthesized stack`);
  return fn;
}
const statusRule = firstOfType('AWS::Events::Rule').Properties as EventRuleProperties;
const apiFunction = functionAt(firstOfType('AWS::ApiGatewayV2::Integration').Properties?.IntegrationUri);
const finalizerFunction = functionAt(statusRule.Targets?.[0]?.Arn);

async function samLocalInvoke(fn: LocalFunction, eventPath: string): Promise<any> {
  const [file, exportName] = fn.handlerName.split('.');
  // The function's own stdout is its log (Powertools JSON, EMF metrics); the answer goes to a file, as SAM keeps them apart.
  const answerFile = path.join(mkdtempSync(path.join(tmpdir(), 'sam-invoke-')), 'answer.json');
  const script = `
    const fs = require('node:fs');
    const event = JSON.parse(fs.readFileSync(${JSON.stringify(eventPath)}, 'utf8'));
    require(${JSON.stringify(path.join(fn.assetDir, `${file}.js`))})[${JSON.stringify(exportName)}](event)
      .then((r) => fs.writeFileSync(${JSON.stringify(answerFile)}, JSON.stringify(r)), (e) => { console.error(e); process.exit(1); });`;
  try {
    await run(process.execPath, ['-e', script], {
      env: {
        PATH: process.env.PATH,
        ...fn.environment,
        // sam local invoke --env-vars: credentials and endpoints of the local services.
        AWS_REGION: process.env.AWS_REGION,
        AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY,
        AWS_ENDPOINT_URL_DYNAMODB: env.dynamoDbEndpoint,
        AWS_ENDPOINT_URL_SFN: env.sfnEndpoint,
        // and the keyring inline, as sam:prepare writes it (no Secrets Manager locally).
        TASK_ID_KEYRING: LOCAL_KEYRING_JSON,
        POWERTOOLS_LOG_LEVEL: 'ERROR',
      },
    });
    return JSON.parse(readFileSync(answerFile, 'utf8'));
  } finally {
    rmSync(path.dirname(answerFile), { recursive: true, force: true });
  }
}

async function invokeApi(
  eventFile: string,
): Promise<{ statusCode: number; headers: Record<string, string>; body: any }> {
  const result = await samLocalInvoke(apiFunction, path.join(EVENTS_DIR, eventFile));
  return { ...result, body: result.body ? JSON.parse(result.body) : undefined };
}

describe('sam local invoke, equivalent: the built API function with events/*.json', () => {
  test('the function is the synthesized nodejs24.x bundle with its template environment', () => {
    expect(apiFunction.logicalId).toMatch(/^TrackHandler/);
    expect(readdirSync(apiFunction.assetDir)).toEqual(expect.arrayContaining(['index.js', 'index.js.map']));
    expect(apiFunction.environment).toMatchObject({
      TABLE_NAME: env.tableName,
      STATE_MACHINE_ARN: env.stateMachineArn,
      AUTH_MODE: 'cognito',
      TENANT_CLAIM: 'custom:tenant_id',
    });
    const [, fn] = resourcesOfType(template, 'AWS::Lambda::Function').find(([id]) => id === apiFunction.logicalId)!;
    expect(resolve(fn.Properties!.Runtime, names)).toBe('nodejs24.x');
  });

  test('every event file is an API payload 2.0 event for a route the API has, or an event a rule sends the finalizer', () => {
    const routeKeys = resourcesOfType(template, 'AWS::ApiGatewayV2::Route').map(
      ([, r]) => r.Properties!.RouteKey as string,
    );
    const pattern = statusRule.EventPattern;
    const files = readdirSync(EVENTS_DIR).filter((f) => f.endsWith('.json'));
    for (const file of files) {
      const event = JSON.parse(readFileSync(path.join(EVENTS_DIR, file), 'utf8'));
      if (event['detail-type'] !== undefined) {
        // EventBridge: the rule's source, detail-type and status would match it (its state machine ARN is the container's).
        expect(pattern?.source).toContain(event.source);
        expect(pattern?.['detail-type']).toContain(event['detail-type']);
        expect(pattern?.detail?.status).toContain(event.detail.status);
        expect(event.detail.name).toBe(JSON.parse(event.detail.input).task_id);
        continue;
      }
      expect(event.version).toBe('2.0');
      const [method, route] = event.routeKey.split(' ');
      expect(routeKeys.includes(event.routeKey) || routeKeys.includes(`ANY ${route}`)).toBe(true);
      expect(event.requestContext.http.method).toBe(method);
    }
    expect(files).toContain('execution-failed.json');
  });

  test('post-track.json creates, then answers the existing task; get-active-task.json finds it', async () => {
    // Each invoke is a fresh process (seconds on a busy machine): hold the execution so the task is still active.
    await holdExecutions('tenant1');
    try {
      const created = await invokeApi('post-track.json');
      expect(created.statusCode).toBe(201);
      expect(created.headers.Location).toBe(`/api/v1/track/${created.body.task_id}`);

      const again = await invokeApi('post-track.json');
      expect(again.statusCode).toBe(200);
      expect(again.body).toEqual({
        task_id: created.body.task_id,
        status: expect.stringMatching(/^(not_started|running)$/),
        message: 'Analysis already in progress',
      });

      const active = await invokeApi('get-active-task.json');
      expect(active.statusCode).toBe(200);
      expect(active.body.task_id).toBe(created.body.task_id);
    } finally {
      await releaseExecutions('tenant1');
    }
  });

  test('post-track-invalid.json -> 400 problem naming the field', async () => {
    const res = await invokeApi('post-track-invalid.json');
    expect(res.statusCode).toBe(400);
    expect(res.headers['Content-Type']).toBe('application/problem+json');
    expect(res.body.detail).toMatch(/^tenant_id may only contain/);
  });

  test('the events carry the Cognito claims API Gateway passes; post-track-tenant-mismatch.json -> 403 naming both tenants', async () => {
    const apiEvents = readdirSync(EVENTS_DIR)
      .filter((f) => f.endsWith('.json'))
      .map((f) => JSON.parse(readFileSync(path.join(EVENTS_DIR, f), 'utf8')))
      .filter((event) => event.version === '2.0');
    expect(apiEvents.length).toBeGreaterThanOrEqual(7);
    for (const event of apiEvents)
      expect(event.requestContext.authorizer.jwt.claims[String(apiFunction.environment.TENANT_CLAIM)]).toBe('tenant1');
    const res = await invokeApi('post-track-tenant-mismatch.json');
    expect(res.statusCode).toBe(403);
    expect(res.body).toMatchObject({
      type: '/problems/tenant-mismatch',
      token_tenant_id: 'tenant1',
      request_tenant_id: 'tenant2',
      source: 'body',
    });
  });

  test('get-task.json and cancel-task.json name an unknown task -> 404', async () => {
    expect((await invokeApi('get-task.json')).statusCode).toBe(404);
    expect((await invokeApi('cancel-task.json')).statusCode).toBe(404);
  });

  test('put-track-not-allowed.json -> 405 with Allow', async () => {
    const res = await invokeApi('put-track-not-allowed.json');
    expect(res.statusCode).toBe(405);
    expect(res.headers.Allow).toBe('GET, POST');
  });
});

describe('sam local invoke, equivalent: the built finalizer function with events/execution-failed.json', () => {
  test('the finalizer is the synthesized bundle the execution-status rule targets', () => {
    expect(finalizerFunction.logicalId).toMatch(/^FinalizerFunction/);
    expect(readdirSync(finalizerFunction.assetDir)).toContain('index.js');
    expect(finalizerFunction.environment).toMatchObject({
      TABLE_NAME: env.tableName,
      STATE_MACHINE_ARN: env.stateMachineArn,
    });
  });

  test('execution-failed.json as shipped names a task that does not exist -> ignored, nothing changed', async () => {
    const result = await samLocalInvoke(finalizerFunction, path.join(EVENTS_DIR, 'execution-failed.json'));
    // Not "no execution input": the event's input was read (its task id is named), and the task looked up in the table.
    const shipped = JSON.parse(readFileSync(path.join(EVENTS_DIR, 'execution-failed.json'), 'utf8'));
    expect(result).toEqual({
      outcome: 'ignored',
      reason: 'the task is no longer active',
      taskId: JSON.parse(shipped.detail.input).task_id,
    });
  });

  test('execution-failed.json edited to name a real active task -> the task fails with the event error, the video is freed', async () => {
    // GIVEN an active task, and the sample event edited as its row in docs/LOCAL.md says (the task's execution input)
    const tenant = uniqueTenant('sam-finalizer');
    const created = await post(tenant, 'failed-outside-catch.mp4');
    expect(created.status).toBe(201);
    const event = JSON.parse(readFileSync(path.join(EVENTS_DIR, 'execution-failed.json'), 'utf8'));
    const input = {
      ...JSON.parse(event.detail.input),
      task_id: created.body.task_id,
      tenant_id: tenant,
      video_filename: 'failed-outside-catch.mp4',
      task_key: TEST_KEYS.activeKey(tenant, 'failed-outside-catch.mp4'),
    };
    event.detail = { ...event.detail, name: created.body.task_id, input: JSON.stringify(input) };
    const dir = mkdtempSync(path.join(tmpdir(), 'sam-event-'));
    try {
      writeFileSync(path.join(dir, 'event.json'), JSON.stringify(event));

      // WHEN
      const result = await samLocalInvoke(finalizerFunction, path.join(dir, 'event.json'));

      // THEN
      expect(result).toMatchObject({ outcome: 'finalized', task: { taskId: created.body.task_id, status: 'failed' } });
      const task = await getTask(tenant, created.body.task_id);
      expect(task.body).toMatchObject({ status: 'failed', error: { error: 'States.Runtime' } });
      expect((await getActive(tenant, 'failed-outside-catch.mp4')).status).toBe(404);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('npm run sam:prepare', () => {
  let outdir: string;
  beforeAll(async () => {
    // A cloud assembly synthesized for sam local invoke, as `npm run sam:synth` writes it.
    const { App, Aspects } = await import('aws-cdk-lib');
    const { TrackingStack } = await import('../../lib/tracking-stack');
    outdir = mkdtempSync(path.join(PROJECT_ROOT, 'cdk.out.sam-'));
    const app = new App({ outdir });
    const { SamLocalEndpoints } = await import('../../lib/sam-local-endpoints');
    Aspects.of(app).add(new SamLocalEndpoints());
    new TrackingStack(app, stackName);
    app.synth();
  }, 60_000);
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  test('creates the table, writes the --env-vars file and prints each function with its own event', async () => {
    // GIVEN DynamoDB Local, no Step Functions Local
    const options = { cdkOut: outdir, dynamodbEndpoint: env.dynamoDbEndpoint };

    // WHEN
    const prepared = await samPrepare(options);
    const report = samPrepareReport(prepared, options, PROJECT_ROOT);

    // THEN
    const trackId = Object.keys(prepared.env).find((k) => k.startsWith('TrackHandler'))!;
    const finalizerId = Object.keys(prepared.env).find((k) => k.startsWith('FinalizerFunction'))!;
    expect(prepared.env[trackId]).toEqual({
      TABLE_NAME: env.tableName,
      STATE_MACHINE_ARN: env.stateMachineArn,
      // The local keyring, as the local system and the tests derive task ids with.
      TASK_ID_KEYRING: LOCAL_KEYRING_JSON,
      AWS_ENDPOINT_URL_DYNAMODB: 'http://dynamodb:8000',
      AWS_ENDPOINT_URL_SFN: 'http://stepfunctions:8083',
    });
    expect(JSON.parse(readFileSync(path.join(outdir, 'sam-env.json'), 'utf8'))).toEqual(prepared.env);
    expect(prepared.events).toEqual({
      [trackId]: 'events/post-track.json',
      [finalizerId]: 'events/execution-failed.json',
    });
    const template = path.relative(PROJECT_ROOT, prepared.templateFile);
    const envVars = path.relative(PROJECT_ROOT, prepared.envFile);
    expect(report).toContain(
      `  sam local invoke ${trackId} -t ${template} -e events/post-track.json --env-vars ${envVars} --docker-network sam-local`,
    );
    expect(report).toContain(
      `  sam local invoke ${finalizerId} -t ${template} -e events/execution-failed.json --env-vars ${envVars} --docker-network sam-local`,
    );
    expect(report.join('\n')).not.toMatch(/state machine .*ready/i);
    expect(report.join('\n')).toMatch(/No state machine \(--no-sfn\)/);
  }, 60_000);

  test('GIVEN no container on either port WHEN prepared THEN it names both and prints their docker run lines', async () => {
    const [dynamodbPort, sfnPort] = [await freePort(), await freePort()];
    const prepared = samPrepare({
      cdkOut: outdir,
      dynamodbEndpoint: `http://127.0.0.1:${dynamodbPort}`,
      sfnEndpoint: `http://127.0.0.1:${sfnPort}`,
    });
    await expect(prepared).rejects.toThrow(LocalSetupError);
    const message = await prepared.catch((e: Error) => e.message);
    expect(message).toContain(
      `Nothing answers on http://127.0.0.1:${dynamodbPort}: is the DynamoDB Local container running?`,
    );
    expect(message).toContain(
      `Nothing answers on http://127.0.0.1:${sfnPort}: is the Step Functions Local container running?`,
    );
    expect(message).toContain('docker network create sam-local');
    expect(message).toContain('docker run -d --rm --name dynamodb --network sam-local -p 127.0.0.1:8001:8000');
    expect(message).toContain(SAM_CONTAINERS.sfn.run);
  });

  test('GIVEN DynamoDB Local but no Step Functions Local WHEN prepared THEN it names only Step Functions Local', async () => {
    const sfnPort = await freePort();
    const message = await samPrepare({
      cdkOut: outdir,
      dynamodbEndpoint: env.dynamoDbEndpoint,
      sfnEndpoint: `http://127.0.0.1:${sfnPort}`,
    }).then(
      () => 'resolved',
      (e: Error) => e.message,
    );
    expect(message).toContain('Step Functions Local');
    expect(message).not.toContain('DynamoDB Local');
    expect(message).toContain(SAM_CONTAINERS.sfn.run);
    expect(message).toContain('npm run sam:prepare -- --no-sfn');
  });

  test('refuses a template synthesized without localEndpoints, saying how to fix it', async () => {
    await expect(samPrepare({ cdkOut: env.cdkOut, dynamodbEndpoint: env.dynamoDbEndpoint })).rejects.toThrow(
      /run `npm run sam:synth` first/,
    );
  });

  test('refuses a folder with no synthesized template, saying how to fix it', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'no-assembly-'));
    try {
      await expect(samPrepare({ cdkOut: empty, dynamodbEndpoint: env.dynamoDbEndpoint })).rejects.toThrow(
        `No synthesized template in ${empty}: run \`npm run sam:synth\` first.`,
      );
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
