import { ArnFormat, type CfnResource, CfnOutput, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import * as path from 'node:path';
import { acknowledgeFunctionDefaults, FUNCTION_DEFAULTS, FUNCTION_ENVIRONMENT, functionLogGroup } from './function-defaults';

export interface TrackApiProps {
  readonly table: dynamodb.ITable;
  readonly stateMachine: sfn.IStateMachine;
  /** Environment for the task rules (timings); see lambda/core/config.ts. */
  readonly serviceEnvironment: Record<string, string>;
  /**
   * Steady-state requests per second the stage accepts before answering 429.
   *
   * @default 50
   */
  readonly throttleRateLimit?: number;
  /**
   * Burst of requests the stage accepts above the rate.
   *
   * @default 100
   */
  readonly throttleBurstLimit?: number;
  /**
   * Browser origins allowed to call the API (CORS), e.g. `https://app.example.com`.
   *
   * @default - no CORS: only same-origin and non-browser clients
   */
  readonly corsAllowOrigins?: string[];
  /**
   * Removal policy of the API's log groups.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** The HTTP API and its one handler function; the handler routes and answers 405 for other methods. */
export class TrackApi extends Construct {
  readonly api: apigwv2.HttpApi;
  readonly handler: nodejs.NodejsFunction;

  constructor(scope: Construct, id: string, props: TrackApiProps) {
    super(scope, id);
    const rateLimit = props.throttleRateLimit ?? 50;
    const burstLimit = props.throttleBurstLimit ?? 100;
    if (!(rateLimit > 0) || !Number.isInteger(burstLimit) || burstLimit < 1) {
      throw new Error(`throttleRateLimit must be > 0 and throttleBurstLimit an integer >= 1, got ${rateLimit} and ${burstLimit}.`);
    }
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    this.handler = new nodejs.NodejsFunction(this, 'Handler', {
      ...FUNCTION_DEFAULTS,
      entry: path.join(__dirname, '../lambda/track/index.ts'),
      description: 'POST/GET/DELETE /api/v1/track: idempotent analysis tasks',
      timeout: Duration.seconds(10),
      logGroup: functionLogGroup(this, 'HandlerLogs', removalPolicy),
      environment: {
        ...FUNCTION_ENVIRONMENT,
        ...props.serviceEnvironment,
        TABLE_NAME: props.table.tableName,
        STATE_MACHINE_ARN: props.stateMachine.stateMachineArn,
        POWERTOOLS_SERVICE_NAME: 'track-api',
      },
    });
    acknowledgeFunctionDefaults(this.handler);
    // Exactly the calls the handler makes: GetItem, PutItem, UpdateItem (lease renewal on re-drive) and, inside
    // transactions, PutItem and DeleteItem.
    props.table.grant(this.handler, 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem');
    props.stateMachine.grantStartExecution(this.handler);
    this.handler.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['states:StopExecution'],
        resources: [
          Stack.of(this).formatArn({
            service: 'states',
            resource: 'execution',
            resourceName: `${Stack.of(this).splitArn(props.stateMachine.stateMachineArn, ArnFormat.COLON_RESOURCE_NAME).resourceName}:*`,
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        ],
      }),
    );

    Validations.of(this.handler).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${Stack.of(this).getLogicalId(props.stateMachine.node.defaultChild as CfnResource)}"}]}]}:*]`,
      reason: 'states:StopExecution on the executions of this one state machine (named after task ids, unknown at deploy time).',
    });

    this.api = new apigwv2.HttpApi(this, 'Api', {
      description: 'Idempotent video-analysis tasks',
      createDefaultStage: false,
      corsPreflight: props.corsAllowOrigins?.length
        ? {
            allowOrigins: props.corsAllowOrigins,
            allowMethods: [apigwv2.CorsHttpMethod.GET, apigwv2.CorsHttpMethod.POST, apigwv2.CorsHttpMethod.DELETE],
            // authorization: the bearer token of the cognito / jwt modes, sent by browsers (client/).
            allowHeaders: ['authorization', 'content-type'],
            exposeHeaders: ['location', 'retry-after'],
            maxAge: Duration.hours(1),
          }
        : undefined,
    });
    new apigwv2.HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit, burstLimit },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(
          new logs.LogGroup(this, 'AccessLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy }),
        ),
      },
    });

    const integration = new HttpLambdaIntegration('TrackIntegration', this.handler);
    const routes: [string, apigwv2.HttpMethod[]][] = [
      ['/api/v1/track', [apigwv2.HttpMethod.POST, apigwv2.HttpMethod.GET]],
      ['/api/v1/track/{task_id}', [apigwv2.HttpMethod.GET, apigwv2.HttpMethod.DELETE]],
    ];
    for (const [routePath, methods] of routes) {
      this.api.addRoutes({ path: routePath, methods, integration });
      // Without it API Gateway answers other methods 404; the handler answers 405 with Allow.
      this.api.addRoutes({ path: routePath, methods: [apigwv2.HttpMethod.ANY], integration });
    }

    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason: 'Authentication is a later issue; until then the tenant is named in the request and the stage is throttled.',
    });

    new CfnOutput(this, 'ApiUrl', { value: this.api.apiEndpoint, description: 'Base URL of the API' });
  }
}
