import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { TrackingStack } from '../../lib/tracking-stack';
import { type CfnTemplate, stateMachineDefinition } from '../../local/template';

let stack: TrackingStack;
let template: Template;

beforeAll(() => {
  // GIVEN the app as bin/app.ts builds it, with an alarm address
  stack = new TrackingStack(new App(), 'Test', { alarmEmail: 'ops@example.com' });
  template = Template.fromStack(stack);
});

const TOPIC = () => ({ Ref: Object.keys(template.findResources('AWS::SNS::Topic'))[0] });

/** Alarms whose single metric, or one of whose math-expression metrics, matches. */
function alarmsOn(metricName: string, namespace: string, dimensions?: Record<string, unknown>) {
  const matches = (m: { MetricName?: string; Namespace?: string; Dimensions?: { Name: string; Value: unknown }[] }) =>
    m.MetricName === metricName &&
    m.Namespace === namespace &&
    Object.entries(dimensions ?? {}).every(
      ([k, v]) => JSON.stringify(m.Dimensions?.find((d) => d.Name === k)?.Value) === JSON.stringify(v),
    );
  return Object.values(template.findResources('AWS::CloudWatch::Alarm')).filter((a) => {
    const p = a.Properties;
    if (p.MetricName) return matches(p);
    return (p.Metrics ?? []).some((m: any) => m.MetricStat && matches({ ...m.MetricStat.Metric }));
  });
}

const ref = (prefix: RegExp) => ({ Ref: Match.stringLikeRegexp(prefix.source) });
const functionRef = (id: string) => {
  const [logicalId] = Object.keys(template.findResources('AWS::Lambda::Function')).filter((k) => k.startsWith(id));
  return { Ref: logicalId };
};

describe('alarms: each one exists and notifies the alarm topic', () => {
  const cases: [string, () => { metric: string; namespace: string; dimensions?: Record<string, unknown> }][] = [
    [
      'API 5xx',
      () => ({
        metric: '5xx',
        namespace: 'AWS/ApiGateway',
        dimensions: { ApiId: { Ref: Object.keys(template.findResources('AWS::ApiGatewayV2::Api'))[0] } },
      }),
    ],
    [
      'handler DependencyUnavailable',
      () => ({ metric: 'DependencyUnavailable', namespace: 'VideoTracking', dimensions: { service: 'track-api' } }),
    ],
    [
      'handler InternalError',
      () => ({ metric: 'InternalError', namespace: 'VideoTracking', dimensions: { service: 'track-api' } }),
    ],
    ['ExecutionsFailed', () => ({ metric: 'ExecutionsFailed', namespace: 'AWS/States' })],
    ['ExecutionsTimedOut', () => ({ metric: 'ExecutionsTimedOut', namespace: 'AWS/States' })],
    ['ExecutionsAborted', () => ({ metric: 'ExecutionsAborted', namespace: 'AWS/States' })],
    [
      'dead-letter queue holding a message',
      () => ({ metric: 'ApproximateNumberOfMessagesVisible', namespace: 'AWS/SQS' }),
    ],
    ['table ThrottledRequests', () => ({ metric: 'ThrottledRequests', namespace: 'AWS/DynamoDB' })],
    ['table SystemErrors', () => ({ metric: 'SystemErrors', namespace: 'AWS/DynamoDB' })],
    [
      'repairs by the sweep',
      () => ({ metric: 'TaskRepaired', namespace: 'VideoTracking', dimensions: { service: 'task-sweeper' } }),
    ],
    ...['TrackHandler', 'FinalizerFunction', 'SweeperFunction', 'AnalysisAnalyseFunction'].flatMap((fn) =>
      (['Errors', 'Throttles'] as const).map(
        (metric): [string, () => { metric: string; namespace: string; dimensions: Record<string, unknown> }] => [
          `${fn} ${metric}`,
          () => ({ metric, namespace: 'AWS/Lambda', dimensions: { FunctionName: functionRef(fn) } }),
        ],
      ),
    ),
  ];

  test.each(cases)('%s', (_, spec) => {
    const { metric, namespace, dimensions } = spec();
    const alarms = alarmsOn(metric, namespace, dimensions);
    expect(alarms).toHaveLength(1);
    const p = alarms[0].Properties;
    expect(p.AlarmActions).toEqual([TOPIC()]);
    expect(p.OKActions).toEqual([TOPIC()]);
    expect(p.TreatMissingData).toBe('notBreaching');
    expect(p.ComparisonOperator).toBe('GreaterThanOrEqualToThreshold');
    expect(p.AlarmDescription).toMatch(/Runbook: docs\/OPERATIONS\.md#/);
  });

  test('the same alarm set, no more: every alarm is in the runbook list', () => {
    expect(Object.keys(template.findResources('AWS::CloudWatch::Alarm'))).toHaveLength(cases.length);
  });

  test('aborts the API asked for (cancel, takeover) do not raise the ExecutionsAborted alarm', () => {
    const [aborted] = alarmsOn('ExecutionsAborted', 'AWS/States');
    const expression = aborted.Properties.Metrics.find((m: any) => m.Expression);
    expect(expression.Expression).toBe('FILL(aborted, 0) - FILL(stopped, 0)');
    const stopped = aborted.Properties.Metrics.find((m: any) => m.Id === 'stopped');
    expect(stopped.MetricStat.Metric).toMatchObject({ Namespace: 'VideoTracking', MetricName: 'ExecutionStopped' });
  });

  test('a rejected video (an Analyse Error by contract) alarms only as a run of five', () => {
    const [analyseErrors] = alarmsOn('Errors', 'AWS/Lambda', { FunctionName: functionRef('AnalysisAnalyseFunction') });
    expect(analyseErrors.Properties.Threshold).toBe(5);
    const [handlerErrors] = alarmsOn('Errors', 'AWS/Lambda', { FunctionName: functionRef('TrackHandler') });
    expect(handlerErrors.Properties.Threshold).toBe(1);
  });
});

describe('alarm topic', () => {
  test('-c alarmEmail subscribes the address; without it, no subscription', () => {
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
      TopicArn: TOPIC(),
    });
    const plain = Template.fromStack(new TrackingStack(new App(), 'NoEmail'));
    plain.resourceCountIs('AWS::SNS::Subscription', 0);
    plain.resourceCountIs('AWS::SNS::Topic', 1);
  });

  test('a malformed address is refused with a message', () => {
    expect(() => new TrackingStack(new App(), 'Bad', { alarmEmail: 'not-an-address' })).toThrow(
      /alarmEmail must be an e-mail address/,
    );
  });

  test('publishing requires TLS', () => {
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });
});

