import { AssetStaging, Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import * as path from 'node:path';
import { TRACER_MODULE } from '../../lambda/shared/observability-names';

/** Settings every function of the app shares: Node.js 24 on Graviton, small esbuild bundles with source maps. */
export const FUNCTION_DEFAULTS = {
  runtime: lambda.Runtime.NODEJS_24_X,
  architecture: lambda.Architecture.ARM_64,
  memorySize: 256,
  timeout: Duration.seconds(10),
  loggingFormat: lambda.LoggingFormat.JSON,
  tracing: lambda.Tracing.ACTIVE,
  bundling: {
    minify: true,
    sourceMap: true,
    // Stack traces need only the mappings; the sources' text made the map 6× larger. No NODE_OPTIONS=--enable-source-maps
    // (it scans each bundle at load): the entries map their stack traces lazily (lambda/adapters/lazy-source-maps.ts).
    sourcesContent: false,
    target: 'node24',
    // The Node.js 24 runtime ships AWS SDK v3; leaving it out keeps the bundle small.
    externalModules: ['@aws-sdk/*'],
    logLevel: nodejs.LogLevel.WARNING,
  },
} satisfies Partial<nodejs.NodejsFunctionProps>;

/** The tracer module's source, bundled on its own for functions with `tracesSdkClients`. */
const TRACER_SOURCE = path.join('lambda', 'adapters', `${TRACER_MODULE}.ts`);

/**
 * Shell commands that bundle the X-Ray tracer (lambda/adapters/xray-tracer.ts) as xray-tracer.js beside index.js,
 * with the function's own esbuild settings: the entry requires it only for a sampled invocation, so it stays out of
 * index.js and out of every cold start. esbuild as CDK runs it: the project's, or the bundling image's in Docker.
 */
function tracerBundlingCommands(inputDir: string, outputDir: string): string[] {
  const { target, externalModules, minify, sourceMap, sourcesContent } = FUNCTION_DEFAULTS.bundling;
  const esbuild = inputDir === AssetStaging.BUNDLING_INPUT_DIR ? 'esbuild' : 'npx --no-install esbuild';
  const args = [
    '--bundle',
    `"${path.posix.join(inputDir, ...TRACER_SOURCE.split(path.sep))}"`,
    '--platform=node',
    `--target=${target}`,
    `--outfile="${path.posix.join(outputDir, `${TRACER_MODULE}.js`)}"`,
    ...(minify ? ['--minify'] : []),
    ...(sourceMap ? ['--sourcemap'] : []),
    ...(sourcesContent ? [] : ['--sources-content=false']),
    ...externalModules.map((m) => `"--external:${m}"`),
    '--log-level=warning',
  ];
  return [`${esbuild} ${args.join(' ')}`];
}

export interface TrackingFunctionProps extends Omit<
  nodejs.NodejsFunctionProps,
  'runtime' | 'architecture' | 'logGroup' | 'tracing'
> {
  /** The handler's source file (an absolute path). */
  readonly entry: string;
  /**
   * Id of the function's log group, created next to the function (in the same scope).
   * @default `${id}Logs`
   */
  readonly logGroupId?: string;
  /**
   * What happens to the log group when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * The entry traces its AWS SDK clients with lambda/adapters/lazy-tracing.ts: ship xray-tracer.js beside index.js.
   * @default false
   */
  readonly tracesSdkClients?: boolean;
}

/**
 * A function of this app: FUNCTION_DEFAULTS (Node.js 24, arm64, JSON logs, active tracing, minified bundle with
 * source maps), a log group with a month's retention instead of Lambda's never-expiring default, and the two
 * cdk-nag findings every traced function carries, acknowledged with their reasons.
 */
export class TrackingFunction extends nodejs.NodejsFunction {
  constructor(scope: Construct, id: string, props: TrackingFunctionProps) {
    const { logGroupId, removalPolicy, tracesSdkClients, ...rest } = props;
    // Created in the parent scope, before super(): its id stays where it was when each construct made its own.
    const logGroup = new logs.LogGroup(scope, logGroupId ?? `${id}Logs`, {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: removalPolicy ?? RemovalPolicy.RETAIN,
    });
    super(scope, id, {
      ...FUNCTION_DEFAULTS,
      ...rest,
      bundling: {
        ...FUNCTION_DEFAULTS.bundling,
        ...rest.bundling,
        ...(tracesSdkClients
          ? {
              commandHooks: {
                beforeBundling: () => [],
                beforeInstall: () => [],
                afterBundling: tracerBundlingCommands,
              },
            }
          : {}),
      },
      logGroup,
    });
    Validations.of(this).acknowledge(
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason:
          'AWSLambdaBasicExecutionRole only lets the function write its own CloudWatch logs; AWS keeps it current.',
      },
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'xray:PutTraceSegments and xray:PutTelemetryRecords (active tracing) support no resource-level permissions.',
      },
    );
  }
}
