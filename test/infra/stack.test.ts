import { App, Aspects, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { AwsSolutionsChecks } from 'cdk-nag';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { AnalysisWorkflow } from '../../lib/analysis-workflow';
import { SamLocalEndpoints } from '../../lib/sam-local-endpoints';
import { DEFAULT_TASK_RULES } from '../../lib/task-rules';
import { TrackApi } from '../../lib/track-api';
import { TrackingStack } from '../../lib/tracking-stack';
import { type CfnTemplate, stateMachineDefinition } from '../../local/template';

const placeholders = {
  ref: (id: string) => `<${id}>`,
  getAtt: (id: string, attr: string) => `<${id}.${attr}>`,
};

let stack: TrackingStack;
let template: Template;
let json: CfnTemplate;

beforeAll(() => {
  // GIVEN the app as bin/app.ts builds it
  const app = new App();
  stack = new TrackingStack(app, 'Test');
  template = Template.fromStack(stack);
  json = template.toJSON() as CfnTemplate;
});

describe('table', () => {
  test('pk string key, on-demand, PITR, TTL on expires_at, retained by default', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      Properties: {
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: Match.arrayWith([{ AttributeName: 'pk', AttributeType: 'S' }]),
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
      },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  test('a sparse index of active tasks by age, sharded, for the repair sweep; the tenant index for the listing', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      GlobalSecondaryIndexes: [
        {
          IndexName: 'active-by-age',
          KeySchema: [
            { AttributeName: 'sweep_shard', KeyType: 'HASH' },
            { AttributeName: 'created_at', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
        {
          IndexName: 'by-tenant',
          KeySchema: [
            { AttributeName: 'tenant_id', KeyType: 'HASH' },
            { AttributeName: 'created_at', KeyType: 'RANGE' },
          ],
          Projection: {
            ProjectionType: 'INCLUDE',
            NonKeyAttributes: [
              'item_type',
              'task_id',
              'video_filename',
              'status',
              'updated_at',
              'started_at',
              'finished_at',
              'result',
              'error',
            ],
          },
        },
      ],
    });
  });

  test('removalPolicy DESTROY (the throwaway switch) deletes it', () => {
    const t = Template.fromStack(new TrackingStack(new App(), 'Throwaway', { removalPolicy: RemovalPolicy.DESTROY }));
    t.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
  });
});

describe('functions', () => {
  test('every function runs nodejs24.x on arm64 with its own log group', () => {
    const fns = template.findResources('AWS::Lambda::Function');
    expect(Object.keys(fns)).toHaveLength(4);
    for (const fn of Object.values(fns)) {
      expect(fn.Properties.Runtime).toBe('nodejs24.x');
      expect(fn.Properties.Architectures).toEqual(['arm64']);
      expect(fn.Properties.LoggingConfig.LogGroup).toBeDefined();
    }
  });

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
});

describe('IAM is least privilege', () => {
  const statements = () =>
    Object.entries(template.findResources('AWS::IAM::Policy')).flatMap(([id, p]) =>
      (p.Properties.PolicyDocument.Statement as any[]).map((s) => ({ policy: id, ...s })),
    );
  const list = (v: unknown) => (Array.isArray(v) ? v : [v]);

  test('no wildcard actions', () => {
    for (const s of statements()) for (const a of list(s.Action)) expect(a).not.toMatch(/\*/);
  });

  test('no "*" resource on any DynamoDB or Step Functions action', () => {
    for (const s of statements()) {
      if (list(s.Action).some((a: string) => /^(dynamodb|states):/.test(a)))
        expect(list(s.Resource)).not.toContain('*');
    }
  });

  test('the API handler may only Get/Put/Update/Delete items of the table, Query its tenant index, start executions of the state machine and stop its executions', () => {
    const handlerPolicy = statements().filter((s) => s.policy.startsWith('TrackHandlerServiceRole'));
    const actions = handlerPolicy
      .flatMap((s) => list(s.Action))
      .filter((a: string) => !a.startsWith('xray:'))
      .sort();
    expect(actions).toEqual([
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
      'states:StartExecution',
      'states:StopExecution',
    ]);
    const query = handlerPolicy.find((s) => list(s.Action).includes('dynamodb:Query'));
    expect(JSON.stringify(query.Resource)).toMatch(/\/index\/by-tenant"\]/);
    const ddb = handlerPolicy.find((s) => list(s.Action).includes('dynamodb:PutItem'));
    expect(list(ddb.Resource)).toEqual([{ 'Fn::GetAtt': [expect.stringMatching(/^TasksTable/), 'Arn'] }]);
  });
});

describe('video bucket (-c videoBucket)', () => {
  test('none by default: the Analyse function has no S3 permission', () => {
    for (const [, p] of Object.entries(template.findResources('AWS::IAM::Policy'))) {
      expect(JSON.stringify(p.Properties.PolicyDocument)).not.toContain('s3:');
    }
  });

  test('with a bucket: s3:GetObject on its tenants/ prefix only, to the Analyse function only, the name in VIDEO_BUCKET; cdk-nag satisfied', () => {
    // GIVEN / WHEN
    const withBucket = new TrackingStack(new App(), 'WithBucket', { videoBucket: 'my-videos' });
    const t = Template.fromStack(withBucket);
    // THEN
    const s3 = Object.entries(t.findResources('AWS::IAM::Policy')).flatMap(([id, p]) =>
      (p.Properties.PolicyDocument.Statement as any[])
        .filter((st) => JSON.stringify(st.Action).includes('s3:'))
        .map((st) => ({ id, st })),
    );
    expect(s3).toHaveLength(1);
    expect(s3[0].id).toMatch(/^AnalysisAnalyseFunctionServiceRole/);
    expect(s3[0].st).toEqual({
      Effect: 'Allow',
      Action: 's3:GetObject',
      Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::my-videos/tenants/*']] },
    });
    t.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('^Analyses'),
      Environment: { Variables: Match.objectLike({ VIDEO_BUCKET: 'my-videos' }) },
    });
    const report = new AwsSolutionsChecks().validateScope(withBucket);
    expect(report.violations.map((v) => v.ruleName)).toEqual([]);
  });

  test('a bucket name S3 would refuse is refused with a message', () => {
    expect(() => new TrackingStack(new App(), 'Bad', { videoBucket: 'My_Bucket' })).toThrow(
      /videoBucket must be an S3 bucket name/,
    );
  });
});

describe('API', () => {
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

  test('the URL is a stack output', () => {
    const outputs = template.findOutputs('*');
    expect(outputs.ApiUrl.Value).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^TrackApi/), 'ApiEndpoint'] });
  });

  test('invalid throttling is refused with a message', () => {
    const s = new Stack();
    const table = new dynamodb.Table(s, 'T', { partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING } });
    const wf = new AnalysisWorkflow(s, 'W', { table });
    expect(
      () =>
        new TrackApi(s, 'A', {
          table,
          stateMachine: wf.stateMachine,
          authorization: { mode: 'iam' },
          rules: DEFAULT_TASK_RULES,
          throttleBurstLimit: 0,
        }),
    ).toThrow(/throttleBurstLimit an integer >= 1/);
  });
});

describe('state machine', () => {
  // Read as JSON: the assertions walk states of every kind.
  const definition = (): any => stateMachineDefinition(json, placeholders);

  test('Standard, JSONPath, with a timeout', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', { StateMachineType: 'STANDARD' });
    expect(definition().QueryLanguage ?? 'JSONPath').toBe('JSONPath');
    expect(definition().TimeoutSeconds).toBe(3600);
  });

  test('MarkRunning is a conditional DynamoDB update on the task id (idempotent for its own retry)', () => {
    const s = definition().States.MarkRunning;
    expect(s.Resource).toBe('arn:<AWS::Partition>:states:::dynamodb:updateItem');
    expect(s.Parameters.ConditionExpression).toBe('#task_id = :task_id AND #status IN (:not_started, :running)');
    expect(s.Catch[0]).toMatchObject({
      ErrorEquals: ['DynamoDB.ConditionalCheckFailedException'],
      Next: 'NoLongerActive',
    });
    expect(s.Parameters.Key).toEqual({ pk: { 'S.$': '$.task_key' } });
  });

  test("every finishing step gives the tenant's slot back in its transaction: ADD -1 on the counter named by the input's tenant_key", () => {
    const states = definition().States;
    for (const name of ['MarkCompleted', 'MarkFailed', 'MarkFailedBeforeRunning']) {
      const items = states[name].Parameters.TransactItems;
      expect(items).toHaveLength(3);
      const update = items.find((i: any) => i.Update).Update;
      expect(update.Key).toEqual({ pk: { 'S.$': '$.tenant_key' } });
      expect(update.UpdateExpression).toMatch(/^ADD #count :delta, #version :one SET /);
      expect(update.ExpressionAttributeValues[':delta']).toEqual({ N: '-1' });
      expect(update.ExpressionAttributeNames['#count']).toBe('active_count');
      expect(update.ConditionExpression).toBeUndefined();
    }
  });

  test('the tenant limit reaches every function that writes tasks (API, finalizer, sweeper): 100 by default, 0 allowed, no fraction', () => {
    const limitOf = (t: Template) =>
      Object.entries(t.findResources('AWS::Lambda::Function'))
        .filter(([, f]: [string, any]) => f.Properties.Environment?.Variables?.TENANT_ACTIVE_TASK_LIMIT !== undefined)
        .map(
          ([id, f]: [string, any]) =>
            `${id.replace(/[0-9A-F]{8}$/, '')}=${f.Properties.Environment.Variables.TENANT_ACTIVE_TASK_LIMIT}`,
        )
        .sort();
    expect(limitOf(template)).toEqual(['FinalizerFunction=100', 'SweeperFunction=100', 'TrackHandler=100']);
    expect(limitOf(Template.fromStack(new TrackingStack(new App(), 'NoLimit', { tenantActiveTaskLimit: 0 })))).toEqual([
      'FinalizerFunction=0',
      'SweeperFunction=0',
      'TrackHandler=0',
    ]);
    expect(() => new TrackingStack(new App(), 'Half', { tenantActiveTaskLimit: 2.5 })).toThrow(
      /tenantActiveTaskLimit must be a whole number/,
    );
  });

  test('without a limit (0) no finishing step writes a tenant counter: two items, the record and the freed key', () => {
    const noLimit = Template.fromStack(
      new TrackingStack(new App(), 'NoLimit', { tenantActiveTaskLimit: 0 }),
    ).toJSON() as CfnTemplate;
    const states = (stateMachineDefinition(noLimit, placeholders) as any).States;
    for (const name of ['MarkCompleted', 'MarkFailed', 'MarkFailedBeforeRunning']) {
      const items = states[name].Parameters.TransactItems;
      expect(items.map((i: any) => Object.keys(i)[0])).toEqual(['Put', 'Delete']);
    }
    expect(JSON.stringify(states)).not.toContain('tenant_key');
  });

  test('every Catch ends in a state that frees the key, conditionally on the task id', () => {
    const states = definition().States;
    const freesKey = (name: string) => {
      const items = states[name].Parameters?.TransactItems ?? [];
      const del = items.find((i: any) => i.Delete)?.Delete;
      return (
        del?.Key?.pk?.['S.$'] === '$.task_key' &&
        /#task_id = :task_id/.test(del.ConditionExpression) &&
        items.some((i: any) => i.Put?.Item?.pk?.['S.$'] === "States.Format('TASK#{}', $.task_id)")
      );
    };
    const catchAllOf = (name: string) => states[name].Catch.find((c: any) => c.ErrorEquals.includes('States.ALL')).Next;
    expect(catchAllOf('MarkRunning')).toBe('MarkFailedBeforeRunning');
    expect(catchAllOf('Analyse')).toBe('MarkFailed');
    expect(catchAllOf('MarkCompleted')).toBe('MarkFailed');
    expect(freesKey('MarkFailed')).toBe(true);
    expect(freesKey('MarkFailedBeforeRunning')).toBe(true);
    // A task that ran keeps its started_at when it fails.
    expect(states.MarkFailed.Parameters.TransactItems[0].Put.Item.started_at).toEqual({ 'S.$': '$.run.started_at' });
    expect(freesKey('MarkCompleted')).toBe(true);
    expect(states.MarkFailed.Parameters.TransactItems[0].Put.Item.status).toEqual({ S: 'failed' });
    expect(states.MarkCompleted.Parameters.TransactItems[0].Put.Item.status).toEqual({ S: 'completed' });
  });

  test('a finishing transaction that keeps being cancelled never ends the execution as a success while the task is still its own', () => {
    const states = definition().States;
    for (const name of ['MarkFailed', 'MarkFailedBeforeRunning']) {
      expect(states[name].Catch[0]).toMatchObject({
        ErrorEquals: ['DynamoDb.TransactionCanceledException'],
        Next: 'CheckStillActive',
      });
      expect(states[name].Retry[0]).toMatchObject({
        ErrorEquals: ['DynamoDb.TransactionCanceledException'],
        MaxAttempts: 3,
        JitterStrategy: 'FULL',
      });
    }
    expect(states.CheckStillActive).toMatchObject({
      Resource: 'arn:<AWS::Partition>:states:::dynamodb:getItem',
      Parameters: { Key: { pk: { 'S.$': '$.task_key' } }, ConsistentRead: true },
      Next: 'StillThisTask',
    });
    const choice = states.StillThisTask;
    expect(JSON.stringify(choice.Choices[0])).toContain('"StringEqualsPath":"$.task_id"');
    expect(states[choice.Choices[0].Next].Type).toBe('Fail');
    expect(states[choice.Default].Type).toBe('Succeed');
  });

  test('the success path enters three states, MarkCompleted ending the execution', () => {
    const states = definition().States;
    const path: string[] = [];
    for (let name: string | undefined = definition().StartAt; name; name = states[name].Next) path.push(name);
    expect(path).toEqual(['MarkRunning', 'Analyse', 'MarkCompleted']);
    expect(states.MarkCompleted.End).toBe(true);
  });

  test('an analysis result is never given up to a conflict: MarkCompleted waits and writes again while the task is its own and running', () => {
    const states = definition().States;
    expect(states.MarkCompleted.Retry[0]).toMatchObject({
      ErrorEquals: ['DynamoDb.TransactionCanceledException'],
      MaxAttempts: 3,
      JitterStrategy: 'FULL',
    });
    const transient = states.MarkCompleted.Catch[0];
    expect(transient.ErrorEquals).toEqual(
      expect.arrayContaining(['DynamoDb.TransactionCanceledException', 'DynamoDb.ThrottlingException']),
    );
    expect(transient.Next).toBe('CheckBeforeRecordingAgain');
    expect(states.CheckBeforeRecordingAgain).toMatchObject({
      Parameters: { ConsistentRead: true },
      Next: 'StillRunningThisTask',
    });
    // A read that stays throttled loops back to the wait instead of failing the execution with the result unrecorded.
    expect(states.CheckBeforeRecordingAgain.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'WaitToRecordResult' },
    ]);
    const choice = states.StillRunningThisTask;
    const again = JSON.stringify(choice.Choices[0]);
    expect(again).toContain('"StringEqualsPath":"$.task_id"');
    expect(again).toContain('"StringEquals":"running"');
    expect(states[choice.Choices[0].Next]).toMatchObject({ Type: 'Wait', Next: 'MarkCompleted' });
    expect(states[choice.Default].Type).toBe('Succeed');
  });

  test('Analyse retries with backoff, but never a rejected video', () => {
    const retry = definition().States.Analyse.Retry;
    expect(retry).toEqual(
      expect.arrayContaining([
        { ErrorEquals: ['AnalysisRejected'], MaxAttempts: 0 },
        expect.objectContaining({ ErrorEquals: ['States.ALL'], BackoffRate: 2, MaxAttempts: 2 }),
      ]),
    );
  });

  test('MarkFailed records the error name only: the raw Cause (stack trace, ARNs) stays in the execution history', () => {
    const states = definition().States;
    for (const name of ['MarkFailed', 'MarkFailedBeforeRunning']) {
      const put = states[name].Parameters.TransactItems.find((i: any) => i.Put).Put;
      expect(put.Item.error).toEqual({ M: { error: { 'S.$': '$.error.Error' } } });
    }
    expect(JSON.stringify(states)).not.toContain('$.error.Cause');
  });

  test('Lambda throttles and service errors are retried with capped, fully jittered backoff until the workflow timeout; before the generic retry', () => {
    const retry = definition().States.Analyse.Retry;
    const throttle = retry.findIndex((r: any) => r.ErrorEquals.includes('Lambda.TooManyRequestsException'));
    expect(throttle).toBeGreaterThan(0);
    expect(retry[throttle]).toEqual({
      ErrorEquals: [
        'Lambda.TooManyRequestsException',
        'Lambda.ServiceException',
        'Lambda.AWSLambdaException',
        'Lambda.SdkClientException',
      ],
      IntervalSeconds: 1,
      BackoffRate: 2,
      MaxDelaySeconds: 60,
      JitterStrategy: 'FULL',
      MaxAttempts: 600,
    });
    // Capped at 60 s and fully jittered, 600 attempts outlast the 3600 s timeout unless the waits average under 6 s.
    expect(retry[throttle].MaxAttempts * (retry[throttle].MaxDelaySeconds / 10)).toBeGreaterThanOrEqual(
      definition().TimeoutSeconds,
    );
    expect(retry.findIndex((r: any) => r.ErrorEquals.includes('States.ALL'))).toBeGreaterThan(throttle);
  });

  test('every DynamoDB state retries throttling and 5xx until the workflow timeout, before its generic retry', () => {
    const states = definition().States;
    const dynamoStates = Object.entries<any>(states).filter(([, s]) =>
      /states:::(aws-sdk:)?dynamodb:/.test(s.Resource ?? ''),
    );
    expect(dynamoStates.map(([name]) => name).sort()).toEqual(
      [
        'CheckBeforeRecordingAgain',
        'CheckStillActive',
        'MarkCompleted',
        'MarkFailed',
        'MarkFailedBeforeRunning',
        'MarkRunning',
      ].sort(),
    );
    for (const [name, s] of dynamoStates) {
      const i = s.Retry.findIndex((r: any) => r.ErrorEquals.includes('DynamoDB.ThrottlingException'));
      expect({ name, retry: s.Retry[i] }).toEqual({
        name,
        retry: expect.objectContaining({ MaxDelaySeconds: 60, JitterStrategy: 'FULL', MaxAttempts: 600 }),
      });
      expect(s.Retry[i].ErrorEquals).toEqual(
        expect.arrayContaining([
          'DynamoDb.ThrottlingException',
          'DynamoDB.ProvisionedThroughputExceededException',
          'DynamoDb.InternalServerError',
        ]),
      );
      expect(s.Retry.findIndex((r: any) => r.ErrorEquals.includes('States.ALL'))).toBeGreaterThan(i);
    }
  });

  test('Analyse reserves no concurrency unless asked, and refuses a reservation that is not a positive integer', () => {
    const analyse = Object.values(template.findResources('AWS::Lambda::Function')).find((f) =>
      f.Properties.Description?.startsWith('Analyses'),
    );
    expect(analyse?.Properties.ReservedConcurrentExecutions).toBeUndefined();
    const reserved = Template.fromStack(new TrackingStack(new App(), 'Reserved', { analyseReservedConcurrency: 20 }));
    reserved.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('^Analyses'),
      ReservedConcurrentExecutions: 20,
    });
    const s = new Stack();
    const table = new dynamodb.Table(s, 'T', { partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING } });
    expect(() => new AnalysisWorkflow(s, 'W', { table, reservedConcurrency: 0 })).toThrow(/positive integer/);
  });

  test('an analysis timeout over the Lambda limit is refused', () => {
    const s = new Stack();
    const table = new dynamodb.Table(s, 'T', { partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING } });
    expect(() => new AnalysisWorkflow(s, 'W', { table, analysisTimeout: Duration.minutes(16) })).toThrow(/15 minutes/);
  });
});

describe('cdk-nag AwsSolutions', () => {
  test('no finding left without an acknowledged reason', () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(
      report.violations.map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.resourceLogicalId).join(',')}`),
    ).toEqual([]);
    expect(report.success).toBe(true);
  });
});

describe('finalizer (executions that end outside the Catch)', () => {
  test("an EventBridge rule on this state machine's FAILED, TIMED_OUT and ABORTED executions targets the finalizer, with a DLQ", () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: {
          status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
          stateMachineArn: [{ Ref: Match.stringLikeRegexp('^AnalysisStateMachine') }],
        },
      },
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^FinalizerFunction'), 'Arn'] },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^FinalizerDeadLetterQueue'), 'Arn'] } },
          RetryPolicy: { MaximumRetryAttempts: 20, MaximumEventAgeInSeconds: 86400 },
        }),
      ],
    });
  });

  test('the finalizer may only read and finish tasks: GetItem, and PutItem, DeleteItem, UpdateItem (the tenant counter) in its transaction', () => {
    const policy = Object.entries(template.findResources('AWS::IAM::Policy')).find(([id]) =>
      id.startsWith('FinalizerFunctionServiceRole'),
    )![1];
    const statements = policy.Properties.PolicyDocument.Statement as any[];
    const actions = statements
      .flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]))
      .filter((a: string) => !a.startsWith('xray:'));
    expect(actions.sort()).toEqual([
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ]);
  });

  test('the state machine role may update, put and delete items of the table and invoke the Analyse function', () => {
    const policy = Object.entries(template.findResources('AWS::IAM::Policy')).find(([id]) =>
      id.startsWith('AnalysisStateMachineRole'),
    )![1];
    const actions = (policy.Properties.PolicyDocument.Statement as any[])
      .flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]))
      .filter((a: string) => /^(dynamodb|lambda):/.test(a));
    expect(new Set(actions)).toEqual(
      new Set([
        'dynamodb:UpdateItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:DeleteItem',
        'lambda:InvokeFunction',
      ]),
    );
  });
});

describe('cdk-nag catches what it should', () => {
  test('an unacknowledged finding fails the check', () => {
    const s = new Stack();
    new dynamodb.Table(s, 'NoPitr', { partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING } });
    expect(new AwsSolutionsChecks().validateScope(s).success).toBe(false);
  });
});

describe('CORS', () => {
  test('off by default; corsAllowOrigins enables a preflight for exactly those origins', () => {
    expect(
      template.findResources('AWS::ApiGatewayV2::Api', { Properties: { CorsConfiguration: Match.anyValue() } }),
    ).toEqual({});
    const t = Template.fromStack(
      new TrackingStack(new App(), 'Cors', { corsAllowOrigins: ['https://app.example.com'] }),
    );
    t.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      CorsConfiguration: Match.objectLike({
        AllowOrigins: ['https://app.example.com'],
        AllowMethods: ['GET', 'POST', 'DELETE'],
      }),
    });
  });
});

describe('sam local invoke support', () => {
  test('the deployable template never points the SDK at local endpoints', () => {
    expect(JSON.stringify(json)).not.toMatch(/AWS_ENDPOINT_URL/);
  });

  test('the app refuses -c localEndpoints=true unless the output is cdk.out.sam (so cdk deploy cannot ship it)', () => {
    const parent = mkdtempSync(path.join(tmpdir(), 'app-'));
    // No esbuild bundling: only whether the app synthesizes matters here.
    const context = JSON.stringify({ localEndpoints: 'true', 'aws:cdk:bundling-stacks': [] });
    const run = (outdir: string) =>
      spawnSync(process.execPath, ['--import', 'tsx', 'bin/app.ts'], {
        cwd: path.join(__dirname, '../..'),
        env: { ...process.env, CDK_OUTDIR: path.join(parent, outdir), CDK_CONTEXT_JSON: context },
        encoding: 'utf8',
      });
    const refused = run('cdk.out');
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(
      /localEndpoints=true is only for sam local invoke: synthesize it with `npm run sam:synth`/,
    );
    const sam = run('cdk.out.sam');
    expect(sam.stderr).not.toMatch(/only for sam local invoke/);
    expect(sam.status).toBe(0);
    expect(existsSync(path.join(parent, 'cdk.out.sam', 'VideoTracking.template.json'))).toBe(true);
  }, 120_000);

  test('the SamLocalEndpoints aspect declares the endpoint variables on each function sam:prepare configures, and only there', () => {
    // GIVEN
    const app = new App();
    // WHEN
    Aspects.of(app).add(new SamLocalEndpoints());
    const t = Template.fromStack(new TrackingStack(app, 'Sam'));
    // THEN
    const variables = Object.values(t.findResources('AWS::Lambda::Function')).map(
      (fn) => fn.Properties.Environment.Variables as Record<string, unknown>,
    );
    const withEndpoints = variables.filter(
      (v) =>
        v.AWS_ENDPOINT_URL_DYNAMODB === 'http://dynamodb:8000' &&
        v.AWS_ENDPOINT_URL_SFN === 'http://stepfunctions:8083',
    );
    expect(withEndpoints).toHaveLength(3);
    expect(variables.filter((v) => 'STATE_MACHINE_ARN' in v)).toEqual(withEndpoints);
  });
});
