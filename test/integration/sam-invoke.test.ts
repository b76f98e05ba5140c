import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { templateFunctions } from '../../local/lambdas';
import { localNames, PROJECT_ROOT } from '../../local/system';
import { loadStack, resolve, resourcesOfType } from '../../local/template';
import { env, holdExecutions, releaseExecutions } from './support';

const run = promisify(execFile);
const EVENTS_DIR = path.join(PROJECT_ROOT, 'events');

/**
 * What `sam local invoke <function> -t cdk.out/VideoTracking.template.json -e events/<event>.json` does, without
 * Docker: take the API function's built asset, handler and environment from the synthesized template, add the
 * --env-vars overrides (local endpoints), and invoke it with the event in a fresh Node.js process.
 */
const { template, stackName } = loadStack(env.cdkOut);
const names = localNames(template, stackName);
const apiFunction = (() => {
  const [, integration] = resourcesOfType(template, 'AWS::ApiGatewayV2::Integration')[0];
  const targetId = integration.Properties!.IntegrationUri['Fn::GetAtt'][0];
  return templateFunctions(template, env.cdkOut, names).find((fn) => fn.logicalId === targetId)!;
})();

async function samLocalInvoke(eventFile: string): Promise<{ statusCode: number; headers: Record<string, string>; body: any }> {
  const [file, exportName] = apiFunction.handlerName.split('.');
  // The function's own stdout is its log (Powertools JSON, EMF metrics); the answer goes to a file, as SAM keeps them apart.
  const answerFile = path.join(mkdtempSync(path.join(tmpdir(), 'sam-invoke-')), 'answer.json');
  const script = `
    const fs = require('node:fs');
    const event = JSON.parse(fs.readFileSync(${JSON.stringify(path.join(EVENTS_DIR, eventFile))}, 'utf8'));
    require(${JSON.stringify(path.join(apiFunction.assetDir, `${file}.js`))})[${JSON.stringify(exportName)}](event)
      .then((r) => fs.writeFileSync(${JSON.stringify(answerFile)}, JSON.stringify(r)), (e) => { console.error(e); process.exit(1); });`;
  await run(process.execPath, ['-e', script], {
    env: {
      PATH: process.env.PATH,
      ...apiFunction.environment,
      // sam local invoke --env-vars: credentials and endpoints of the local services.
      AWS_REGION: process.env.AWS_REGION,
      AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY,
      AWS_ENDPOINT_URL_DYNAMODB: env.dynamoDbEndpoint,
      AWS_ENDPOINT_URL_SFN: env.sfnEndpoint,
      POWERTOOLS_LOG_LEVEL: 'ERROR',
    },
  });
  const result = JSON.parse(readFileSync(answerFile, 'utf8'));
  rmSync(path.dirname(answerFile), { recursive: true, force: true });
  return { ...result, body: result.body ? JSON.parse(result.body) : undefined };
}

