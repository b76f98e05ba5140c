/** Names of the deployment that the CDK app, the Lambda code and the tools must agree on. No SDK import. */

/** The application's name: the default stack name and the metric namespace. */
export const APP_NAME = 'VideoTracking';
/** The stack's name unless `-c stackName=…` names another (bin/app.ts, the local system, the token tool). */
export const DEFAULT_STACK_NAME = APP_NAME;

/** Ids of the stack outputs that tools read (tools/token/), exactly as they appear in CloudFormation: no hash suffix. */
export const StackOutput = {
  ApiUrl: 'ApiUrl',
  UserPoolId: 'UserPoolId',
  UserPoolClientId: 'UserPoolClientId',
} as const;

/** Active tasks one tenant may hold unless the stack's `tenantActiveTaskLimit` says otherwise (0 = no limit). */
export const DEFAULT_TENANT_ACTIVE_TASK_LIMIT = 100;

/**
 * The ARN of the Secrets Manager secret holding the task-id keyring (lambda/shared/keyring.ts), in every function: each
 * reads it once per cold start.
 */
export const TASK_ID_SECRET_ARN_ENV = 'TASK_ID_SECRET_ARN';
/** The keyring's JSON itself, inline: only the local system and `sam local invoke` set it (never the stack). */
export const TASK_ID_KEYRING_ENV = 'TASK_ID_KEYRING';
