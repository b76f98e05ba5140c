import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { randomInt, randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import {
  formatKeyring,
  GENERATED_KEY_LENGTH,
  type Keyring,
  keyField,
  MAX_KEY_VERSION,
  parseKeyring,
} from '../../lambda/shared/keyring';
import { TaskKeys } from '../../lambda/shared/task-keys';
import { LocalSetupError } from '../../local/errors';

/**
 * `npm run task-id-key -- <command> --secret-id ARN`: the operator's tool for the task-id keyring
 * (docs/OPERATIONS.md, "The task id key"). Commands:
 * - `rotate`: adds key_<n+1> (64 random letters and digits) and makes it current; every key stays, so every id and
 *   cursor already handed out keeps working. One GetSecretValue and one PutSecretValue.
 * - `active-key --tenant T (--id ID | --video NAME)`: prints the table key of the task's active item, for reading
 *   it in the console or with `aws dynamodb get-item` (an id's digest is sealed: it cannot be read off the id).
 * - `show`: the versions and the current one, never a key.
 */
export const USAGE = `usage: npm run task-id-key -- <rotate|active-key|show> --secret-id <secret ARN or name>
       [--tenant T (--id TASK_ID | --video VIDEO_FILENAME)]   (active-key)
The secret's ARN is the stack output TaskIdSecretArn (docs/OPERATIONS.md, "The task id key").`;

/** What a rotation makes of a keyring: the next version, a new key, current. */
export function rotatedKeyring(keyring: Keyring, newKey: string = generatedKey()): Keyring {
  const version = Math.max(...keyring.keys.keys()) + 1;
  if (version > MAX_KEY_VERSION)
    throw new LocalSetupError(`The keyring already has key_${MAX_KEY_VERSION}: no version is left to rotate to.`);
  return { ...keyring, current: version, keys: new Map([...keyring.keys, [version, newKey]]) };
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A key as the stack generates one: 64 letters and digits, drawn with the CSPRNG. */
export function generatedKey(): string {
  return Array.from({ length: GENERATED_KEY_LENGTH }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
}

export async function taskIdKeyCommand(argv: string[], client: SecretsManagerClient): Promise<string> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        'secret-id': { type: 'string' },
        tenant: { type: 'string' },
        id: { type: 'string' },
        video: { type: 'string' },
      },
    });
  } catch (error) {
    throw new LocalSetupError(`${(error as Error).message}\n${USAGE}`);
  }
  const { positionals, values } = parsed;
  const [command, ...extra] = positionals;
  const secretId = values['secret-id'];
  if (!command || extra.length > 0 || !secretId) throw new LocalSetupError(USAGE);
  const read = async () => {
    const out = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    if (out.SecretString === undefined) throw new LocalSetupError(`The secret ${secretId} holds no SecretString.`);
    return { keyring: parseKeyring(out.SecretString), versionId: out.VersionId };
  };

  switch (command) {
    case 'show': {
      const { keyring } = await read();
      return `versions ${[...keyring.keys.keys()].join(', ')}; current ${keyring.current}`;
    }
    case 'rotate': {
      const { keyring } = await read();
      const next = rotatedKeyring(keyring);
      // The token makes a retried call the same version rather than a second rotation.
      await client.send(
        new PutSecretValueCommand({
          SecretId: secretId,
          SecretString: formatKeyring(next),
          ClientRequestToken: randomUUID(),
        }),
      );
      return `added ${keyField(next.current)} and made it current (versions ${[...next.keys.keys()].join(', ')}); new ids and cursors use it from each function's next cold start, and every function reads it on the first id or cursor that names it`;
    }
    case 'active-key': {
      const tenant = values.tenant;
      if (!tenant || (values.id === undefined) === (values.video === undefined)) throw new LocalSetupError(USAGE);
      const keys = new TaskKeys((await read()).keyring);
      if (values.video !== undefined) return keys.activeKey(tenant, values.video);
      const key = keys.activeKeyOfId(tenant, values.id as string);
      if (key === undefined)
        throw new LocalSetupError(
          `${values.id} is not a task id of this keyring (malformed, or of an unknown version).`,
        );
      return key;
    }
    default:
      throw new LocalSetupError(`Unknown command ${JSON.stringify(command)}.\n${USAGE}`);
  }
}
