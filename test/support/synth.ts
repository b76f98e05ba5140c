import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { TrackingStack, type TrackingStackProps } from '../../lib/tracking-stack';
import { type CfnTemplate, stateMachineDefinition } from '../../local/template';

/**
 * An App whose functions are not bundled: its template is the one `cdk synth` writes but for asset hashes, in a
 * second instead of an esbuild run per function. test/infra/api-bundle.test.ts builds and runs the real bundles.
 */
export function unbundledApp(): App {
  return new App({ context: { 'aws:cdk:bundling-stacks': [] } });
}

/** An empty stack in an unbundled App, for a construct tested on its own. */
export function unbundledStack(): Stack {
  return new Stack(unbundledApp(), 'Test');
}

export interface SynthesizedTrackingStack {
  readonly stack: TrackingStack;
  readonly template: Template;
  /** The template as JSON, for local/template.ts's readers and for searching it whole. */
  readonly json: CfnTemplate;
}

/** A TrackingStack with `props` in an unbundled App of its own, not yet synthesized: for a test that adds to it. */
export function unbundledTrackingStack(props: TrackingStackProps = {}, id = 'Test'): TrackingStack {
  return new TrackingStack(unbundledApp(), id, props);
}

/** A TrackingStack with `props` in an unbundled App of its own, synthesized. */
export function synthTrackingStack(props: TrackingStackProps = {}, id = 'Test'): SynthesizedTrackingStack {
  const stack = unbundledTrackingStack(props, id);
  const template = Template.fromStack(stack);
  return { stack, template, json: template.toJSON() as CfnTemplate };
}

let defaultStack: SynthesizedTrackingStack | undefined;

/**
 * The stack as bin/app.ts builds it by default, synthesized once per test file (jest loads this module afresh for
 * each file). Shared by the file's tests: read it, never add to it (unbundledTrackingStack gives one to change).
 */
export function defaultTrackingStack(): SynthesizedTrackingStack {
  defaultStack ??= synthTrackingStack();
  return defaultStack;
}

/** The state machine's definition, its references as `<LogicalId>` and `<LogicalId.Attribute>`. */
export function stateMachineOf(json: CfnTemplate): any {
  return stateMachineDefinition(json, { ref: (id) => `<${id}>`, getAtt: (id, attr) => `<${id}.${attr}>` });
}

/** The statements of the one IAM policy whose logical id starts with `prefix`, e.g. `FinalizerFunctionServiceRole`. */
export function policyStatements(template: Template, prefix: string): any[] {
  const policies = Object.entries(template.findResources('AWS::IAM::Policy')).filter(([id]) => id.startsWith(prefix));
  return only(policies)[1].Properties.PolicyDocument.Statement as any[];
}

/** Every action of `statements`, `Action` being a string or a list. */
export function policyActions(statements: readonly any[]): string[] {
  return statements.flatMap((s) => (Array.isArray(s.Action) ? (s.Action as string[]) : [s.Action as string]));
}

/** The one element of `items`; fails the test unless there is exactly one. */
export function only<T>(items: readonly T[]): T {
  expect(items).toHaveLength(1);
  // Exactly one element, checked just above.
  return items.at(0) as T;
}
