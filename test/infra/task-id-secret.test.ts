import { RemovalPolicy } from 'aws-cdk-lib';
import { TASK_ID_SECRET_ARN_ENV } from '../../lambda/shared/deployment-names';
import { FIRST_KEY_VERSION, GENERATED_KEY_LENGTH, keyField, KeyringField } from '../../lambda/shared/keyring';
import { parseTaskIdSecret } from '../../lib/task-id-secret';
import type { CfnTemplate } from '../../local/template';
import { defaultTrackingStack, only, synthTrackingStack, unbundledTrackingStack } from '../support/synth';

/** The functions that make or read task ids, active keys or cursors, by logical id prefix; Analyse does not. */
const KEYED = ['TrackHandler', 'FinalizerFunction', 'SweeperFunction'];
const ANALYSE = 'AnalysisAnalyseFunction';
/** The variable that held the stack UUID before the keyring; spelled out, as it outlives its constant. */
const RETIRED_KEY_ENV = 'TASK_ID_KEY';
/** The stack's UUID, as CloudFormation computes it from the stack id: the key of task ids before the secret. */
const STACK_UUID = { 'Fn::Select': [2, { 'Fn::Split': ['/', { Ref: 'AWS::StackId' }] }] };

type Resource = { Type: string; Properties?: any; DeletionPolicy?: string; UpdateReplacePolicy?: string };

function resources(json: CfnTemplate): [string, Resource][] {
  return Object.entries(json.Resources as Record<string, Resource>);
}

/** Each function's environment variables, by logical id. */
function environments(json: CfnTemplate): [string, Record<string, unknown>][] {
  return resources(json)
    .filter(([, r]) => r.Type === 'AWS::Lambda::Function')
    .map(([id, r]) => [id, (r.Properties.Environment?.Variables ?? {}) as Record<string, unknown>]);
}

/** The environment of the one function whose logical id starts with `prefix`. */
function environmentOf(json: CfnTemplate, prefix: string): Record<string, unknown> {
  return only(environments(json).filter(([id]) => id.startsWith(prefix)))[1];
}

/** Whether `value` refers to `AWS::StackId` anywhere inside it (Ref, or `${AWS::StackId}` in an Fn::Sub). */
function refersToStackId(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('${AWS::StackId}');
  if (Array.isArray(value)) return value.some(refersToStackId);
  if (typeof value !== 'object' || value === null) return false;
  return Object.entries(value).some(([k, v]) => (k === 'Ref' && v === 'AWS::StackId') || refersToStackId(v));
}

/** Every statement of the stack's IAM policies that grants a secretsmanager action, with its policy's logical id. */
function secretStatements(json: CfnTemplate): { policy: string; Action: string | string[]; Resource: unknown }[] {
  return resources(json)
    .filter(([, r]) => r.Type === 'AWS::IAM::Policy')
    .flatMap(([policy, r]) => (r.Properties.PolicyDocument.Statement as any[]).map((s) => ({ policy, ...s })))
    .filter((s) => [s.Action].flat().some((a: string) => a.startsWith('secretsmanager:')));
}

