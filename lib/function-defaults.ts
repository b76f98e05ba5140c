import { Duration, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

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
    target: 'node24',
    // The Node.js 24 runtime ships AWS SDK v3; leaving it out keeps the bundle small.
    externalModules: ['@aws-sdk/*'],
    logLevel: nodejs.LogLevel.WARNING,
  },
} satisfies Partial<nodejs.NodejsFunctionProps>;

export const FUNCTION_ENVIRONMENT = { NODE_OPTIONS: '--enable-source-maps' };

/** A log group per function, with a retention, instead of Lambda's never-expiring default. */
export function functionLogGroup(scope: Construct, id: string, removalPolicy: RemovalPolicy): logs.LogGroup {
  return new logs.LogGroup(scope, id, { retention: logs.RetentionDays.ONE_MONTH, removalPolicy });
}

/** The two findings every traced Lambda function of this app carries, each with its reason. */
export function acknowledgeFunctionDefaults(fn: Construct): void {
  Validations.of(fn).acknowledge(
    {
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason: 'AWSLambdaBasicExecutionRole only lets the function write its own CloudWatch logs; AWS keeps it current.',
    },
    {
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'xray:PutTraceSegments and xray:PutTelemetryRecords (active tracing) support no resource-level permissions.',
    },
  );
}
