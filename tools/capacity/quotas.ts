/**
 * AWS's documented default quotas that bound this stack, in ONE table: edit a value to your account's (Service Quotas
 * console, `aws service-quotas get-service-quota`), and `npm run capacity` uses it. Each entry links the page the
 * default was read from; AWS changes defaults (mostly upwards) and new accounts start lower: check yours.
 *
 * Step Functions' API and state quotas are token buckets: `bucket` calls at once, then `refill` a second. They differ
 * between the three largest Regions and the others (`regional`).
 */

export interface TokenBucket {
  readonly bucket: number;
  readonly refill: number;
}

/** The Regions with Step Functions' larger buckets (per the quota pages below). */
export const LARGE_STEP_FUNCTIONS_REGIONS: readonly string[] = ['us-east-1', 'us-west-2', 'eu-west-1'];

/** Regions whose API Gateway account throttle defaults to 2,500 RPS (burst 1,250) instead of 10,000 (5,000). */
export const SMALL_API_GATEWAY_REGIONS: readonly string[] = [
  'af-south-1',
  'eu-south-1',
  'ap-southeast-3',
  'me-central-1',
  'ap-south-2',
  'ap-southeast-4',
  'eu-south-2',
  'eu-central-2',
  'il-central-1',
  'ca-west-1',
  'ap-southeast-5',
  'ap-southeast-7',
  'mx-central-1',
];

export const QUOTAS = {
  /**
   * API Gateway: requests per second across all APIs of the account in a Region (HTTP, REST, WebSocket), token
   * bucket; adjustable (Service Quotas L-8A5B8E43). 2,500 / 1,250 in SMALL_API_GATEWAY_REGIONS.
   * https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html
   */
  apiGatewayAccount: { large: { bucket: 5_000, refill: 10_000 }, small: { bucket: 1_250, refill: 2_500 } },
  /**
   * Lambda: concurrent executions per account and Region, shared by every function without a reservation; new
   * accounts often start at 10 (`aws lambda get-account-settings`). Adjustable to tens of thousands.
   * https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
   */
  lambdaConcurrentExecutions: 1_000,
  /**
   * Step Functions Standard: StartExecution token bucket per account and Region. Adjustable.
   * https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html#service-limits-api-action-throttling-general
   */
  startExecution: { large: { bucket: 1_300, refill: 300 }, other: { bucket: 800, refill: 150 } },
  /**
   * Step Functions Standard: state transitions per account and Region (throttled ones show as ExecutionThrottled).
   * The figures of the awsdocs guide (aws-step-functions-developer-guide, doc_source/limits.md); the live page may
   * list more, and new accounts get less until AWS raises it with usage. Adjustable.
   * https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html#service-limits-api-state-throttling
   */
  stateTransitions: { large: { bucket: 5_000, refill: 1_500 }, other: { bucket: 800, refill: 500 } },
  /**
   * Step Functions Standard: open (running) executions per account and Region; past it StartExecution fails with
   * ExecutionLimitExceeded. Adjustable.
   * https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html#service-limits-accounts
   */
  openExecutions: 1_000_000,
  /**
   * Step Functions: DescribeExecution and ListExecutions token buckets (the repair sweep's calls).
   * https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html#service-limits-api-action-throttling-general
   */
  describeExecution: { large: { bucket: 300, refill: 15 }, other: { bucket: 250, refill: 10 } },
  listExecutions: { large: { bucket: 200, refill: 5 }, other: { bucket: 100, refill: 2 } },
  /**
   * DynamoDB: what one partition serves a second (a partition key's items, or one index partition key), on-demand
   * or provisioned; a hot key is throttled at it whatever the table's capacity. Not adjustable.
   * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html
   */
  partitionWriteUnits: 1_000,
  partitionReadUnits: 3_000,
  /**
   * DynamoDB on-demand: table-level throughput per table (and per global secondary index) per second. Adjustable.
   * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#default-limits-throughput
   */
  onDemandTableWriteUnits: 40_000,
  onDemandTableReadUnits: 40_000,
} as const;

export type Quotas = typeof QUOTAS;

/** The bucket of a Region-dependent Step Functions quota. */
export function sfnBucket(quota: { large: TokenBucket; other: TokenBucket }, region: string): TokenBucket {
  return LARGE_STEP_FUNCTIONS_REGIONS.includes(region) ? quota.large : quota.other;
}

/** API Gateway's account-level throttle in `region`. */
export function apiGatewayAccount(region: string): TokenBucket {
  return SMALL_API_GATEWAY_REGIONS.includes(region) ? QUOTAS.apiGatewayAccount.small : QUOTAS.apiGatewayAccount.large;
}
