import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as path from 'node:path';
import { TrackingFunction } from '../../../lib/private/tracking-function';

test("a TrackingFunction carries the shared settings, its own log group with retention, and the caller's environment", () => {
  // GIVEN
  const stack = new Stack(new App(), 'Test');
  // WHEN
  const fn = new TrackingFunction(stack, 'Fn', {
    entry: path.join(__dirname, '../../../lambda/analyse/index.ts'),
    environment: { A: '1' },
    memorySize: 512,
  });
  // THEN
  const template = Template.fromStack(stack);
  template.hasResourceProperties('AWS::Lambda::Function', {
    Runtime: 'nodejs24.x',
    Architectures: ['arm64'],
    MemorySize: 512,
    TracingConfig: { Mode: 'Active' },
    LoggingConfig: Match.objectLike({ LogFormat: 'JSON', LogGroup: { Ref: Match.stringLikeRegexp('^FnLogs') } }),
    // No NODE_OPTIONS: --enable-source-maps would scan each bundle at load; the entries map stack traces lazily.
    Environment: { Variables: { A: '1' } },
  });
  template.hasResource('AWS::Logs::LogGroup', { Properties: { RetentionInDays: 30 }, DeletionPolicy: 'Retain' });
  expect(fn.logGroup).toBeDefined();
});
