import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { RemovalPolicy } from 'aws-cdk-lib';
import { Route } from '../../lambda/shared/api-routes';
import { ACTIVE_BY_AGE_INDEX, COUNTER_SHARDS, SWEEP_SHARDS } from '../../lambda/shared/table';
import { defaultTrackingStack, stateMachineOf, synthTrackingStack } from '../support/synth';

/** docs/OPERATIONS.md's Upgrade, Rollback and Teardown sections, checked against the default synthesized template. */
const markdown = readFileSync(path.resolve(__dirname, '../../docs/OPERATIONS.md'), 'utf8');

/** The text of the `## title` section, up to the next `## ` heading. */
function section(title: string): string {
  const start = markdown.indexOf(`\n## ${title}\n`);
  expect(start).toBeGreaterThanOrEqual(0);
  const end = markdown.indexOf('\n## ', start + 1);
  return markdown.slice(start, end === -1 ? undefined : end);
}

type Resources = Record<
  string,
  { Type: string; DeletionPolicy?: string; UpdateReplacePolicy?: string; Properties?: any }
>;

function resourcesOf(json: unknown): Resources {
  return (json as { Resources: Resources }).Resources;
}

/** How many resources of each type outlive `cdk destroy` or a replacement. */
function retainedCounts(resources: Resources): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of Object.values(resources)) {
    if (r.DeletionPolicy === 'Retain' || r.UpdateReplacePolicy === 'Retain') counts[r.Type] = (counts[r.Type] ?? 0) + 1;
  }
  return counts;
}

/** The command that deletes each retained type; a new retained type needs a line here and in the doc. */
const DELETE_COMMAND: Record<string, string> = {
  'AWS::DynamoDB::Table': 'aws dynamodb delete-table',
  'AWS::Logs::LogGroup': 'aws logs delete-log-group',
  'AWS::SQS::Queue': 'aws sqs delete-queue',
  'AWS::Cognito::UserPool': 'aws cognito-idp delete-user-pool',
  'AWS::SecretsManager::Secret': 'aws secretsmanager delete-secret',
};

describe('Teardown', () => {
  const teardown = section('Teardown');
  const resources = resourcesOf(defaultTrackingStack().json);
  const retained = retainedCounts(resources);

  test('its table lists exactly the retained resource types of the template, with their counts', () => {
    const rows = [...teardown.matchAll(/^\| `(AWS::[\w:]+)` \| (\d+) \|/gm)];
    const listed = Object.fromEntries(rows.map((m) => [m[1] ?? '', Number(m[2])]));
    expect(Object.keys(retained).length).toBeGreaterThan(0);
    expect(listed).toEqual(retained);
  });

  test.each(Object.keys(retained))('%s has its delete command, and step 1 records its names', (type) => {
    const command = DELETE_COMMAND[type];
    expect(command).toBeDefined();
    expect(teardown).toContain(`${command} `);
    expect(teardown).toContain(`ResourceType=='${type}'`);
  });

  test('step 1 records no type the template does not retain', () => {
    const queried = [...teardown.matchAll(/ResourceType=='(AWS::[\w:]+)'/g)].map((m) => m[1]);
    expect(new Set(queried)).toEqual(new Set(Object.keys(retained)));
  });

  test('deletion protection: the user pool has it (the doc turns it off first), the table does not', () => {
    const pools = Object.values(resources).filter((r) => r.Type === 'AWS::Cognito::UserPool');
    expect(pools.map((p) => p.Properties?.DeletionProtection)).toEqual(['ACTIVE']);
    const unprotect = teardown.indexOf('--deletion-protection INACTIVE');
    expect(unprotect).toBeGreaterThan(0);
    expect(teardown.indexOf('aws cognito-idp delete-user-pool', unprotect)).toBeGreaterThan(unprotect);
    const tables = Object.values(resources).filter((r) => r.Type === 'AWS::DynamoDB::Table');
    expect(tables.map((t) => t.Properties?.DeletionProtectionEnabled ?? false)).toEqual([false]);
    expect(teardown).toContain("The template leaves the table's deletion protection off");
    expect(teardown).toContain('--no-deletion-protection-enabled');
  });

  test('cdk destroy comes after recording the names and before the deletes', () => {
    const destroy = teardown.indexOf('npx cdk destroy -c');
    expect(teardown.indexOf('describe-stack-resources')).toBeLessThan(destroy);
    for (const command of Object.values(DELETE_COMMAND))
      expect(teardown.indexOf(command, destroy)).toBeGreaterThan(destroy);
  });

  test('with removalPolicy=destroy nothing is retained and the user pool is unprotected, as the doc says', () => {
    const { json } = synthTrackingStack({ removalPolicy: RemovalPolicy.DESTROY });
    const destroyed = resourcesOf(json);
    expect(retainedCounts(destroyed)).toEqual({});
    const pools = Object.values(destroyed).filter((r) => r.Type === 'AWS::Cognito::UserPool');
    expect(pools.map((p) => p.Properties?.DeletionProtection)).toEqual(['INACTIVE']);
    expect(teardown).toContain('With `-c removalPolicy=destroy` none is retained');
  });

  test('the outputs it names exist', () => {
    const outputs = Object.keys(
      (defaultTrackingStack().json as unknown as { Outputs: Record<string, unknown> }).Outputs,
    );
    for (const name of ['TableName', 'DeadLetterQueueUrl', 'TaskIdSecretArn']) {
      expect(teardown).toContain(`output \`${name}\``);
      expect(outputs).toContain(name);
    }
  });
});

