import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer, HttpJwtAuthorizer, HttpUserPoolAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import type * as cognito from 'aws-cdk-lib/aws-cognito';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import * as path from 'node:path';
import { acknowledgeExecutionsWildcard, executionsArn } from './private/executions';
import { TrackingFunction } from './private/tracking-function';
import { type TaskRules, taskServiceEnvironment } from './task-rules';
import { grantReadTaskIdSecret } from './task-id-secret';
import { grantQueryByTenant, grantTableItems } from './task-table';
import { Route } from '../lambda/shared/api-routes';
import { AuthMode, defaultTenantClaim } from '../lambda/shared/auth-modes';
import { ServiceName } from '../lambda/shared/observability-names';

/** How API Gateway authenticates callers, and where the handler finds the tenant (lambda/core/caller.ts). */
export type ApiAuthorization =
  | {
      readonly mode: typeof AuthMode.Cognito;
      /** The pool whose ID tokens are accepted. */
      readonly userPool: cognito.IUserPool;
      /** The app client the tokens must be issued to (their audience). */
      readonly userPoolClient: cognito.IUserPoolClient;
      /** Only `custom:tenant_id` (COGNITO_TENANT_CLAIM), the immutable attribute the app client cannot write (TrackingStack refuses others). @default - COGNITO_TENANT_CLAIM */
      readonly tenantClaim?: string;
    }
  | {
      /** An existing OpenID Connect provider. */
      readonly mode: typeof AuthMode.Jwt;
      /** The provider's issuer URL (`iss`), https. */
      readonly issuer: string;
      /** Accepted `aud` (or `client_id`) values. */
      readonly audience: string[];
      /**
       * Must be a claim the provider never lets users change (not `email`, `name` or similar): whoever can set it
       * acts for that tenant.
       *
       * @default 'tenant_id'
       */
      readonly tenantClaim?: string;
    }
  /** SigV4 for trusted service callers; they name the tenant in the request. */
  | { readonly mode: typeof AuthMode.Iam }
  /** No authentication: the tenant is whatever the caller names. Only on request. */
  | { readonly mode: typeof AuthMode.None };

export interface TrackApiProps {
  /** Authorizer on every route (the HTTP API's default authorizer). There is no default: `none` must be asked for. */
  readonly authorization: ApiAuthorization;
  /** The task table: the handler reads and writes its items and queries its by-tenant index. */
  readonly table: dynamodb.ITable;
  /** The analysis workflow: the handler starts its executions and stops them on cancel. */
  readonly stateMachine: sfn.IStateMachine;
  /** The task-id keyring: the handler makes and reads task ids, active keys and listing cursors with it. */
  readonly taskIdSecret: secretsmanager.ISecret;
  /** The task rules' timings and tenant limit, passed to the function's environment. */
  readonly rules: TaskRules;
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
  readonly handler: TrackingFunction;

  constructor(scope: Construct, id: string, props: TrackApiProps) {
    super(scope, id);
    const throttle = stageThrottle(props);
    validateAuthorization(props.authorization);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    this.handler = trackHandler(this, props, removalPolicy);
    grantHandler(this.handler, props.table, props.stateMachine);
    grantReadTaskIdSecret(props.taskIdSecret, this.handler);
    this.api = httpApi(this, props);
    new apigwv2.HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle,
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(
          new logs.LogGroup(this, 'AccessLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy }),
        ),
      },
    });
    addTrackRoutes(this.api, this.handler, props);
  }
}

/** The stage's throttle, validated. */
function stageThrottle(props: TrackApiProps): apigwv2.ThrottleSettings {
  const rateLimit = props.throttleRateLimit ?? 50;
  const burstLimit = props.throttleBurstLimit ?? 100;
  if (!(rateLimit > 0) || !Number.isInteger(burstLimit) || burstLimit < 1) {
    throw new Error(
      `throttleRateLimit must be > 0 and throttleBurstLimit an integer >= 1, got ${rateLimit} and ${burstLimit}.`,
    );
  }
  return { rateLimit, burstLimit };
}

function validateAuthorization(auth: ApiAuthorization): void {
  if (auth.mode === AuthMode.Jwt && (!/^https:\/\/[^\s]+$/.test(auth.issuer) || auth.audience.length === 0)) {
    throw new Error(
      `The jwt authorizer needs an https issuer URL and at least one audience, got issuer ${JSON.stringify(auth.issuer)} and audience ${JSON.stringify(auth.audience)}.`,
    );
  }
}

function trackHandler(scope: Construct, props: TrackApiProps, removalPolicy: RemovalPolicy): TrackingFunction {
  return new TrackingFunction(scope, 'Handler', {
    entry: path.join(__dirname, '../lambda/track/index.ts'),
    tracesSdkClients: true,
    description: 'POST/GET/DELETE /api/v1/track: idempotent analysis tasks',
    timeout: Duration.seconds(10),
    removalPolicy,
    environment: {
      ...taskServiceEnvironment(props),
      POWERTOOLS_SERVICE_NAME: ServiceName.TrackApi,
      ...handlerAuthEnvironment(props.authorization),
    },
  });
}

