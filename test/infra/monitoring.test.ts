import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { defaultTrackingStack, only, synthTrackingStack, unbundledTrackingStack } from '../support/synth';

let template: Template;

beforeAll(() => {
  // GIVEN the app as bin/app.ts builds it, with an alarm address
  ({ template } = synthTrackingStack({ alarmEmail: 'ops@example.com' }));
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
    const p = only(alarmsOn(metric, namespace, dimensions)).Properties;
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
    const aborted = only(alarmsOn('ExecutionsAborted', 'AWS/States'));
    const expression = aborted.Properties.Metrics.find((m: any) => m.Expression);
    expect(expression.Expression).toBe('FILL(aborted, 0) - FILL(stopped, 0)');
    const stopped = aborted.Properties.Metrics.find((m: any) => m.Id === 'stopped');
    expect(stopped.MetricStat.Metric).toMatchObject({ Namespace: 'VideoTracking', MetricName: 'ExecutionStopped' });
  });

  test('a rejected video (an Analyse Error by contract) alarms only as a run of five', () => {
    const analyseErrors = only(
      alarmsOn('Errors', 'AWS/Lambda', { FunctionName: functionRef('AnalysisAnalyseFunction') }),
    );
    expect(analyseErrors.Properties.Threshold).toBe(5);
    const handlerErrors = only(alarmsOn('Errors', 'AWS/Lambda', { FunctionName: functionRef('TrackHandler') }));
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
    const { template: plain } = defaultTrackingStack();
    plain.resourceCountIs('AWS::SNS::Subscription', 0);
    plain.resourceCountIs('AWS::SNS::Topic', 1);
  });

  test('a malformed address is refused with a message', () => {
    expect(() => synthTrackingStack({ alarmEmail: 'not-an-address' }, 'Bad')).toThrow(
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
    const s = unbundledTrackingStack({}, 'Plus');
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
      only(Object.values(template.findResources('AWS::CloudWatch::Dashboard'))).Properties.DashboardBody,
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