describe('sam local invoke, equivalent: the built API function with events/*.json', () => {
  test('the function is the synthesized nodejs24.x bundle with its template environment', () => {
    expect(apiFunction.logicalId).toMatch(/^TrackHandler/);
    expect(readdirSync(apiFunction.assetDir)).toEqual(expect.arrayContaining(['index.js', 'index.js.map']));
    expect(apiFunction.environment).toMatchObject({ TABLE_NAME: env.tableName, STATE_MACHINE_ARN: env.stateMachineArn });
    const [, fn] = resourcesOfType(template, 'AWS::Lambda::Function').find(([id]) => id === apiFunction.logicalId)!;
    expect(resolve(fn.Properties!.Runtime, names)).toBe('nodejs24.x');
  });

  test('every event file is an API Gateway HTTP API payload 2.0 event for a route the API has', () => {
    const routeKeys = resourcesOfType(template, 'AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties!.RouteKey as string);
    for (const file of readdirSync(EVENTS_DIR).filter((f) => f.endsWith('.json'))) {
      const event = JSON.parse(readFileSync(path.join(EVENTS_DIR, file), 'utf8'));
      expect(event.version).toBe('2.0');
      const [method, route] = event.routeKey.split(' ');
      expect(routeKeys.includes(event.routeKey) || routeKeys.includes(`ANY ${route}`)).toBe(true);
      expect(event.requestContext.http.method).toBe(method);
    }
  });

  test('post-track.json creates, then answers the existing task; get-active-task.json finds it', async () => {
    // Each invoke is a fresh process (seconds on a busy machine): hold the execution so the task is still active.
    await holdExecutions('tenant1');
    try {
      const created = await samLocalInvoke('post-track.json');
      expect(created.statusCode).toBe(201);
      expect(created.headers.Location).toBe(`/api/v1/track/${created.body.task_id}`);

      const again = await samLocalInvoke('post-track.json');
      expect(again.statusCode).toBe(200);
      expect(again.body).toEqual({ task_id: created.body.task_id, status: expect.stringMatching(/^(not_started|running)$/), message: 'Analysis already in progress' });

      const active = await samLocalInvoke('get-active-task.json');
      expect(active.statusCode).toBe(200);
      expect(active.body.task_id).toBe(created.body.task_id);
    } finally {
      await releaseExecutions('tenant1');
    }
  });

  test('post-track-invalid.json -> 400 problem naming the field', async () => {
    const res = await samLocalInvoke('post-track-invalid.json');
    expect(res.statusCode).toBe(400);
    expect(res.headers['Content-Type']).toBe('application/problem+json');
    expect(res.body.detail).toMatch(/^tenant_id may only contain/);
  });

  test('get-task.json and cancel-task.json name an unknown task -> 404', async () => {
    expect((await samLocalInvoke('get-task.json')).statusCode).toBe(404);
    expect((await samLocalInvoke('cancel-task.json')).statusCode).toBe(404);
  });

  test('put-track-not-allowed.json -> 405 with Allow', async () => {
    const res = await samLocalInvoke('put-track-not-allowed.json');
    expect(res.statusCode).toBe(405);
    expect(res.headers.Allow).toBe('GET, POST');
  });
});

describe('npm run sam:prepare', () => {
  test('creates the table from a template synthesized with localEndpoints and writes the --env-vars file', async () => {
    // GIVEN a cloud assembly synthesized for sam local invoke
    const { App } = await import('aws-cdk-lib');
    const { TrackingStack } = await import('../../lib/tracking-stack');
    const { samPrepare } = await import('../../local/sam-prepare');
    const { mkdtempSync, rmSync } = await import('node:fs');
    const outdir = mkdtempSync(path.join(PROJECT_ROOT, 'cdk.out.sam-'));
    try {
      const app = new App({ outdir });
      new TrackingStack(app, stackName, { localEndpoints: true });
      app.synth();

      // WHEN
      const { env: vars } = await samPrepare({ cdkOut: outdir, dynamodbEndpoint: env.dynamoDbEndpoint });

      // THEN
      const [id] = Object.keys(vars).filter((k) => k.startsWith('TrackHandler'));
      expect(vars[id]).toEqual({
        TABLE_NAME: env.tableName,
        STATE_MACHINE_ARN: env.stateMachineArn,
        AWS_ENDPOINT_URL_DYNAMODB: 'http://dynamodb:8000',
        AWS_ENDPOINT_URL_SFN: 'http://stepfunctions:8083',
      });
      expect(JSON.parse(readFileSync(path.join(outdir, 'sam-env.json'), 'utf8'))).toEqual(vars);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  }, 60_000);

  test('refuses a template synthesized without localEndpoints, saying how to fix it', async () => {
    const { samPrepare } = await import('../../local/sam-prepare');
    await expect(samPrepare({ cdkOut: env.cdkOut, dynamodbEndpoint: env.dynamoDbEndpoint })).rejects.toThrow(/cdk synth -c localEndpoints=true/);
  });
});
