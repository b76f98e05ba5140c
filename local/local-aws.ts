import { FIRST_KEY_VERSION, formatKeyring, type Keyring } from '../lambda/shared/keyring';

/** The AWS account, region and credentials of everything local: the emulators accept any, so one set is used everywhere. */
export const LOCAL_ACCOUNT = '000000000000';
export const LOCAL_REGION = 'us-east-1';
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

/** The same, as the environment variables the AWS SDK reads (the handlers and the function bundles). */
export const LOCAL_AWS_ENV = {
  AWS_REGION: LOCAL_REGION,
  AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
};

/**
 * The stack UUID every local stack has (its AWS::StackId ends with it). It is also the local keyring's salt, as the
 * stack UUID is the salt of a deployed stack's keyring (the key of task ids before the generated secret).
 */
export const LOCAL_TASK_ID_KEY = '00000000-0000-4000-8000-000000000001';

/**
 * The keyring of everything local (lambda/shared/keyring.ts): the local system, sam local and the tests' own stores
 * derive the same ids and active keys. Its key is in this file for all to read: local only, never a deployed one.
 */
export const LOCAL_KEYRING: Keyring = {
  salt: LOCAL_TASK_ID_KEY,
  current: FIRST_KEY_VERSION,
  keys: new Map([[FIRST_KEY_VERSION, 'local-only-task-id-key-0123456789-abcdefghijklmnopqrstuvwxyz']]),
};
/** The same as the JSON a function reads from TASK_ID_KEYRING. */
export const LOCAL_KEYRING_JSON = formatKeyring(LOCAL_KEYRING);

export function localStackId(stackName: string): string {
  return `arn:aws:cloudformation:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stack/${stackName}/${LOCAL_TASK_ID_KEY}`;
}
