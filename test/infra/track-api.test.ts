import { Match, type Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { DEFAULT_TASK_RULES } from '../../lib/task-rules';
import { TrackApi } from '../../lib/track-api';
import { defaultTrackingStack, synthTrackingStack, unbundledStack } from '../support/synth';

let template: Template;

beforeAll(() => {
  // GIVEN the app as bin/app.ts builds it
  ({ template } = defaultTrackingStack());
});

describe('TrackApi', () => {
  test('the API handler knows the table and the state machine', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Environment: {
        Variables: Match.objectLike({
          TABLE_NAME: { Ref: Match.stringLikeRegexp('^TasksTable') },
          STATE_MACHINE_ARN: { Ref: Match.stringLikeRegexp('^AnalysisStateMachine') },
          WORKFLOW_TIMEOUT_SECONDS: '3600',
        }),
      },
    });
  });

  test.each([
    'POST /api/v1/track',
    'GET /api/v1/track',
    'ANY /api/v1/track',
    'GET /api/v1/track/{task_id}',
    'DELETE /api/v1/track/{task_id}',
    'ANY /api/v1/track/{task_id}',
  ])('route %s goes to the handler', (routeKey) => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: routeKey, Target: Match.anyValue() });
  });

  test('the stage is throttled and access-logged', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 },
      AccessLogSettings: Match.objectLike({ DestinationArn: Match.anyValue() }),
    });
  });

  test('invalid throttling is refused with a message', () => {
    // GIVEN a table, a state machine and a keyring
    const s = unbundledStack();
    const table = new dynamodb.Table(s, 'T', { partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING } });
    const stateMachine = new sfn.StateMachine(s, 'M', {
      definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(s, 'P')),
    });
    const taskIdSecret = new secretsmanager.Secret(s, 'K');
    // WHEN / THEN
    expect(
      () =>
        new TrackApi(s, 'A', {
          table,
          stateMachine,
          taskIdSecret,
          authorization: { mode: 'iam' },
          rules: DEFAULT_TASK_RULES,
          throttleBurstLimit: 0,
        }),
    ).toThrow(/throttleBurstLimit an integer >= 1/);
  });

  test('CORS is off by default; corsAllowOrigins enables a preflight for exactly those origins', () => {
    expect(
      template.findResources('AWS::ApiGatewayV2::Api', { Properties: { CorsConfiguration: Match.anyValue() } }),
    ).toEqual({});
    const { template: t } = synthTrackingStack({ corsAllowOrigins: ['https://app.example.com'] }, 'Cors');
    t.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      CorsConfiguration: Match.objectLike({
        AllowOrigins: ['https://app.example.com'],
        AllowMethods: ['GET', 'POST', 'DELETE'],
      }),
    });
  });
});
