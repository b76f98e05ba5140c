import { defaultTrackingStack } from '../support/synth';

// GIVEN the app as bin/app.ts builds it
const { json: template } = defaultTrackingStack();
const functions = Object.entries(template.Resources as Record<string, any>).filter(
  ([, r]) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment,
);

describe('TASK_ID_KEY', () => {
  test("every function that derives task ids or active keys gets the stack's UUID; the analysis function does not", () => {
    const stackUuid = { 'Fn::Select': [2, { 'Fn::Split': ['/', { Ref: 'AWS::StackId' }] }] };
    const keyed = functions.filter(([, r]) => r.Properties.Environment.Variables.TASK_ID_KEY).map(([id]) => id);
    for (const prefix of ['TrackHandler', 'FinalizerFunction', 'SweeperFunction'])
      expect(keyed.some((id) => id.startsWith(prefix))).toBe(true);
    expect(keyed.some((id) => id.startsWith('AnalysisAnalyseFunction'))).toBe(false);
    for (const [, r] of functions.filter(([id]) => keyed.includes(id)))
      expect(r.Properties.Environment.Variables.TASK_ID_KEY).toEqual(stackUuid);
  });
});
