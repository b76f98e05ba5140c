import { Aws, Fn, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { TASK_ID_SECRET_ARN_ENV } from '../lambda/shared/deployment-names';
import { FIRST_KEY_VERSION, GENERATED_KEY_LENGTH, keyField, KeyringField } from '../lambda/shared/keyring';

export interface TaskIdSecretProps {
  /**
   * What happens to the generated secret when it leaves the stack. Deleting it makes every task id and cursor made
   * with its keys unreadable.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Use an existing keyring secret instead of generating one (`-c taskIdSecret=…`): its ARN (complete, or partial:
   * without the random suffix) or its name, in the stack's account and region. Another stack's secret keeps that
   * stack's ids, cursors and active items readable, e.g. after a restore into a new stack (docs/OPERATIONS.md,
   * Restore). The stack then owns no secret, so `removalPolicy` does not apply to it.
   *
   * @default - the stack generates and owns its secret
   */
  readonly existingSecret?: string;
}

/** A secret ARN; its resource is the name, then (complete) a hyphen and the six characters Secrets Manager appends. */
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,519}$/;
/** Secrets Manager's name rules: 1 to 512 ASCII letters, digits and `/_+=.@-`. */
const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
/** How a complete ARN ends. A partial ARN ending so (a name in TASK_ID_SECRET_ARN) is taken for a complete one. */
const SUFFIX = /-[A-Za-z0-9]{6}$/;

/** How `-c taskIdSecret` names the secret. */
export type TaskIdSecretReference =
  { readonly completeArn: string } | { readonly partialArn: string } | { readonly name: string };

/**
 * How `value` names the keyring secret: a complete ARN, a partial ARN (the `TaskIdSecretArn` output of a stack that
 * named its secret by name) or a name. Refuses anything Secrets Manager would not find, at synth time rather than as a
 * function that fails its first cold start.
 */
export function parseTaskIdSecret(value: string): TaskIdSecretReference {
  if (value.startsWith('arn:')) {
    if (!SECRET_ARN.test(value))
      throw new Error(
        `taskIdSecret ${JSON.stringify(value)} is not a Secrets Manager secret ARN (arn:<partition>:secretsmanager:<region>:<account>:secret:<name>, or with -<6 characters> the complete ARN): pass the keyring's ARN, e.g. the old stack's output TaskIdSecretArn.`,
      );
    return SUFFIX.test(value) ? { completeArn: value } : { partialArn: value };
  }
  if (!SECRET_NAME.test(value))
    throw new Error(
      `taskIdSecret ${JSON.stringify(value)} is neither a secret ARN nor a secret name (1 to 512 letters, digits and /_+=.@-): pass the keyring's ARN, e.g. the old stack's output TaskIdSecretArn.`,
    );
  if (SUFFIX.test(value))
    throw new Error(
      `taskIdSecret ${JSON.stringify(value)} ends like Secrets Manager's random suffix (a hyphen and six characters), so the functions could not find the secret by this name: pass its complete ARN (\`aws secretsmanager describe-secret --secret-id NAME --query ARN\`).`,
    );
  return { name: value };
}

/** The secret `reference` names. */
function existingSecret(scope: Construct, reference: TaskIdSecretReference): secretsmanager.ISecret {
  if ('completeArn' in reference)
    return secretsmanager.Secret.fromSecretCompleteArn(scope, 'Secret', reference.completeArn);
  if ('partialArn' in reference)
    return secretsmanager.Secret.fromSecretPartialArn(scope, 'Secret', reference.partialArn);
  return secretsmanager.Secret.fromSecretNameV2(scope, 'Secret', reference.name);
}

/**
 * The task-id keyring (lambda/shared/keyring.ts): a Secrets Manager secret the API, the finalizer and the sweeper read
 * once per cold start. Generated at the first deploy with one key, `key_1`; rotation adds keys (docs/OPERATIONS.md,
 * "The task id key").
 */
export class TaskIdSecret extends Construct {
  /** The stack's secret, or the existing one named by `existingSecret`. */
  readonly secret: secretsmanager.ISecret;
  /** Whether the stack creates (and owns) the secret: false on an existing one. */
  readonly owned: boolean;

  constructor(scope: Construct, id: string, props: TaskIdSecretProps = {}) {
    super(scope, id);
    if (props.existingSecret !== undefined) {
      this.secret = existingSecret(this, parseTaskIdSecret(props.existingSecret));
      this.owned = false;
      return;
    }
    this.owned = true;
    this.secret = ownedSecret(this, props.removalPolicy ?? RemovalPolicy.RETAIN);
  }
}

/** The secret the stack generates: `{"active_key_salt": <stack UUID>, "current": "1", "key_1": <64 generated>}`. */
function ownedSecret(scope: Construct, removalPolicy: RemovalPolicy): secretsmanager.Secret {
  const secret = new secretsmanager.Secret(scope, 'Secret', {
    description:
      'Task-id keyring: the keys task ids and listing cursors are made with. Deleting it makes every id and cursor made under it unreadable (docs/OPERATIONS.md, "The task id key").',
    // Never change this generator once deployed: CloudFormation would generate a new value over the keyring, dropping
    // every key rotation added.
    generateSecretString: {
      // The salt is the key of task ids before this secret (the stack's UUID): active items written before the
      // upgrade keep their table keys. Not a secret; toJsonString escapes it and resolves the token in the template.
      secretStringTemplate: Stack.of(scope).toJsonString({
        [KeyringField.salt]: Fn.select(2, Fn.split('/', Aws.STACK_ID)),
        [KeyringField.current]: String(FIRST_KEY_VERSION),
      }),
      generateStringKey: keyField(FIRST_KEY_VERSION),
      passwordLength: GENERATED_KEY_LENGTH,
      // Letters and digits only: 62 symbols, about 381 bits for 64 characters.
      excludePunctuation: true,
      includeSpace: false,
    },
    removalPolicy,
  });
  Validations.of(secret).acknowledge({
    id: 'AwsSolutions-SMG4',
    reason:
      'A rotation adds a key and keeps the old ones (ids and cursors name the key they were made with): an operator runs it (docs/OPERATIONS.md, "The task id key"); a rotation function replacing the value would make every id unreadable.',
  });
  return secret;
}

/** TASK_ID_SECRET_ARN for a function that makes or reads task ids, active keys or cursors (lambda/shared/keyring). */
export function taskIdSecretEnvironment(secret: secretsmanager.ISecret): Record<string, string> {
  return { [TASK_ID_SECRET_ARN_ENV]: secret.secretArn };
}

/**
 * Lets `grantee` read the keyring. `grantRead`: secretsmanager:GetSecretValue (the one call the function makes) and
 * DescribeSecret, on this secret's ARN only (named by name or partial ARN: `<name>-??????`, the random suffix).
 */
export function grantReadTaskIdSecret(secret: secretsmanager.ISecret, grantee: iam.IGrantable): iam.Grant {
  return secret.grantRead(grantee);
}
