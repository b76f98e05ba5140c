import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { LazyClientTracing, type TracerModule } from '../../../lambda/adapters/lazy-tracing';

const IN_LAMBDA = { AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x' };
const SAMPLED = '_X_AMZN_TRACE_ID';
const header = (sampled: 0 | 1) =>
  `Root=1-5759e988-bd862e3fe1be46a994272793;Parent=557abcec3ee5a047;Sampled=${sampled}`;
const XRAY_MIDDLEWARE = 'XRaySDKInstrumentation';
const captured = (client: { middlewareStack: { identify(): string[] } }) =>
  client.middlewareStack.identify().some((m) => m.startsWith(XRAY_MIDDLEWARE));
const log = () => ({ warn: jest.fn() });

/** A loader that records its calls and captures by marking the client. */
function spyLoader() {
  const marked = new Set<object>();
  const load = jest.fn((): TracerModule => ({ clientCapture: () => (client) => (marked.add(client), client) }));
  return { load, marked };
}

describe('X-Ray capture of the SDK clients, loaded only for a sampled invocation in Lambda', () => {
  // The X-Ray SDK reads the process environment itself: as in Lambda for the real tracer, quiet without a segment.
  const saved = { ...process.env };
  beforeEach(() => Object.assign(process.env, IN_LAMBDA, { AWS_XRAY_CONTEXT_MISSING: 'IGNORE_ERROR' }));
  afterEach(() => {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  });

  test('a sampled invocation loads the real tracer, which captures the clients built before it, their document client too, and any built after', () => {
    // GIVEN the function's clients, built (and wrapped in a document client) before any invocation was sampled
    process.env[SAMPLED] = header(0);
    const tracing = new LazyClientTracing({ serviceName: 'test', log: log(), env: IN_LAMBDA });
    const dynamodb = tracing.register(new DynamoDBClient({ region: 'us-east-1' }));
    const sfn = tracing.register(new SFNClient({ region: 'us-east-1' }));
    const documents = DynamoDBDocumentClient.from(dynamodb);
    // WHEN an unsampled invocation starts: nothing is loaded
    tracing.beforeInvocation();
    expect(tracing.loaded).toBe(false);
    expect([captured(dynamodb), captured(sfn)]).toEqual([false, false]);
    // WHEN a sampled one starts
    process.env[SAMPLED] = header(1);
    tracing.beforeInvocation();
    // THEN lambda/adapters/xray-tracer.ts was loaded and every client now goes through the X-Ray middleware
    expect(tracing.loaded).toBe(true);
    expect([captured(dynamodb), captured(sfn), captured(documents)]).toEqual([true, true, true]);
    // AND a client registered afterwards is captured at once
    expect(captured(tracing.register(new SFNClient({ region: 'us-east-1' })))).toBe(true);
  });

  test.each([
    ['outside Lambda (npm start, tests)', {}],
    ['under the SAM CLI', { ...IN_LAMBDA, AWS_SAM_LOCAL: 'true' }],
    ['under the Amplify mock', { AWS_EXECUTION_ENV: 'AWS_Lambda_amplify-mock' }],
    ['with POWERTOOLS_TRACE_ENABLED=false', { ...IN_LAMBDA, POWERTOOLS_TRACE_ENABLED: 'false' }],
  ])(
    '%s the tracer is never loaded, even for a sampled invocation, and the clients stay as they are',
    (_where, base) => {
      // GIVEN
      process.env[SAMPLED] = header(1);
      const { load, marked } = spyLoader();
      const tracing = new LazyClientTracing({
        serviceName: 'test',
        log: log(),
        env: base,
        load,
      });
      const client = tracing.register(new DynamoDBClient({ region: 'us-east-1' }));
      // WHEN
      tracing.beforeInvocation();
      // THEN
      expect(load).not.toHaveBeenCalled();
      expect(marked.size).toBe(0);
      expect(captured(client)).toBe(false);
    },
  );

  test('an unsampled invocation loads nothing; the first sampled one loads the tracer once', () => {
    // GIVEN
    const { load, marked } = spyLoader();
    const tracing = new LazyClientTracing({ serviceName: 'test', log: log(), env: IN_LAMBDA, load });
    const client = tracing.register({});
    // WHEN invocations without a trace header, then unsampled, then sampled twice
    tracing.beforeInvocation();
    process.env[SAMPLED] = header(0);
    tracing.beforeInvocation();
    expect(load).not.toHaveBeenCalled();
    process.env[SAMPLED] = header(1);
    tracing.beforeInvocation();
    tracing.beforeInvocation();
    // THEN one load, the client captured once
    expect(load).toHaveBeenCalledTimes(1);
    expect(marked).toEqual(new Set([client]));
  });

  test("the runtime's per-invocation store is read before the environment variable (Powertools' isRequestXRaySampled)", () => {
    // GIVEN a runtime whose InvokeStore holds a sampled header while the variable says unsampled
    const { load } = spyLoader();
    const global = globalThis as { awslambda?: unknown };
    const before = global.awslambda;
    global.awslambda = { InvokeStore: { getXRayTraceId: () => header(1) } };
    process.env[SAMPLED] = header(0);
    try {
      const tracing = new LazyClientTracing({ serviceName: 'test', log: log(), env: IN_LAMBDA, load });
      // WHEN
      tracing.beforeInvocation();
      // THEN
      expect(load).toHaveBeenCalledTimes(1);
    } finally {
      global.awslambda = before;
    }
  });

  test('a bundle shipped without its tracer answers untraced: one warning, no error, no second attempt', () => {
    // GIVEN a loader that fails as a missing xray-tracer.js would
    process.env[SAMPLED] = header(1);
    const load = jest.fn((): TracerModule => {
      throw Object.assign(new Error("Cannot find module '/var/task/xray-tracer'"), { code: 'MODULE_NOT_FOUND' });
    });
    const logger = log();
    const tracing = new LazyClientTracing({
      serviceName: 'test',
      log: logger,
      env: IN_LAMBDA,
      load,
    });
    const client = tracing.register({});
    // WHEN two sampled invocations start
    expect(() => tracing.beforeInvocation()).not.toThrow();
    tracing.beforeInvocation();
    // THEN
    expect(load).toHaveBeenCalledTimes(1);
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.warn).toHaveBeenCalledWith(expect.stringContaining('not traced'), { error: expect.any(Error) });
    expect(tracing.register(client)).toBe(client);
  });
});
