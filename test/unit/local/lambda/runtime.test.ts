import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { type LocalFunction, loadHandler } from '../../../../local/lambda/runtime';

/** A bundle the way cdk.out holds one: index.js exporting `handler`. */
const BUNDLE = `
exports.handler = async (event) => {
  if (event.action === 'env') return { greeting: process.env.GREETING, overridden: process.env.LOCAL_LAMBDA_TEST_OVERRIDE };
  if (event.action === 'reject') throw Object.assign(new Error('not a video'), { name: 'AnalysisRejected' });
  if (event.action === 'hang') return new Promise((resolve) => setTimeout(resolve, 600000));
  return { echo: event };
};`;

let assetDir: string;
const fn = (): LocalFunction => ({
  logicalId: 'TestFunction',
  arn: 'arn:aws:lambda:us-east-1:000000000000:function:TestFunction',
  assetDir,
  handlerName: 'index.handler',
  environment: { GREETING: 'from the template', LOCAL_LAMBDA_TEST_OVERRIDE: 'from the template' },
});

beforeAll(() => {
  assetDir = mkdtempSync(path.join(tmpdir(), 'local-lambda-'));
  writeFileSync(path.join(assetDir, 'index.js'), BUNDLE);
});
afterAll(() => rmSync(assetDir, { recursive: true, force: true }));

describe('loadHandler: a function bundle in a worker thread of its own', () => {
  test('answers with the handler result through JSON, with the template environment under process.env', async () => {
    // GIVEN a developer override in process.env
    process.env.LOCAL_LAMBDA_TEST_OVERRIDE = 'from the shell';
    const lambda = loadHandler(fn());
    try {
      // WHEN / THEN
      await expect(lambda({ action: 'echo', n: 1 })).resolves.toEqual({ echo: { action: 'echo', n: 1 } });
      await expect(lambda({ action: 'env' })).resolves.toEqual({
        greeting: 'from the template',
        overridden: 'from the shell',
      });
    } finally {
      delete process.env.LOCAL_LAMBDA_TEST_OVERRIDE;
      await lambda.stop();
    }
  });

  test("a thrown error keeps its name, as Step Functions' Retry and Catch match it", async () => {
    const lambda = loadHandler(fn());
    try {
      const error = await lambda({ action: 'reject' }).catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'AnalysisRejected', message: 'not a video' });
      // The stack as the Lambda runtime reports it (the `trace` of its error payload).
      expect((error as { trace: string[] }).trace[0]).toBe('AnalysisRejected: not a video');
      expect((error as { trace: string[] }).trace.join('\n')).toContain(path.join(assetDir, 'index.js'));
    } finally {
      await lambda.stop();
    }
  });

  test('GIVEN an invocation in flight WHEN stopped THEN it is abandoned at once and no new invocation starts the function again', async () => {
    // GIVEN a handler waiting ten minutes
    const lambda = loadHandler(fn());
    const inFlight = lambda({ action: 'hang' });
    await expect(lambda({ action: 'echo' })).resolves.toEqual({ echo: { action: 'echo' } });

    // WHEN
    await lambda.stop();

    // THEN the worker and its timer are gone: the invocation fails now, not in ten minutes
    await expect(inFlight).rejects.toMatchObject({ name: 'Runtime.ExitError' });
    await expect(lambda({ action: 'echo' })).rejects.toMatchObject({ name: 'Lambda.ServiceException' });
  });
});
