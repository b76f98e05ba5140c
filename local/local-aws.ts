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
 * The stack UUID every local stack has (its AWS::StackId ends with it), so the key of task ids (TASK_ID_KEY, the
 * stack's UUID in AWS) is the same fixed value for the local system, sam local and the tests' own stores.
 */
export const LOCAL_TASK_ID_KEY = '00000000-0000-4000-8000-000000000001';

export function localStackId(stackName: string): string {
  return `arn:aws:cloudformation:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stack/${stackName}/${LOCAL_TASK_ID_KEY}`;
}