describe('Upgrade', () => {
  const upgrade = section('Upgrade');
  const { json, template } = defaultTrackingStack();

  test('the state machine is Standard, and invokes Analyse unqualified (new code for running executions)', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', { StateMachineType: 'STANDARD' });
    expect(upgrade).toContain('Standard workflow');
    const analyse = stateMachineOf(json).States.Analyse;
    expect(analyse.Resource).toMatch(/^<AnalysisAnalyseFunction\w+\.Arn>$/);
    expect(upgrade).toContain('unqualified ARN');
  });

  test('the drain blocks the route that creates tasks, on the stage the template has', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: `POST ${Route.Collection}` });
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', { StageName: '$default' });
    expect(upgrade).toContain(`{"POST ${Route.Collection}":{"ThrottlingBurstLimit":0,"ThrottlingRateLimit":0}}`);
    expect(upgrade).toContain(`--route-key 'POST ${Route.Collection}'`);
    expect(upgrade).toContain("--stage-name '$default'");
  });

  test('throttleRateLimit=0 is refused, as the doc says', () => {
    expect(() => synthTrackingStack({ throttleRateLimit: 0 })).toThrow(/throttleRateLimit must be > 0/);
    expect(upgrade).toContain('`-c throttleRateLimit=0` is refused');
  });

  test('the active count reads the index the template has, task shards only', () => {
    const table = Object.values(resourcesOf(json)).find((r) => r.Type === 'AWS::DynamoDB::Table');
    const indexes = (table?.Properties?.GlobalSecondaryIndexes as { IndexName: string }[]).map((i) => i.IndexName);
    expect(indexes).toContain(ACTIVE_BY_AGE_INDEX);
    expect(upgrade).toContain(`--index-name ${ACTIVE_BY_AGE_INDEX} --select COUNT`);
    expect(upgrade).toContain(`{":counters":{"N":"${SWEEP_SHARDS}"}}`);
    expect(upgrade).toContain(
      `sweep_shard 0-${SWEEP_SHARDS - 1}; ${SWEEP_SHARDS}-${SWEEP_SHARDS + COUNTER_SHARDS - 1}`,
    );
  });
});

describe('Rollback', () => {
  test('names the counter shards the old sweep no longer reads', () => {
    expect(section('Rollback')).toContain(`\`sweep_shard\` ${SWEEP_SHARDS + 1}–${SWEEP_SHARDS + COUNTER_SHARDS - 1}`);
  });
});
