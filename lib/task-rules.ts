import { Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { DEFAULT_TENANT_ACTIVE_TASK_LIMIT } from '../lambda/shared/deployment-names';
import { taskIdSecretEnvironment } from './task-id-secret';

/**
 * The task rules' settings, shared by every function that runs them (read back by lambda/adapters/env-config.ts):
 * the timings and the tenant limit.
 */
export interface TaskRules {
  /** The state machine's timeout: the longest one analysis task may live. */
  readonly workflowTimeout: Duration;
  /** Age after which a `not_started` task whose execution never started is started again. */
  readonly redriveGrace: Duration;
  /** How long past the workflow timeout an active task still blocks its video. */
  readonly leaseMargin: Duration;
  /** How long finished tasks stay readable (whole days). */
  readonly taskRetention: Duration;
  /**
   * Active tasks one tenant may hold. 0: no limit, and no tenant counter is written at all (the API, the finalizer,
   * the sweep and the state machine all leave the counters alone).
   */
  readonly tenantActiveTaskLimit: number;
  /** How long a POST's Idempotency-Key is retained: a retry within it answers with the key's task. */
  readonly idempotencyRetention: Duration;
}

/** The stack's defaults (TrackingStackProps). */
export const DEFAULT_TASK_RULES: TaskRules = {
  workflowTimeout: Duration.hours(1),
  redriveGrace: Duration.seconds(10),
  leaseMargin: Duration.minutes(5),
  taskRetention: Duration.days(30),
  tenantActiveTaskLimit: DEFAULT_TENANT_ACTIVE_TASK_LIMIT,
  idempotencyRetention: Duration.hours(24),
};

/**
 * What every function running the task rules reads (lambda/adapters/task-service-from-env.ts): the rules, the keyring
 * secret's ARN, TABLE_NAME and STATE_MACHINE_ARN.
 */
export function taskServiceEnvironment(props: {
  readonly rules: TaskRules;
  readonly taskIdSecret: secretsmanager.ISecret;
  readonly table: dynamodb.ITable;
  readonly stateMachine: sfn.IStateMachine;
}): Record<string, string> {
  return {
    ...taskRulesEnvironment(props.rules),
    ...taskIdSecretEnvironment(props.taskIdSecret),
    TABLE_NAME: props.table.tableName,
    STATE_MACHINE_ARN: props.stateMachine.stateMachineArn,
  };
}

/** The environment variables a function reads the rules from. */
function taskRulesEnvironment(rules: TaskRules): Record<string, string> {
  return {
    WORKFLOW_TIMEOUT_SECONDS: String(rules.workflowTimeout.toSeconds()),
    REDRIVE_GRACE_SECONDS: String(rules.redriveGrace.toSeconds()),
    LEASE_MARGIN_SECONDS: String(rules.leaseMargin.toSeconds()),
    TASK_RETENTION_DAYS: String(rules.taskRetention.toDays()),
    TENANT_ACTIVE_TASK_LIMIT: String(rules.tenantActiveTaskLimit),
    IDEMPOTENCY_RETENTION_SECONDS: String(rules.idempotencyRetention.toSeconds()),
  };
}