/** Exactly the calls the handler makes. */
function grantHandler(handler: TrackingFunction, table: dynamodb.ITable, stateMachine: sfn.IStateMachine): void {
  // GetItem, PutItem, UpdateItem (lease renewal on re-drive) and, inside transactions, PutItem and DeleteItem.
  grantTableItems(table, handler, 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem');
  // The listing (GET without video_filename) reads the by-tenant index and nothing else of it.
  grantQueryByTenant(table, handler);
  stateMachine.grantStartExecution(handler);
  handler.addToRolePolicy(
    new iam.PolicyStatement({ actions: ['states:StopExecution'], resources: [executionsArn(handler, stateMachine)] }),
  );
  acknowledgeExecutionsWildcard(
    handler,
    stateMachine,
    'states:StopExecution on the executions of this one state machine (named after task ids, unknown at deploy time).',
  );
}

function httpApi(scope: Construct, props: TrackApiProps): apigwv2.HttpApi {
  const api = new apigwv2.HttpApi(scope, 'Api', {
    description: 'Idempotent video-analysis tasks',
    createDefaultStage: false,
    // The default authorizer covers every route, the ANY routes included, and any route added later.
    defaultAuthorizer: routeAuthorizer(props.authorization),
    corsPreflight: props.corsAllowOrigins?.length
      ? {
          allowOrigins: props.corsAllowOrigins,
          allowMethods: [apigwv2.CorsHttpMethod.GET, apigwv2.CorsHttpMethod.POST, apigwv2.CorsHttpMethod.DELETE],
          allowHeaders: ['content-type', 'authorization', 'idempotency-key'],
          exposeHeaders: ['location', 'retry-after', 'idempotent-replayed'],
          maxAge: Duration.hours(1),
        }
      : undefined,
  });
  if (props.authorization.mode === AuthMode.None) {
    Validations.of(api).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        'Deployed with -c auth=none on request (synth warns): the tenant is named in the request and the stage is throttled.',
    });
  }
  return api;
}

/** The collection and item routes to the handler, each with an ANY route beside it, and preflight routes under CORS. */
function addTrackRoutes(api: apigwv2.HttpApi, handler: TrackingFunction, props: TrackApiProps): void {
  const integration = new HttpLambdaIntegration('TrackIntegration', handler);
  const routes: [string, apigwv2.HttpMethod[]][] = [
    [Route.Collection, [apigwv2.HttpMethod.POST, apigwv2.HttpMethod.GET]],
    [Route.Item, [apigwv2.HttpMethod.GET, apigwv2.HttpMethod.DELETE]],
  ];
  for (const [routePath, methods] of routes) {
    api.addRoutes({ path: routePath, methods, integration });
    // Without it API Gateway answers other methods 404; the handler answers 405 with Allow.
    api.addRoutes({ path: routePath, methods: [apigwv2.HttpMethod.ANY], integration });
    if (props.corsAllowOrigins?.length && props.authorization.mode !== AuthMode.None) {
      // Browsers send the preflight without credentials; the ANY route's authorizer would refuse it with 401.
      const preflight = api.addRoutes({
        path: routePath,
        methods: [apigwv2.HttpMethod.OPTIONS],
        integration,
        authorizer: new apigwv2.HttpNoneAuthorizer(),
      });
      for (const route of preflight) {
        Validations.of(route).acknowledge({
          id: 'AwsSolutions-APIG4',
          reason:
            'CORS preflight (OPTIONS) carries no credentials by the Fetch standard; the handler answers it 204 and does nothing else.',
        });
      }
    }
  }
}

function routeAuthorizer(auth: ApiAuthorization): apigwv2.IHttpRouteAuthorizer | undefined {
  switch (auth.mode) {
    case AuthMode.Cognito:
      return new HttpUserPoolAuthorizer('CognitoAuthorizer', auth.userPool, { userPoolClients: [auth.userPoolClient] });
    case AuthMode.Jwt:
      return new HttpJwtAuthorizer('JwtAuthorizer', auth.issuer, { jwtAudience: auth.audience });
    case AuthMode.Iam:
      return new HttpIamAuthorizer();
    case AuthMode.None:
      return undefined;
  }
}

/** AUTH_MODE and TENANT_CLAIM for the handler (lambda/core/caller.ts). */
function handlerAuthEnvironment(auth: ApiAuthorization): Record<string, string> {
  if (auth.mode === AuthMode.Cognito || auth.mode === AuthMode.Jwt)
    return { AUTH_MODE: auth.mode, TENANT_CLAIM: auth.tenantClaim ?? defaultTenantClaim(auth.mode) };
  return { AUTH_MODE: auth.mode };
}