describe('the generated task-id keyring (default stack)', () => {
  // GIVEN the app as bin/app.ts builds it
  const { json, template } = defaultTrackingStack();
  const [secretId, secret] = only(resources(json).filter(([, r]) => r.Type === 'AWS::SecretsManager::Secret'));

  test('no function environment holds the stack id or TASK_ID_KEY', () => {
    // WHEN every value of every function's environment is walked
    const all = environments(json);
    // THEN (the stack id is public: DescribeStacks, the aws:cloudformation:stack-id tag)
    expect(all).toHaveLength(4);
    for (const [, variables] of all) {
      expect(refersToStackId(variables)).toBe(false);
      expect(variables).not.toHaveProperty(RETIRED_KEY_ENV);
    }
  });

  test('the API, the finalizer and the sweeper get TASK_ID_SECRET_ARN = the secret; the Analyse function does not', () => {
    for (const prefix of KEYED) expect(environmentOf(json, prefix)[TASK_ID_SECRET_ARN_ENV]).toEqual({ Ref: secretId });
    expect(environmentOf(json, ANALYSE)).not.toHaveProperty(TASK_ID_SECRET_ARN_ENV);
  });

  test('Secrets Manager generates key_1: 64 letters and digits; the generator is pinned whole', () => {
    // Any change to GenerateSecretString makes CloudFormation generate a new value over the keyring, rotated keys and
    // all (every id and cursor then unreadable): this test must fail on any change, even one a CDK upgrade makes.
    const { SecretStringTemplate: _, ...generate } = secret.Properties.GenerateSecretString;
    expect(generate).toEqual({
      GenerateStringKey: 'key_1',
      PasswordLength: 64,
      ExcludePunctuation: true,
      IncludeSpace: false,
    });
    expect(keyField(FIRST_KEY_VERSION)).toBe('key_1');
    expect(GENERATED_KEY_LENGTH).toBe(64);
  });

  test('its template is JSON once resolved: exactly the salt (the stack UUID) and current "1"', () => {
    // GIVEN the template's Fn::Join, the stack UUID standing for its one non-literal part
    const join = secret.Properties.GenerateSecretString.SecretStringTemplate['Fn::Join'];
    expect(join[0]).toBe('');
    const tokens = (join[1] as unknown[]).filter((part) => typeof part !== 'string');
    // The one place the stack id appears: the salt must equal the key ids had before the secret (the stack UUID), so
    // active items written before the upgrade keep their table keys. It keys a digest only; it is not a secret.
    expect(tokens).toEqual([STACK_UUID]);
    const uuid = '5f3c1e2a-9b4d-4e8f-a1b2-c3d4e5f60718';
    // WHEN it is resolved as CloudFormation would
    const resolved = (join[1] as unknown[]).map((part) => (typeof part === 'string' ? part : uuid)).join('');
    // THEN
    expect(JSON.parse(resolved)).toEqual({ [KeyringField.salt]: uuid, [KeyringField.current]: '1' });
    // Pinned as written, for the same reason as the generator: a respelling would regenerate the value.
    expect(join[1]).toEqual(['{"active_key_salt":"', STACK_UUID, '","current":"1"}']);
    expect(KeyringField).toMatchObject({ salt: 'active_key_salt', current: 'current' });
  });

  test('the stack id appears nowhere else in the template', () => {
    const { SecretStringTemplate: _, ...rest } = secret.Properties.GenerateSecretString;
    const others = resources(json).filter(([id]) => id !== secretId);
    expect(refersToStackId(others.map(([, r]) => r))).toBe(false);
    expect(refersToStackId({ ...secret.Properties, GenerateSecretString: rest })).toBe(false);
    expect(refersToStackId(template.findOutputs('*'))).toBe(false);
  });

  test('it is retained by default, and says what deleting it does', () => {
    expect(secret.DeletionPolicy).toBe('Retain');
    expect(secret.UpdateReplacePolicy).toBe('Retain');
    expect(secret.Properties.Description).toMatch(/Deleting it makes every id and cursor made under it unreadable/);
    // The account's aws/secretsmanager key: no key of our own to pay for or lose.
    expect(secret.Properties.KmsKeyId).toBeUndefined();
  });

  test('each grant on Secrets Manager names this secret only, to the three functions only', () => {
    const statements = secretStatements(json);
    expect(statements.map((s) => s.policy.replace(/ServiceRoleDefaultPolicy\w+$/, '')).sort()).toEqual(
      [...KEYED].sort(),
    );
    for (const s of statements) {
      expect(s.Resource).toEqual({ Ref: secretId });
      expect([s.Action].flat().sort()).toEqual(['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue']);
    }
  });

  test('the output TaskIdSecretArn names it', () => {
    expect(template.findOutputs('TaskIdSecretArn')).toEqual({
      TaskIdSecretArn: expect.objectContaining({ Value: { Ref: secretId } }),
    });
  });
});

