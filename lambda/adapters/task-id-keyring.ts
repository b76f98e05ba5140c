import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { TASK_ID_KEYRING_ENV, TASK_ID_SECRET_ARN_ENV } from '../shared/deployment-names';
import { type Keyring, parseKeyring } from '../shared/keyring';
import { TaskKeys } from '../shared/task-keys';
import { DependencyUnavailable } from '../core/errors';
import { translate } from './aws-errors';
import { requireEnv } from './env-config';

type Env = Record<string, string | undefined>;

/** The task keys of an environment that holds its keyring inline (TASK_ID_KEYRING: the local system, sam local). */
export function inlineTaskKeys(env: Env): TaskKeys | undefined {
  const inline = env[TASK_ID_KEYRING_ENV];
  return inline ? new TaskKeys(parseKeyring(inline)) : undefined;
}

/**
 * The shortest time between two reads of the secret in one instance: ids or cursors naming made-up key versions can
 * then cost at most one read per 30 s, never one per request.
 */
export const MIN_RELOAD_INTERVAL_MS = 30_000;

export interface LoadTaskKeysOptions {
  /** Applied to the Secrets Manager client (X-Ray capture). */
  readonly wrapClient?: (client: SecretsManagerClient) => SecretsManagerClient;
  /** @default Date.now */
  readonly now?: () => number;
}

/**
 * A function's task keys: the inline keyring if the environment has one, else the secret TASK_ID_SECRET_ARN names,
 * read now (once per cold start: callers keep the result) and again only when an id or cursor names a key version
 * this one lacks (TaskKeys' reload). Within MIN_RELOAD_INTERVAL_MS of the last read the reload does not read: it
 * throws DependencyUnavailable with the wait as its Retry-After (a 503; the finalizer's event is retried), so an id of
 * a version rotated in meanwhile is never answered 404, and a made-up version costs no read.
 * @throws DependencyUnavailable (dependency secretsmanager) when Secrets Manager fails in a way a retry can fix;
 *   anything else (no such secret, access denied, a malformed keyring) as it is: a deployment fault.
 */
export async function loadTaskKeys(env: Env, options: LoadTaskKeysOptions = {}): Promise<TaskKeys> {
  const inline = inlineTaskKeys(env);
  if (inline) return inline;
  const secretId = requireEnv(env, TASK_ID_SECRET_ARN_ENV);
  const plain = new SecretsManagerClient({});
  const client = options.wrapClient ? options.wrapClient(plain) : plain;
  const now = options.now ?? Date.now;
  const read = async (): Promise<Keyring> => {
    let secretString: string | undefined;
    try {
      ({ SecretString: secretString } = await client.send(new GetSecretValueCommand({ SecretId: secretId })));
    } catch (error) {
      throw translate(error, 'secretsmanager', 'GetSecretValue');
    }
    if (secretString === undefined)
      throw new Error(`The secret ${secretId} has no SecretString: the task id keyring is a JSON string.`);
    return parseKeyring(secretString);
  };
  const first = await read();
  let readAt = now();
  const reload = (): Promise<Keyring> => {
    const waitMs = readAt + MIN_RELOAD_INTERVAL_MS - now();
    if (waitMs > 0)
      return Promise.reject(
        new DependencyUnavailable('secretsmanager', 'GetSecretValue (read again too soon)', {
          retryAfterSeconds: Math.ceil(waitMs / 1000),
        }),
      );
    readAt = now();
    return read();
  };
  return new TaskKeys(first, { reload });
}
