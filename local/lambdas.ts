import * as path from 'node:path';
import type { LambdaHandler } from './local-step-functions';
import { type CfnTemplate, type LocalNames, resolve, resourcesOfType } from './template';

export interface LocalFunction {
  readonly logicalId: string;
  readonly arn: string;
  /** The function's built asset in cdk.out (what Lambda runs). */
  readonly assetDir: string;
  readonly handlerName: string;
  readonly environment: Record<string, string>;
}

export function functionArn(logicalId: string): string {
  return `arn:aws:lambda:us-east-1:000000000000:function:${logicalId}`;
}

/** The functions of the synthesized template with their bundle, handler and (locally resolved) environment. */
export function templateFunctions(template: CfnTemplate, cdkOut: string, names: LocalNames): LocalFunction[] {
  return resourcesOfType(template, 'AWS::Lambda::Function').map(([logicalId, r]) => {
    const assetPath = r.Metadata?.['aws:asset:path'];
    if (!assetPath) throw new Error(`Function ${logicalId} has no asset in ${cdkOut}; was it synthesized with bundling?`);
    return {
      logicalId,
      arn: functionArn(logicalId),
      assetDir: path.resolve(cdkOut, assetPath),
      handlerName: String(r.Properties!.Handler),
      environment: resolve(r.Properties!.Environment?.Variables ?? {}, names),
    };
  });
}

/**
 * Loads a function's bundle in-process, as the Lambda runtime would: its environment is applied first (values already
 * in process.env win, so a developer can override them), then module `index`'s exported handler is called.
 */
export function loadHandler(fn: LocalFunction): LambdaHandler {
  let handler: LambdaHandler | undefined;
  return async (event) => {
    if (!handler) {
      for (const [k, v] of Object.entries(fn.environment)) if (k !== 'NODE_OPTIONS') process.env[k] ??= v;
      const [file, exportName] = fn.handlerName.split('.');
      const mod = require(path.join(fn.assetDir, `${file}.js`)) as Record<string, LambdaHandler>;
      handler = mod[exportName];
      if (typeof handler !== 'function') throw new Error(`${fn.handlerName} is not a function in ${fn.assetDir}`);
    }
    return handler(event);
  };
}