describe('more functions can be monitored', () => {
  test('monitorFunction adds Errors and Throttles alarms on the same topic', () => {
    // GIVEN the stack and one more function
    const s = new TrackingStack(new App(), 'Plus');
    const sweep = new lambda.Function(s, 'SweepFunction', {
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('exports.handler=async()=>{}'),
    });
    // WHEN
    s.monitoring.monitorFunction({ name: 'Sweep', function: sweep });
    // THEN
    const t = Template.fromStack(s);
    for (const metricName of ['Errors', 'Throttles']) {
      t.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: metricName,
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: Match.stringLikeRegexp('^SweepFunction') } }],
        AlarmActions: [{ Ref: Match.stringLikeRegexp('^MonitoringAlarmTopic') }],
      });
    }
  });
});

describe('dashboard', () => {
  test('one dashboard with every view the issue names', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    const body = JSON.stringify(
      Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0].Properties.DashboardBody,
    );
    for (const title of [
      'Requests by outcome',
      'API latency',
      'Handler duration',
      'Tasks created vs answered as duplicates',
      'Executions',
      'Billed state transitions',
      'Finalizer dead-letter queue',
      'Repairs',
      'Alarms',
    ]) {
      expect(body).toContain(title);
    }
    for (const stat of ['p50', 'p99']) expect(body).toContain(`\\"stat\\":\\"${stat}\\"`);
    for (const metric of [
      'TaskRedriven',
      'LeaseTakeover',
      'Compensation',
      'FinalizerRecorded',
      'TaskRepaired',
      'ConsumedCapacity',
    ])
      expect(body).toContain(metric);
  });
});

describe('saved Logs Insights queries', () => {
  test('"follow one task" searches the handler, finalizer, sweeper, analyse and execution log groups by task_id', () => {
    template.hasResourceProperties('AWS::Logs::QueryDefinition', {
      Name: 'Test/follow-one-task',
      QueryString: Match.stringLikeRegexp('task_id = "REPLACE-WITH-TASK-ID"'),
      LogGroupNames: [
        ref(/^TrackHandlerLogs/),
        ref(/^FinalizerLogs/),
        ref(/^SweeperLogs/),
        ref(/^AnalysisAnalyseLogs/),
        ref(/^AnalysisExecutionLogs/),
      ],
    });
    expect(Object.keys(template.findResources('AWS::Logs::QueryDefinition')).length).toBeGreaterThanOrEqual(3);
  });
});

describe('outputs', () => {
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

describe('tracing', () => {
  test('every function runs with active X-Ray tracing, and so does the state machine', () => {
    const fns = Object.values(template.findResources('AWS::Lambda::Function'));
    expect(fns.length).toBeGreaterThan(0);
    for (const fn of fns) expect(fn.Properties.TracingConfig).toEqual({ Mode: 'Active' });
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', { TracingConfiguration: { Enabled: true } });
  });
});

describe('billed state transitions', () => {
  test('the success path of the synthesized definition enters at most 3 states and ends at MarkCompleted', () => {
    const definition: any = stateMachineDefinition(template.toJSON() as CfnTemplate, {
      ref: (id) => `<${id}>`,
      getAtt: (id, a) => `<${id}.${a}>`,
    });
    const entered: string[] = [];
    for (let name: string | undefined = definition.StartAt; name; name = definition.States[name].Next) {
      entered.push(name);
      expect(entered.length).toBeLessThanOrEqual(10);
    }
    expect(entered).toEqual(['MarkRunning', 'Analyse', 'MarkCompleted']);
    expect(definition.States.MarkCompleted.End).toBe(true);
  });
});
