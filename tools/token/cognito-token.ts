import { CloudFormationClient, DescribeStacksCommand, type Stack } from '@aws-sdk/client-cloudformation';
import {
  AdminCreateUserCommand,
  AdminGetUserCommand,
  AdminInitiateAuthCommand,
  AdminSetUserPasswordCommand,
  CognitoIdentityProviderClient,
  UsernameExistsException,
} from '@aws-sdk/client-cognito-identity-provider';
import { randomBytes } from 'node:crypto';
import { COGNITO_TENANT_CLAIM } from '../../lambda/shared/auth-modes';
import { StackOutput } from '../../lambda/shared/deployment-names';
import { LocalSetupError } from '../../local/errors';

export interface CognitoTokenRequest {
  readonly stackName: string;
  readonly tenantId: string;
  /** The test user's e-mail address (its user name). */
  readonly user: string;
  /** Give an existing user a new random password (a real user could no longer sign in with theirs). */
  readonly resetPassword?: boolean;
}

export interface CognitoTokenClients {
  readonly cloudFormation: CloudFormationClient;
  readonly cognito: CognitoIdentityProviderClient;
}

/** Meets the pool's password policy (lib/track-auth.ts); nobody needs to know it: a later run resets it if asked. */
const randomPassword = () => `${randomBytes(24).toString('base64url')}aA1!`;

/**
 * A Cognito ID token for a test user of the deployed stack (auth=cognito): creates the user with the tenant if it
 * does not exist, sets a random password and signs in with the admin flow (IAM credentials). An existing user's
 * password is changed only with `resetPassword`: it may be a real user's.
 * The ID token is the one that carries `custom:tenant_id`, and the API's authorizer accepts it (its `aud` is the client).
 */
export async function cognitoToken(
  request: CognitoTokenRequest,
  clients: CognitoTokenClients,
  newPassword: () => string = randomPassword,
): Promise<string> {
  const { userPoolId, clientId } = await stackOutputs(clients.cloudFormation, request.stackName);
  try {
    await clients.cognito.send(
      new AdminCreateUserCommand({
        UserPoolId: userPoolId,
        Username: request.user,
        UserAttributes: [
          { Name: 'email', Value: request.user },
          { Name: 'email_verified', Value: 'true' },
          { Name: COGNITO_TENANT_CLAIM, Value: request.tenantId },
        ],
        MessageAction: 'SUPPRESS',
      }),
    );
  } catch (error) {
    if (!(error instanceof UsernameExistsException)) throw error;
    const existing = await clients.cognito.send(
      new AdminGetUserCommand({ UserPoolId: userPoolId, Username: request.user }),
    );
    const tenant = existing.UserAttributes?.find((a) => a.Name === COGNITO_TENANT_CLAIM)?.Value;
    if (tenant !== request.tenantId) {
      throw new LocalSetupError(
        `User ${request.user} already exists with tenant ${tenant ?? '(none)'}; the tenant attribute is immutable. Use another --user for tenant ${request.tenantId}.`,
      );
    }
    if (!request.resetPassword) {
      throw new LocalSetupError(
        `User ${request.user} already exists; its password is left alone. Add --reset-password to give it a new random one (only for a test user: a real user could no longer sign in).`,
      );
    }
  }
  const password = newPassword();
  await clients.cognito.send(
    new AdminSetUserPasswordCommand({
      UserPoolId: userPoolId,
      Username: request.user,
      Password: password,
      Permanent: true,
    }),
  );
  const auth = await clients.cognito.send(
    new AdminInitiateAuthCommand({
      UserPoolId: userPoolId,
      ClientId: clientId,
      AuthFlow: 'ADMIN_USER_PASSWORD_AUTH',
      AuthParameters: { USERNAME: request.user, PASSWORD: password },
    }),
  );
  const token = auth.AuthenticationResult?.IdToken;
  if (!token)
    throw new LocalSetupError(
      `Cognito asked for ${auth.ChallengeName ?? 'another step'} instead of issuing tokens for ${request.user}; sign in as that user once to complete it.`,
    );
  return token;
}

async function stackOutputs(
  cloudFormation: CloudFormationClient,
  stackName: string,
): Promise<{ userPoolId: string; clientId: string }> {
  const outputs = (await describeStack(cloudFormation, stackName)).Outputs ?? [];
  // A stack deployed before the outputs had stable ids names them with the construct path and a hash (TrackUserPoolId9F0D33C6).
  const find = (key: string) =>
    (
      outputs.find((o) => o.OutputKey === key) ??
      outputs.find((o) => new RegExp(`^Track${key}[0-9A-F]{8}$`).test(o.OutputKey ?? ''))
    )?.OutputValue;
  const userPoolId = find(StackOutput.UserPoolId);
  const clientId = find(StackOutput.UserPoolClientId);
  if (!userPoolId || !clientId) {
    throw new LocalSetupError(
      `Stack ${stackName} has no user pool outputs: it was not deployed with auth=cognito (the default). With auth=jwt, get tokens from your identity provider.`,
    );
  }
  return { userPoolId, clientId };
}

/** The stack, or one line saying it does not exist (CloudFormation's ValidationError "Stack with id … does not exist"). */
async function describeStack(cloudFormation: CloudFormationClient, stackName: string): Promise<Stack> {
  try {
    const { Stacks } = await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }));
    if (Stacks?.[0]) return Stacks[0];
  } catch (error) {
    if (!(error instanceof Error && error.name === 'ValidationError' && /does not exist/.test(error.message)))
      throw error;
  }
  const region = await cloudFormation.config.region().catch(() => 'the configured region');
  throw new LocalSetupError(
    `Stack ${stackName} does not exist in ${region}: check --stack (cdk deploy prints the name) and AWS_REGION / AWS_PROFILE.`,
  );
}

export function awsClients(): CognitoTokenClients {
  return { cloudFormation: new CloudFormationClient({}), cognito: new CognitoIdentityProviderClient({}) };
}
