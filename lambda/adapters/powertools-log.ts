import { type Logger, LogLevelThreshold } from '@aws-lambda-powertools/logger';
import type { ServiceLog } from '../core/ports';

/**
 * The core's log port on Powertools Logger, with its per-request line skipped up front when INFO is below the
 * current level: Powertools reads the X-Ray trace header and the environment for every call before it looks at the
 * level (~5 µs, measured by `npm run bench:cpu`). The level is read per call, so a per-invocation level (sampling,
 * Lambda's log level controls) still applies. Warnings and errors go straight through.
 */
export function powertoolsLog(logger: Logger): ServiceLog {
  return {
    info: (message, extra) => {
      if (logger.level <= LogLevelThreshold.INFO) logger.info(message, extra);
    },
    warn: (message, extra) => logger.warn(message, extra),
    error: (message, extra) => logger.error(message, extra),
  };
}
