import { GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { parseKeyring } from '../../../lambda/shared/keyring';
import { TaskKeys } from '../../../lambda/shared/task-keys';
import { LOCAL_KEYRING, LOCAL_KEYRING_JSON } from '../../../local/local-aws';
import { generatedKey, rotatedKeyring, taskIdKeyCommand } from '../../../tools/task-id-key/command';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:TaskIdKey-AbCdEf';
const sm = mockClient(SecretsManagerClient);
const client = new SecretsManagerClient({ region: 'eu-west-1' });

beforeEach(() => {
  sm.reset();
  sm.on(GetSecretValueCommand).resolves({ SecretString: LOCAL_KEYRING_JSON, VersionId: 'v1' });
});

describe('npm run task-id-key', () => {
  test('rotate: puts the keyring with key_2 added and current, every earlier key and the salt kept', async () => {
    sm.on(PutSecretValueCommand).resolves({});
    const line = await taskIdKeyCommand(['rotate', '--secret-id', ARN], client);
    expect(line).toMatch(/added key_2 and made it current/);
    const put = sm.commandCalls(PutSecretValueCommand)[0]!.args[0].input;
    expect(put.SecretId).toBe(ARN);
    expect(put.ClientRequestToken).toMatch(/^[0-9a-f-]{36}$/);
    const written = parseKeyring(put.SecretString!);
    expect(written.salt).toBe(LOCAL_KEYRING.salt);
    expect(written.current).toBe(2);
    expect(written.keys.get(1)).toBe(LOCAL_KEYRING.keys.get(1));
    expect(written.keys.get(2)).toMatch(/^[A-Za-z0-9]{64}$/);
    // An id made before the rotation resolves under the rotated keyring.
    const before = new TaskKeys(LOCAL_KEYRING).newTaskId('t', 'a.mp4');
    expect(new TaskKeys(written).activeKeyOfId('t', before)).toBe(new TaskKeys(LOCAL_KEYRING).activeKey('t', 'a.mp4'));
  });

  test('rotation keys are fresh, and there is no version after 255', () => {
    expect(new Set(Array.from({ length: 50 }, () => generatedKey())).size).toBe(50);
    const full = { ...LOCAL_KEYRING, keys: new Map([[255, 'k'.repeat(64)]]), current: 255 };
    expect(() => rotatedKeyring(full)).toThrow(/key_255/);
  });

  test('active-key: by video needs only the salt; by id unseals it; never prints a key', async () => {
    const keys = new TaskKeys(LOCAL_KEYRING);
    const id = keys.newTaskId('tenant1', 'a.mp4');
    const expected = keys.activeKey('tenant1', 'a.mp4');
    await expect(
      taskIdKeyCommand(['active-key', '--secret-id', ARN, '--tenant', 'tenant1', '--video', 'a.mp4'], client),
    ).resolves.toBe(expected);
    await expect(
      taskIdKeyCommand(['active-key', '--secret-id', ARN, '--tenant', 'tenant1', '--id', id], client),
    ).resolves.toBe(expected);
    await expect(
      taskIdKeyCommand(['active-key', '--secret-id', ARN, '--tenant', 'tenant1', '--id', 'nope'], client),
    ).rejects.toThrow(/not a task id/);
    await expect(taskIdKeyCommand(['show', '--secret-id', ARN], client)).resolves.toBe('versions 1; current 1');
  });

  test('usage errors name the usage; nothing is read or written', async () => {
    for (const argv of [
      [],
      ['rotate'],
      ['spin', '--secret-id', ARN],
      ['active-key', '--secret-id', ARN, '--tenant', 't'],
    ])
      await expect(taskIdKeyCommand(argv, client)).rejects.toThrow(/usage: npm run task-id-key|Unknown command/);
    await expect(taskIdKeyCommand(['rotate', '--secret-id', ARN, '--force'], client)).rejects.toThrow(/usage/);
    expect(sm.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  });
});
