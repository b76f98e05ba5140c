import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { inlineTaskKeys, loadTaskKeys } from '../../../lambda/adapters/task-id-keyring';
import { DependencyUnavailable } from '../../../lambda/core/errors';
import { formatKeyring, parseKeyring } from '../../../lambda/shared/keyring';
import { TaskKeys } from '../../../lambda/shared/task-keys';
import { LOCAL_KEYRING, LOCAL_KEYRING_JSON } from '../../../local/local-aws';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:VideoTrackingTaskIdKey-AbCdEf';
const ENV = { TASK_ID_SECRET_ARN: ARN };
const sm = mockClient(SecretsManagerClient);
const rotated = formatKeyring({
  ...LOCAL_KEYRING,
  current: 2,
  keys: new Map([...LOCAL_KEYRING.keys, [2, 'rotated-key-'.padEnd(64, 'r')]]),
});

beforeEach(() => sm.reset());

describe('loadTaskKeys', () => {
  test('the inline keyring when the environment has one (local system, sam local): no Secrets Manager call', async () => {
    const keys = await loadTaskKeys({ ...ENV, TASK_ID_KEYRING: LOCAL_KEYRING_JSON });
    expect(keys.activeKey('t', 'a.mp4')).toBe(new TaskKeys(LOCAL_KEYRING).activeKey('t', 'a.mp4'));
    expect(sm.calls()).toHaveLength(0);
    expect(inlineTaskKeys({})).toBeUndefined();
  });

  test('else one GetSecretValue of the secret the environment names', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: LOCAL_KEYRING_JSON });
    const keys = await loadTaskKeys(ENV);
    expect(sm.commandCalls(GetSecretValueCommand).map((c) => c.args[0].input)).toEqual([{ SecretId: ARN }]);
    const id = keys.newTaskId('t', 'a.mp4');
    expect(keys.activeKeyOfId('t', id)).toBe(keys.activeKey('t', 'a.mp4'));
    // Known versions never read it again.
    await keys.resolveActiveKeyOfId('t', id);
    expect(sm.calls()).toHaveLength(1);
  });

  test('a read again within 30 s of the last is refused with the wait as Retry-After (a 503), not answered unknown', async () => {
    let clock = 1_000_000;
    sm.on(GetSecretValueCommand).resolvesOnce({ SecretString: LOCAL_KEYRING_JSON }).resolves({ SecretString: rotated });
    const keys = await loadTaskKeys(ENV, { now: () => clock });
    const idOfVersion2 = new TaskKeys(parseKeyring(rotated)).newTaskId('t', 'a.mp4');
    // A rotation 10 s after the cold start: the id of version 2 is a 503 for 20 s more, then resolves.
    clock += 10_000;
    await expect(keys.resolveActiveKeyOfId('t', idOfVersion2)).rejects.toMatchObject({
      constructor: DependencyUnavailable,
      dependency: 'secretsmanager',
      retryAfterSeconds: 20,
    });
    expect(sm.calls()).toHaveLength(1);
    clock += 20_000;
    await expect(keys.resolveActiveKeyOfId('t', idOfVersion2)).resolves.toBe(keys.activeKey('t', 'a.mp4'));
    expect(sm.calls()).toHaveLength(2);
    // A made-up version right after: refused without a read.
    const version9 = Buffer.from(idOfVersion2, 'base64url');
    version9[0] = 9;
    await expect(keys.resolveActiveKeyOfId('t', version9.toString('base64url'))).rejects.toMatchObject({
      retryAfterSeconds: 30,
    });
    expect(sm.calls()).toHaveLength(2);
  });

  test('Secrets Manager throttled or down -> DependencyUnavailable (a 503 for the API); access denied -> as it is', async () => {
    sm.on(GetSecretValueCommand).rejects(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }));
    await expect(loadTaskKeys(ENV)).rejects.toMatchObject({
      constructor: DependencyUnavailable,
      dependency: 'secretsmanager',
      operation: 'GetSecretValue',
    });
    sm.on(GetSecretValueCommand).rejects(Object.assign(new Error('no'), { name: 'AccessDeniedException' }));
    await expect(loadTaskKeys(ENV)).rejects.toMatchObject({ name: 'AccessDeniedException' });
  });

  test('a secret that is not a keyring, or a missing variable, fails with what to fix', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: '{"current":"1"}' });
    await expect(loadTaskKeys(ENV)).rejects.toThrow(/active_key_salt/);
    sm.on(GetSecretValueCommand).resolves({ SecretBinary: new Uint8Array([1]) });
    await expect(loadTaskKeys(ENV)).rejects.toThrow(/no SecretString/);
    await expect(loadTaskKeys({})).rejects.toThrow(/TASK_ID_SECRET_ARN/);
  });
});
