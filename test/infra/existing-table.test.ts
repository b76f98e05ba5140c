import type { Template } from 'aws-cdk-lib/assertions';
import { validateTableName } from '../../lib/task-table';
import { stateMachineOf, synthTrackingStack, unbundledTrackingStack } from '../support/synth';

const NAME = 'VideoTracking-restored-2026-12-01';

/** A value with each `Fn::Join` of literals and pseudo parameters written out as one string (`${AWS::Region}`). */
function flatten(value: any): any {
  if (Array.isArray(value)) return value.map(flatten);
  if (typeof value !== 'object' || value === null) return value;
  if (typeof value.Ref === 'string' && Object.keys(value).length === 1) return `\${${value.Ref}}`;
  const join = value['Fn::Join'];
  if (Array.isArray(join) && Object.keys(value).length === 1) {
    const parts = flatten(join[1]) as unknown[];
    if (parts.every((p) => typeof p === 'string')) return parts.join(join[0] as string);
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, flatten(v)]));
}

/** Every value of `key` anywhere in `value`. */
function valuesOf(value: unknown, key: string, into: unknown[] = []): unknown[] {
  if (Array.isArray(value)) for (const v of value) valuesOf(v, key, into);
  else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      if (k === key) into.push(v);
      valuesOf(v, key, into);
    }
  }
  return into;
}

/** Every DynamoDB resource ARN the stack's IAM policies grant, written out. */
function dynamoDbResources(template: Template): unknown[] {
  const policies = Object.values(template.findResources('AWS::IAM::Policy'));
  return policies
    .flatMap((p) => flatten(p.Properties.PolicyDocument.Statement) as any[])
    .filter((s) => [s.Action].flat().some((a: string) => a.startsWith('dynamodb:')))
    .flatMap((s) => [s.Resource].flat() as unknown[]);
}

const TABLE_ARN = `arn:\${AWS::Partition}:dynamodb:\${AWS::Region}:\${AWS::AccountId}:table/${NAME}`;

describe('on an existing table (-c tableName=…)', () => {
  const { template, json } = synthTrackingStack({ tableName: NAME });

  test('the stack creates no table', () => {
    // GIVEN / WHEN the stack on an existing table
    // THEN
    template.resourceCountIs('AWS::DynamoDB::Table', 0);
    template.resourceCountIs('AWS::DynamoDB::GlobalTable', 0);
  });

  test('every function that reads the table names it in TABLE_NAME; the output names it', () => {
    // GIVEN / WHEN
    const functions = Object.values(template.findResources('AWS::Lambda::Function'));
    const names = functions.map((f) => f.Properties.Environment?.Variables?.TABLE_NAME).filter((n) => n !== undefined);
    // THEN the handler, the finalizer and the sweeper at least, and no other name
    expect(names.length).toBeGreaterThanOrEqual(3);
    expect(new Set(names)).toEqual(new Set([NAME]));
    expect(template.findOutputs('TableName')).toEqual({ TableName: expect.objectContaining({ Value: NAME }) });
  });

  test("the state machine's DynamoDB tasks write the existing table", () => {
    // GIVEN / WHEN
    const tableNames = valuesOf(stateMachineOf(json), 'TableName');
    // THEN
    expect(tableNames.length).toBeGreaterThan(0);
    expect(new Set(tableNames)).toEqual(new Set([NAME]));
  });

  test("IAM grants name the existing table's ARN and its indexes by name, nothing else", () => {
    // GIVEN / WHEN
    const resources = dynamoDbResources(template);
    // THEN
    expect(new Set(resources)).toEqual(
      new Set([TABLE_ARN, `${TABLE_ARN}/index/active-by-age`, `${TABLE_ARN}/index/by-tenant`]),
    );
  });

  test('the table alarms still watch the table, by its name', () => {
    // GIVEN / WHEN the table alarms' metrics
    const alarms = Object.entries(template.findResources('AWS::CloudWatch::Alarm')).filter(([id]) =>
      id.includes('Table'),
    );
    const dimensions = valuesOf(
      alarms.map(([, a]) => a.Properties.Metrics),
      'Dimensions',
    ).flat() as { Name: string; Value: unknown }[];
    // THEN
    expect(alarms.length).toBeGreaterThanOrEqual(2);
    expect(dimensions.filter((d) => d.Name === 'TableName').map((d) => d.Value)).toContain(NAME);
    expect(new Set(dimensions.filter((d) => d.Name === 'TableName').map((d) => d.Value))).toEqual(new Set([NAME]));
  });

  test.each(['ab', 'tasks/restored', 'tasks restored', 'x'.repeat(256), 'täsks'])('a bad name throws: %j', (bad) => {
    // GIVEN a name DynamoDB refuses / WHEN the stack is built / THEN the error says what a name may be
    expect(() => unbundledTrackingStack({ tableName: bad })).toThrow(
      /is not a DynamoDB table name: use 3 to 255 characters, each a letter, digit, "_", "." or "-"/,
    );
  });

  test('the longest and shortest names are accepted', () => {
    // GIVEN / WHEN / THEN
    expect(validateTableName('a.b')).toBe('a.b');
    expect(validateTableName('A_-.9'.repeat(51))).toHaveLength(255);
  });
});
