import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  type CfnTemplate,
  functionArn,
  type FunctionProperties,
  type LocalNames,
  resolve,
  resourcesOfType,
} from '../template';

export interface LocalFunction {
  readonly logicalId: string;
  readonly arn: string;
  /** The function's built asset in cdk.out (what Lambda runs). */
  readonly assetDir: string;
  readonly handlerName: string;
  readonly environment: Record<string, string>;
}

/** The functions of the synthesized template with their bundle, handler and (locally resolved) environment. */
export function templateFunctions(template: CfnTemplate, cdkOut: string, names: LocalNames): LocalFunction[] {
  return resourcesOfType(template, 'AWS::Lambda::Function').map(([logicalId, r]) => {
    const assetPath = r.Metadata?.['aws:asset:path'];
    if (typeof assetPath !== 'string')
      throw new Error(`Function ${logicalId} has no asset in ${cdkOut}; was it synthesized with bundling?`);
    const props = r.Properties as FunctionProperties | undefined;
    return {
      logicalId,
      arn: functionArn(logicalId),
      assetDir: path.resolve(cdkOut, assetPath),
      handlerName: String(props?.Handler),
      environment: resolve(props?.Environment?.Variables ?? {}, names) as Record<string, string>,
    };
  });
}

/** A function's local runtime: invoke it like Lambda does; stop() ends it, abandoning invocations still in flight. */
export interface LocalLambda {
  (event: unknown): Promise<unknown>;
  stop(): Promise<void>;
}

/**
 * The function's runtime, one worker thread per function, started at the first invocation: it loads module
 * `index` of the bundle with the function's environment (values already in process.env win, so a developer can
 * override them) and answers each invocation with the handler's JSON result or its error's name, message and stack.
 */
const RUNTIME = `
const { parentPort, workerData } = require('node:worker_threads');
const handler = require(workerData.module)[workerData.exportName];
parentPort.on('message', ({ id, event }) => {
  Promise.resolve()
    .then(() => {
      if (typeof handler !== 'function') throw new Error(workerData.handlerName + ' is not a function in ' + workerData.module);
      return handler(event);
    })
    .then(
      (result) => parentPort.postMessage({ id, result: result === undefined ? undefined : JSON.stringify(result) }),
      (e) => parentPort.postMessage({ id, error: { name: (e && e.name) || 'Error', message: (e && e.message) || String(e), stack: (e && e.stack) || '' } }),
    );
});`;

/** A function error as the Lambda runtime reports it: errorType (the name), errorMessage, and the stack as `trace`. */
export type LambdaError = Error & { readonly trace: string[] };

export function lambdaError(name: string, message: string, trace: string[] = []): LambdaError {
  return Object.assign(new Error(message), { name, trace });
}

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void };

/**
 * Runs a function's bundle as Lambda would, in its own worker thread, so that stop() ends whatever the function
 * still does (a timer, an open socket), as Lambda freezes an abandoned invocation; until then the worker stays warm.
 */
export function loadHandler(fn: LocalFunction): LocalLambda {
  let worker: Worker | undefined;
  let stopped = false;
  let nextId = 0;
  const pending = new Map<number, Pending>();
  const failAll = (error: Error) => {
    for (const p of pending.values()) p.reject(error);
    pending.clear();
  };
  const start = (): Worker => {
    const [file, exportName] = fn.handlerName.split('.');
    const environment = withoutNodeOptions(fn.environment);
    const w = new Worker(RUNTIME, {
      eval: true,
      execArgv: [],
      env: { ...environment, ...process.env },
      workerData: { module: path.join(fn.assetDir, `${file}.js`), exportName, handlerName: fn.handlerName },
    });
    w.on(
      'message',
      ({
        id,
        result,
        error,
      }: {
        id: number;
        result?: string;
        error?: { name: string; message: string; stack: string };
      }) => {
        const p = pending.get(id);
        pending.delete(id);
        if (error) p?.reject(lambdaError(error.name, error.message, error.stack.split('\n')));
        else p?.resolve(result === undefined ? undefined : JSON.parse(result));
      },
    );
    w.on('error', (e: Error) => failAll(lambdaError('Runtime.ExitError', e.message)));
    w.on('exit', (code) => {
      if (worker === w) worker = undefined;
      failAll(lambdaError('Runtime.ExitError', `${fn.logicalId} exited (code ${code})`));
    });
    return w;
  };
  const invoke = (event: unknown) =>
    new Promise<unknown>((resolve, reject) => {
      if (stopped)
        return reject(Object.assign(new Error(`${fn.logicalId} is stopped`), { name: 'Lambda.ServiceException' }));
      worker ??= start();
      const id = nextId++;
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, event });
    });
  return Object.assign(invoke, {
    async stop() {
      stopped = true;
      const w = worker;
      worker = undefined;
      if (w) await w.terminate();
    },
  });
}

/** The function's environment without NODE_OPTIONS: flags for Lambda's node process, not for the local one. */
export function withoutNodeOptions(environment: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(environment).filter(([k]) => k !== 'NODE_OPTIONS'));
}
