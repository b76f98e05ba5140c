import { isRequestXRaySampled } from '@aws-lambda-powertools/commons/utils/env';
import * as path from 'node:path';
import type { ServiceLog } from '../core/ports';
import { TRACER_MODULE } from '../shared/observability-names';

export type ClientCapture = <C extends object>(client: C) => C;

/** What the tracer module (xray-tracer.ts, bundled as xray-tracer.js) exports. */
export interface TracerModule {
  clientCapture(serviceName: string): ClientCapture;
}

type Env = Record<string, string | undefined>;

/** Where Powertools Tracer would trace: in Lambda, not under the SAM CLI or Amplify mocks, not switched off. */
export function tracingActive(env: Env): boolean {
  const executionEnv = env.AWS_EXECUTION_ENV ?? '';
  return (
    (env.POWERTOOLS_TRACE_ENABLED ?? '').toLowerCase() !== 'false' &&
    executionEnv !== '' &&
    executionEnv !== 'AWS_Lambda_amplify-mock' &&
    !env.AWS_SAM_LOCAL
  );
}

/** Requires xray-tracer beside this code: xray-tracer.js beside the bundled index.js in Lambda, the .ts source under tsx/jest. */
const loadShippedTracer = (): TracerModule =>
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- computed at run time, so esbuild leaves the tracer out of index.js
  require(path.join(__dirname, TRACER_MODULE)) as TracerModule;

export interface LazyClientTracingOptions {
  readonly serviceName: string;
  readonly log: Pick<ServiceLog, 'warn'>;
  /** Read at construction: is tracing active. @default process.env */
  readonly env?: Env;
  /**
   * Whether the current invocation is sampled, read at its start.
   * @default - Powertools' `isRequestXRaySampled`: the runtime's per-invocation store, else `_X_AMZN_TRACE_ID`
   */
  readonly sampled?: () => boolean;
  /** @default - require xray-tracer beside this module */
  readonly load?: () => TracerModule;
}

/**
 * X-Ray capture of the AWS SDK clients, loaded on the first sampled invocation instead of at init: the X-Ray SDK is
 * most of a traced bundle and would make every cold start pay for it. Capturing adds a middleware to a client's
 * stack, so clients built before the load are captured then and trace every later call. Outside Lambda it never loads.
 */
export class LazyClientTracing {
  private readonly serviceName: string;
  private readonly log: Pick<ServiceLog, 'warn'>;
  private readonly load: () => TracerModule;
  private readonly sampled: () => boolean;
  private readonly waiting: object[] = [];
  private capture: ClientCapture | undefined;
  private active: boolean;

  constructor(options: LazyClientTracingOptions) {
    this.serviceName = options.serviceName;
    this.log = options.log;
    this.load = options.load ?? loadShippedTracer;
    this.sampled = options.sampled ?? isRequestXRaySampled;
    this.active = tracingActive(options.env ?? process.env);
  }

  /** Gives the client back; captured now if the tracer is loaded, else on the first sampled invocation. */
  readonly register: ClientCapture = (client) => {
    if (this.capture) return this.capture(client);
    if (this.active) this.waiting.push(client);
    return client;
  };

  /** Whether the tracer has been loaded (and the registered clients captured). */
  get loaded(): boolean {
    return this.capture !== undefined;
  }

  /** Called at the start of each invocation, once its clients are registered. */
  beforeInvocation(): void {
    if (!this.active || this.capture || !this.sampled()) return;
    try {
      const capture = this.load().clientCapture(this.serviceName);
      for (const client of this.waiting.splice(0)) capture(client);
      this.capture = capture;
    } catch (error) {
      // A bundle shipped without its tracer: answer untraced rather than fail every sampled request.
      this.active = false;
      this.waiting.length = 0;
      this.log.warn('X-Ray tracer not loaded: AWS SDK calls are not traced', { error });
    }
  }
}
