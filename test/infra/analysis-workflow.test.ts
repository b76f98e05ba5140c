import { Duration } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { AwsSolutionsChecks } from 'cdk-nag';
import { AnalysisWorkflow } from '../../lib/analysis-workflow';
import type { CfnTemplate } from '../../local/template';
import {
  defaultTrackingStack,
  only,
  policyActions,
  policyStatements,
  stateMachineOf,
  synthTrackingStack,
  unbundledStack,
} from '../support/synth';

let template: Template;
let json: CfnTemplate;

beforeAll(() => {
  // GIVEN the app as bin/app.ts builds it
  ({ template, json } = defaultTrackingStack());
});

describe('video bucket (-c videoBucket)', () => {
  test('none by default: the Analyse function has no S3 permission', () => {
    // THEN (the stack of beforeAll has no videoBucket)
    for (const [, p] of Object.entries(template.findResources('AWS::IAM::Policy'))) {
      expect(JSON.stringify(p.Properties.PolicyDocument)).not.toContain('s3:');
    }
  });

  test('with a bucket: s3:GetObject on its tenants/ prefix only, to the Analyse function only, the name in VIDEO_BUCKET; cdk-nag satisfied', () => {
    // GIVEN / WHEN
    const { stack: withBucket, template: t } = synthTrackingStack({ videoBucket: 'my-videos' }, 'WithBucket');
    // THEN
    const s3 = Object.entries(t.findResources('AWS::IAM::Policy')).flatMap(([id, p]) =>
      (p.Properties.PolicyDocument.Statement as any[])
        .filter((st) => JSON.stringify(st.Action).includes('s3:'))
        .map((st) => ({ id, st })),
    );
    const { id, st } = only(s3);
    expect(id).toMatch(/^AnalysisAnalyseFunctionServiceRole/);
    expect(st).toEqual({
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
    expect(() => synthTrackingStack({ videoBucket: 'My_Bucket' }, 'Bad')).toThrow(
      /videoBucket must be an S3 bucket name/,
    );
  });
});

describe('state machine', () => {
  const definition = () => stateMachineOf(json);

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

  test('without a limit (0) no finishing step writes a tenant counter: two items, the record and the freed key', () => {
    // GIVEN / WHEN
    const { json: noLimit } = synthTrackingStack({ tenantActiveTaskLimit: 0 }, 'NoLimit');
    // THEN
    const states = stateMachineOf(noLimit).States;
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

  test('the success path enters three states (three billed transitions), MarkCompleted ending the execution', () => {
    const states = definition().States;
    const entered: string[] = [];
    for (let name: string | undefined = definition().StartAt; name; name = states[name].Next) {
      entered.push(name);
      expect(entered.length).toBeLessThanOrEqual(10);
    }
    expect(entered).toEqual(['MarkRunning', 'Analyse', 'MarkCompleted']);
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
    const { template: reserved } = synthTrackingStack({ analyseReservedConcurrency: 20 }, 'Reserved');
    reserved.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('^Analyses'),
      ReservedConcurrentExecutions: 20,
    });
    const s = unbundledStack();
    const table = new dynamodb.Table(s, 'T', { partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING } });
    expect(() => new AnalysisWorkflow(s, 'W', { table, reservedConcurrency: 0 })).toThrow(/positive integer/);
  });

  test('an analysis timeout over the Lambda limit is refused', () => {
    const s = unbundledStack();
    const table = new dynamodb.Table(s, 'T', { partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING } });
    expect(() => new AnalysisWorkflow(s, 'W', { table, analysisTimeout: Duration.minutes(16) })).toThrow(/15 minutes/);
  });
});

describe('state machine role', () => {
  test('the state machine role may update, put and delete items of the table and invoke the Analyse function', () => {
    const actions = policyActions(policyStatements(template, 'AnalysisStateMachineRole')).filter((a) =>
      /^(dynamodb|lambda):/.test(a),
    );
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
