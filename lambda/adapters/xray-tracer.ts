import { Tracer } from '@aws-lambda-powertools/tracer';
import type { TracerModule } from './lazy-tracing';

/**
 * Powertools Tracer (and with it the X-Ray SDK): the only module that imports it. The stack bundles it as
 * `xray-tracer.js` beside each traced function's index.js, and lazy-tracing.ts requires it on the first sampled
 * invocation; a static import of this module would put the X-Ray SDK back into every cold start.
 */
export const clientCapture: TracerModule['clientCapture'] = (serviceName) => {
  const tracer = new Tracer({ serviceName });
  // Each SDK call becomes an X-Ray subsegment of the function's trace.
  return (client) => tracer.captureAWSv3Client(client);
};
