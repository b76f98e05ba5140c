/**
 * `npm run capacity -- --new-per-second N --duplicate-share D [--tenants T --analysis-seconds S]`: which limit of the
 * stack as configured binds first, at what traffic, what clients see then, and the monthly cost. docs/SCALE.md.
 */
import { ArgumentError, parseArgs, report, USAGE } from './capacity/cli';
import { readMeasured } from './capacity/measured';
import { readStackConfig } from './capacity/stack-config';

function main(argv: readonly string[]): number {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  try {
    const args = parseArgs(argv);
    console.log(report(readStackConfig(args.contexts), readMeasured(), args.traffic));
    return 0;
  } catch (error) {
    if (!(error instanceof ArgumentError)) throw error;
    console.error(`${error.message}\n\n${USAGE}`);
    return 2;
  }
}

process.exitCode = main(process.argv.slice(2));
