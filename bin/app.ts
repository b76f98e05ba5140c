#!/usr/bin/env node
import { Annotations, App, Aspects, Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { authFromContext } from '../lib/auth-context';
import * as path from 'node:path';
import { SamLocalEndpoints } from '../lib/sam-local-endpoints';
import { TrackingStack } from '../lib/tracking-stack';
import { DEFAULT_STACK_NAME } from '../lambda/shared/deployment-names';
import { type NumberRule, parseNumber } from '../lambda/shared/parse-number';

/** The output folder of `npm run sam:synth`, the only place a localEndpoints template may be written. */
const SAM_OUTDIR = 'cdk.out.sam';

const app = new App();

/** A context value as the user gave it (`-c name=value`, or any JSON in cdk.json). */
function context(name: string): unknown {
  return app.node.tryGetContext(name);
}

/** A positive amount (fractions allowed). */
const POSITIVE: NumberRule = { whole: false, exclusive: true };
/** A whole number that may be 0. */
const COUNT: NumberRule = {};

/** Reads a numeric context value (`-c name=value` or cdk.json), with a message the user can act on. */
function numberContext(name: string, rule = POSITIVE): number | undefined {
  return parseNumber(context(name), `Context "${name}"`, rule);
}

/** A string context value; '' when it is not set. */
function stringContext(name: string): string {
  const raw = context(name);
  return raw === undefined ? '' : stringOf(raw);
}

/** A comma-separated context value (`-c name=a,b`) or a JSON list in cdk.json. */
function stringListContext(name: string): string[] | undefined {
  const raw = context(name);
  if (raw === undefined || raw === '') return undefined;
  const list = Array.isArray(raw) ? (raw as unknown[]).map(stringOf) : stringOf(raw).split(',');
  return list.map((s) => s.trim()).filter(Boolean);
}

/** `-c` gives strings; cdk.json may hold any JSON value. */
function stringOf(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

const removal = context('removalPolicy') ?? 'retain';
if (removal !== 'retain' && removal !== 'destroy') {
  throw new Error(`Context "removalPolicy" must be "retain" or "destroy", got ${JSON.stringify(removal)}.`);
}
const minutes = numberContext('workflowTimeoutMinutes');
const days = numberContext('taskRetentionDays');
const grace = numberContext('redriveGraceSeconds');
const idempotencyHours = numberContext('idempotencyRetentionHours');

const localEndpointsContext = context('localEndpoints');
const localEndpoints = localEndpointsContext === true || localEndpointsContext === 'true';
// The functions would call the sam local containers' endpoints: such a template must never reach cdk deploy.
if (localEndpoints && path.basename(app.outdir) !== SAM_OUTDIR) {
  throw new Error(
    `-c localEndpoints=true is only for sam local invoke: synthesize it with \`npm run sam:synth\` (output ${SAM_OUTDIR}), never into ${path.basename(app.outdir)} or through cdk deploy.`,
  );
}

const { auth, warning } = authFromContext(context);

const stack = new TrackingStack(app, stringContext('stackName') || DEFAULT_STACK_NAME, {
  description: 'Idempotent video-analysis task creation (API Gateway, Lambda, DynamoDB, Step Functions)',
  // Environment-agnostic: synth needs no credentials and makes no lookups.
  removalPolicy: removal === 'destroy' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
  workflowTimeout: minutes === undefined ? undefined : Duration.minutes(minutes),
  taskRetention: days === undefined ? undefined : Duration.days(days),
  redriveGrace: grace === undefined ? undefined : Duration.seconds(grace),
  idempotencyRetention: idempotencyHours === undefined ? undefined : Duration.hours(idempotencyHours),
  corsAllowOrigins: stringListContext('corsAllowOrigins'),
  sweeperReservedConcurrency: numberContext('sweeperReservedConcurrency'),
  analyseReservedConcurrency: numberContext('analyseReservedConcurrency'),
  videoBucket: stringContext('videoBucket') || undefined,
  throttleRateLimit: numberContext('throttleRateLimit'),
  throttleBurstLimit: numberContext('throttleBurstLimit'),
  tenantActiveTaskLimit: numberContext('tenantActiveTaskLimit', COUNT),
  alarmEmail: stringContext('alarmEmail') || undefined,
  budgetUsd: numberContext('budgetUsd'),
  tableName: stringContext('tableName') || undefined,
  taskIdSecret: stringContext('taskIdSecret') || undefined,
  auth,
});
if (localEndpoints) Aspects.of(app).add(new SamLocalEndpoints());
if (warning) Annotations.of(stack).addWarningV2(`video-tracking:auth-${auth.mode}`, warning);

// Any unacknowledged AwsSolutions finding stops synthesis; each acknowledgement sits beside its construct in lib/, with its reason.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
