import { Match, type Template } from 'aws-cdk-lib/assertions';
import { defaultTrackingStack, policyActions, policyStatements } from '../support/synth';

let template: Template;

beforeAll(() => {
  // GIVEN the app as bin/app.ts builds it
  ({ template } = defaultTrackingStack());
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

  test('the finalizer may only read and finish tasks: GetItem, and PutItem, DeleteItem, UpdateItem (the tenant counter) in its transaction; and read the keyring', () => {
    const actions = policyActions(policyStatements(template, 'FinalizerFunctionServiceRole')).filter(
      (a) => !a.startsWith('xray:'),
    );
    expect(actions.sort()).toEqual([
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      // secret.grantRead, on the keyring only (task-id-secret.test.ts)
      'secretsmanager:DescribeSecret',
      'secretsmanager:GetSecretValue',
    ]);
  });
});
