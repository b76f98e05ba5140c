import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';

/** Name of the tenant attribute; Cognito puts it in the ID token as `custom:tenant_id`. */
export const TENANT_ATTRIBUTE = 'tenant_id';

export interface TrackAuthProps {
  /**
   * Removal policy of the user pool.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The Cognito user pool whose ID tokens the API accepts, and the frontend's app client. Each user carries an immutable
 * tenant attribute set by an administrator (or `npm run token`); users can read it but never write it.
 */
export class TrackAuth extends Construct {
  readonly userPool: cognito.UserPool;
  readonly userPoolClient: cognito.UserPoolClient;

  constructor(scope: Construct, id: string, props: TrackAuthProps = {}) {
    super(scope, id);
    this.userPool = new cognito.UserPool(this, 'UserPool', {
      // An administrator creates each user with its tenant: self sign-up would let anyone into the pool.
      selfSignUpEnabled: false,
      signInAliases: { email: true },
      autoVerify: { email: true },
      customAttributes: { [TENANT_ATTRIBUTE]: new cognito.StringAttribute({ minLen: 1, maxLen: 128, mutable: false }) },
      passwordPolicy: {
        minLength: 12,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      mfa: cognito.Mfa.OPTIONAL,
      mfaSecondFactor: { sms: false, otp: true },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      deletionProtection: (props.removalPolicy ?? RemovalPolicy.RETAIN) === RemovalPolicy.RETAIN,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });

    this.userPoolClient = this.userPool.addClient('FrontendClient', {
      // A browser cannot keep a secret.
      generateSecret: false,
      // Frontends sign in with SRP; no hosted-UI OAuth flows (the CDK default enables the implicit grant).
      disableOAuth: true,
      // SRP for the frontend; admin password auth only for `npm run token`, which needs IAM credentials to call it.
      authFlows: { userSrp: true, adminUserPassword: true },
      preventUserExistenceErrors: true,
      readAttributes: new cognito.ClientAttributes()
        .withStandardAttributes({ email: true, emailVerified: true, fullname: true })
        .withCustomAttributes(TENANT_ATTRIBUTE),
      // Set explicitly: without writeAttributes every attribute is writable through the client. The tenant is left out.
      writeAttributes: new cognito.ClientAttributes().withStandardAttributes({ email: true, fullname: true }),
      idTokenValidity: Duration.hours(1),
      accessTokenValidity: Duration.hours(1),
    });

    Validations.of(this.userPool).acknowledge(
      {
        id: 'AwsSolutions-COG2',
        reason:
          'MFA is optional (TOTP) so that the test users of `npm run token` can sign in from a shell; set Mfa.REQUIRED when people sign in.',
      },
      {
        id: 'AwsSolutions-COG8',
        reason:
          'The Plus feature plan (threat protection) is billed per monthly active user; this pool has no self sign-up and only administrator-created users. Choose it when the pool grows.',
      },
    );
  }
}