test('with removalPolicy=destroy the secret goes with the stack', () => {
  const { json } = synthTrackingStack({ removalPolicy: RemovalPolicy.DESTROY }, 'Destroy');
  const [, secret] = only(resources(json).filter(([, r]) => r.Type === 'AWS::SecretsManager::Secret'));
  expect(secret.DeletionPolicy).toBe('Delete');
  expect(secret.UpdateReplacePolicy).toBe('Delete');
});

describe('on an existing secret (-c taskIdSecret=…)', () => {
  const COMPLETE = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:VideoTracking/task-ids-AbCdEf';
  const NAME = 'VideoTracking/task-id-keyring';
  /** The name's ARN in this account and region, ending in `tail`. */
  const arnOfName = (tail: string) => ({
    'Fn::Join': [
      '',
      [
        'arn:',
        { Ref: 'AWS::Partition' },
        ':secretsmanager:',
        { Ref: 'AWS::Region' },
        ':',
        { Ref: 'AWS::AccountId' },
        `:secret:${tail}`,
      ],
    ],
  });

  test.each([
    ['its complete ARN', COMPLETE, COMPLETE, COMPLETE],
    // The partial ARN to read it; for IAM, `-??????` stands for the random suffix of the complete ARN.
    ['its name', NAME, arnOfName(NAME), arnOfName(`${NAME}-??????`)],
  ])(
    'by %s: no secret resource; the three functions read it and are granted it, nothing else',
    (_, value, env, granted) => {
      // GIVEN / WHEN
      const { json, template } = synthTrackingStack({ taskIdSecret: value }, 'Existing');
      // THEN
      expect(resources(json).filter(([, r]) => r.Type.startsWith('AWS::SecretsManager::'))).toEqual([]);
      for (const prefix of KEYED) expect(environmentOf(json, prefix)[TASK_ID_SECRET_ARN_ENV]).toEqual(env);
      expect(environmentOf(json, ANALYSE)).not.toHaveProperty(TASK_ID_SECRET_ARN_ENV);
      const statements = secretStatements(json);
      expect(statements).toHaveLength(KEYED.length);
      for (const s of statements) expect(s.Resource).toEqual(granted);
      expect(template.findOutputs('TaskIdSecretArn')).toEqual({
        TaskIdSecretArn: expect.objectContaining({ Value: env }),
      });
      expect(refersToStackId(json)).toBe(false);
    },
  );

  test('a partial ARN (the output of a stack on a named secret) is read as such', () => {
    const partial = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:VideoTracking/task-id-keyring';
    expect(parseTaskIdSecret(partial)).toEqual({ partialArn: partial });
    expect(parseTaskIdSecret(COMPLETE)).toEqual({ completeArn: COMPLETE });
    expect(parseTaskIdSecret(NAME)).toEqual({ name: NAME });
  });

  test.each([
    ['not a secret ARN', 'arn:aws:s3:::bucket', /is not a Secrets Manager secret ARN/],
    ['an account that is not 12 digits', 'arn:aws:secretsmanager:eu-west-1:1234:secret:x-AbCdEf', /is not a Secrets/],
    ['a space', 'task ids', /is neither a secret ARN nor a secret name/],
    ['nothing', '', /is neither a secret ARN nor a secret name/],
    ['a name ending like the random suffix', 'task-id-secret', /ends like Secrets Manager's random suffix/],
  ])('a value with %s is refused at synth', (_, value, message) => {
    // GIVEN a value Secrets Manager would not find / WHEN the stack is built / THEN it says what to pass
    expect(() => unbundledTrackingStack({ taskIdSecret: value }, 'Bad')).toThrow(message);
  });
});
