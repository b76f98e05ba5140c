import { Match, type Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { TrackingStack } from '../../lib/tracking-stack';
import { defaultTrackingStack, synthTrackingStack, unbundledStack } from '../support/synth';

let stack: TrackingStack;
let template: Template;

beforeAll(() => {
  // GIVEN the app as bin/app.ts builds it
  ({ stack, template } = defaultTrackingStack());
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

  test('every function runs with active X-Ray tracing, and so does the state machine', () => {
    const fns = Object.values(template.findResources('AWS::Lambda::Function'));
    expect(fns.length).toBeGreaterThan(0);
    for (const fn of fns) expect(fn.Properties.TracingConfig).toEqual({ Mode: 'Active' });
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', { TracingConfiguration: { Enabled: true } });
  });
});

describe('tenant limit', () => {
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
    expect(limitOf(synthTrackingStack({ tenantActiveTaskLimit: 0 }, 'NoLimit').template)).toEqual([
      'FinalizerFunction=0',
      'SweeperFunction=0',
      'TrackHandler=0',
    ]);
    expect(() => synthTrackingStack({ tenantActiveTaskLimit: 2.5 }, 'Half')).toThrow(
      /tenantActiveTaskLimit must be a whole number/,
    );
  });
});

describe('outputs', () => {
  test('the URL is a stack output', () => {
    template.hasOutput('ApiUrl', { Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^TrackApi'), 'ApiEndpoint'] } });
  });

  test.each([
    'ApiUrl',
    'TableName',
    'StateMachineArn',
    'DashboardUrl',
    'AlarmTopicArn',
    'DeadLetterQueueUrl',
    'FinalizerFunctionName',
    'HandlerLogGroup',
    'FinalizerLogGroup',
    'SweeperLogGroup',
    'AnalyseLogGroup',
    'ExecutionLogGroup',
  ])('%s', (name) => {
    expect(template.findOutputs(name)).toHaveProperty(name);
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

describe('cdk-nag catches what it should', () => {
  test('an unacknowledged finding fails the check', () => {
    // GIVEN a table without point-in-time recovery, nothing acknowledged
    const s = unbundledStack();
    new dynamodb.Table(s, 'NoPitr', { partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING } });
    // WHEN / THEN
    expect(new AwsSolutionsChecks().validateScope(s).success).toBe(false);
  });
});
