import { Duration } from 'aws-cdk-lib';

/** The timings of the task rules, shared by every function that runs them (read back by lambda/adapters/env-config.ts). */
export interface TaskTimings {
  /** The state machine's timeout: the longest one analysis task may live. */
  readonly workflowTimeout: Duration;
  /** Age after which a `not_started` task whose execution never started is started again. */
  readonly redriveGrace: Duration;
  /** How long past the workflow timeout an active task still blocks its video. */
  readonly leaseMargin: Duration;
  /** How long finished tasks stay readable (whole days). */
  readonly taskRetention: Duration;
}

/** The stack's defaults (TrackingStackProps). */
export const DEFAULT_TASK_TIMINGS: TaskTimings = {
  workflowTimeout: Duration.hours(1),
  redriveGrace: Duration.seconds(10),
  leaseMargin: Duration.minutes(5),
  taskRetention: Duration.days(30),
};

/** The environment variables a function reads the timings from. */
export function timingEnvironment(timings: TaskTimings): Record<string, string> {
  return {
    WORKFLOW_TIMEOUT_SECONDS: String(timings.workflowTimeout.toSeconds()),
    REDRIVE_GRACE_SECONDS: String(timings.redriveGrace.toSeconds()),
    LEASE_MARGIN_SECONDS: String(timings.leaseMargin.toSeconds()),
    TASK_RETENTION_DAYS: String(timings.taskRetention.toDays()),
  };
}
