import { DescribeExecutionCommand, ExecutionDoesNotExist } from '@aws-sdk/client-sfn';
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { DynamoDbSweepState } from '../../lambda/adapters/dynamodb/sweep-state';
import { createDocumentClient, TableClient } from '../../lambda/adapters/dynamodb/table-client';
import { sweepShard } from '../../lambda/shared/table';
import { RepairSweep } from '../../lambda/core/repair-sweep';
import { postTrack, request } from '../support/events';
import { mockedHandler, NOW } from '../support/mocked-handler';
import { activeItem, STORED_ID, STORED_KEY } from '../support/stored-items';
import { TASK_ID_SECRET_ARN_ENV } from '../../lambda/shared/deployment-names';
import { defaultTrackingStack, only, policyActions, policyStatements } from '../support/synth';

/** IAM actions each SDK command needs (TransactWriteItems is authorised per item action). */
function actionsOf(name: string, input: any): string[] {
  if (name === 'TransactWriteCommand') {
    return input.TransactItems.flatMap((i: any) =>
      Object.keys(i).map(
        (op) =>
          `dynamodb:${op === 'Put' ? 'PutItem' : op === 'Delete' ? 'DeleteItem' : op === 'Update' ? 'UpdateItem' : 'ConditionCheckItem'}`,
      ),
    );
  }
  const base = name.replace(/Command$/, '');
  const ddb: Record<string, string> = {
    PutItem: 'PutItem',
    Put: 'PutItem',
    Get: 'GetItem',
    Update: 'UpdateItem',
    Delete: 'DeleteItem',
    Query: 'Query',
  };
  return [ddb[base] ? `dynamodb:${ddb[base]}` : `states:${base}`];
}

test('every AWS call the API handler makes, on every path, is granted to its role', async () => {
  // GIVEN the calls of: a new task, a racing duplicate, a re-drive, a lease takeover, a read and a cancel
  const { handle, ddb, sfn } = mockedHandler();
  const epoch = Math.floor(NOW.getTime() / 1000);
  const winner = {
    pk: STORED_KEY,
    item_type: 'active',
    task_id: STORED_ID,
    tenant_id: 'tenant1',
    video_filename: 'test.mp4',
    status: 'not_started',
    created_at: NOW.toISOString(),
    updated_at: NOW.toISOString(),
    lease_expires_at: epoch + 3900,
    retain_until: epoch + 86400,
  };
  const failed = (item: object) =>
    new ConditionalCheckFailedException({ message: 'x', $metadata: {}, Item: marshall(item) });
  const used = new Set<string>();
  const scenario = async (arrange: () => void, act: () => Promise<unknown>) => {
    ddb.reset();
    sfn.reset();
    ddb.onAnyCommand().resolves({});
    sfn.onAnyCommand().resolves({});
    arrange();
    await act();
    for (const c of [...ddb.calls(), ...sfn.calls()])
      for (const a of actionsOf(c.args[0].constructor.name, c.args[0].input)) used.add(a);
  };
  const post = () => handle(postTrack({ tenant_id: 'tenant1', video_filename: 'test.mp4' }));
  await scenario(() => undefined, post);
  await scenario(() => ddb.on(PutItemCommand).rejectsOnce(failed(winner)), post);
  await scenario(
    () =>
      ddb.on(PutItemCommand).rejectsOnce(
        failed({
          ...winner,
          created_at: new Date(NOW.getTime() - 60_000).toISOString(),
          lease_expires_at: epoch - 60 + 3900,
        }),
      ),
    post,
  );
  await scenario(() => ddb.on(PutItemCommand).rejectsOnce(failed({ ...winner, lease_expires_at: epoch - 1 })), post);
  await scenario(
    () => ddb.on(GetCommand, { Key: { pk: winner.pk } }).resolves({ Item: winner }),
    () => handle(request('GET', `/api/v1/track/${winner.task_id}?tenant_id=tenant1`)),
  );
  await scenario(
    () => ddb.on(GetCommand, { Key: { pk: winner.pk } }).resolves({ Item: winner }),
    () => handle(request('DELETE', `/api/v1/track/${winner.task_id}?tenant_id=tenant1`)),
  );
  await scenario(
    () =>
      ddb.on(QueryCommand).resolves({
        Items: [winner],
        LastEvaluatedKey: { pk: winner.pk, tenant_id: 'tenant1', created_at: winner.created_at },
      }),
    () => handle(request('GET', '/api/v1/track?tenant_id=tenant1&limit=1')),
  );

  // WHEN the stack is synthesized
  const { template } = defaultTrackingStack();
  const statements = policyStatements(template, 'TrackHandlerServiceRoleDefaultPolicy');
  const granted = new Set(policyActions(statements));

  // THEN every call is granted; the listing's Query on the by-tenant index only
  expect([...used].sort()).toEqual([
    'dynamodb:DeleteItem',
    'dynamodb:GetItem',
    'dynamodb:PutItem',
    'dynamodb:Query',
    'dynamodb:UpdateItem',
    'states:StartExecution',
    'states:StopExecution',
  ]);
  for (const action of used) expect(granted).toContain(action);
  const query = only(statements.filter((s) => [s.Action].flat().includes('dynamodb:Query')));
  expect(JSON.stringify(query.Resource)).toMatch(/"\/index\/by-tenant"\]/);
});

test('only the API function queries the by-tenant index; the API signs its cursors with the keyring it reads', () => {
  const { json: template } = defaultTrackingStack();
  const readers = Object.entries(template.Resources as Record<string, any>)
    .filter(
      ([, r]) =>
        r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties.PolicyDocument).includes('/index/by-tenant'),
    )
    .map(([id]) => id);
  expect(readers).toEqual([expect.stringMatching(/^TrackHandlerServiceRoleDefaultPolicy/)]);
  const [, fn] = only(
    Object.entries(template.Resources as Record<string, any>).filter(
      ([id, r]) => r.Type === 'AWS::Lambda::Function' && id.startsWith('TrackHandler'),
    ),
  );
  const secret = only(Object.keys(template.Resources).filter((id) => id.startsWith('TaskIdsSecret')));
  expect(fn.Properties.Environment.Variables[TASK_ID_SECRET_ARN_ENV]).toEqual({ Ref: secret });
});

test('every AWS call the repair sweep makes, on every path, is granted to its role, the index query on that index only', async () => {
  // GIVEN the calls of a sweep that finds: a live execution, a lost start, a lost execution, an ended execution,
  // each describing its few due tasks (threshold 10) and listing the running executions first (threshold 0), each
  // run under the sweep's lease (taken and given up with its checkpoint)
  const { ddb, sfn, service } = mockedHandler();
  const state = new DynamoDbSweepState(
    new TableClient(createDocumentClient(new DynamoDBClient({ region: 'eu-west-1' })), 'Tasks'),
  );
  const created = new Date(NOW.getTime() - 60_000).toISOString();
  const id = STORED_ID;
  const active = {
    pk: STORED_KEY,
    item_type: 'active',
    task_id: id,
    tenant_id: 'tenant1',
    video_filename: 'test.mp4',
    status: 'running',
    created_at: created,
    updated_at: created,
    lease_expires_at: Math.floor(Date.parse(created) / 1000) + 3900,
    retain_until: 2_100_000_000,
    sweep_shard: sweepShard(id),
  };
  const used = new Set<string>();
  for (const [status, execution, listThreshold] of [
    ['running', { status: 'RUNNING' }, 10],
    ['not_started', undefined, 10],
    ['running', undefined, 10],
    ['running', { status: 'TIMED_OUT' }, 10],
    ['not_started', undefined, 0],
    ['running', { status: 'TIMED_OUT' }, 0],
  ] as const) {
    ddb.reset();
    sfn.reset();
    ddb.onAnyCommand().resolves({});
    sfn.onAnyCommand().resolves({});
    const item = { ...active, status };
    ddb
      .on(QueryCommand)
      .callsFake((input) => ({ Items: input.ExpressionAttributeValues[':shard'] === item.sweep_shard ? [item] : [] }));
    ddb.on(GetCommand, { Key: { pk: item.pk } }).resolves({ Item: item });
    if (execution) sfn.on(DescribeExecutionCommand).resolves(execution);
    else sfn.on(DescribeExecutionCommand).rejects(new ExecutionDoesNotExist({ message: 'x', $metadata: {} }));
    const report = await new RepairSweep({
      recovery: service.recovery,
      options: { graceSeconds: 10, maxTasks: 10, concurrency: 1, listThreshold },
      log: { info() {}, warn() {}, error() {} },
      state,
    }).run();
    expect(report).toMatchObject({ errors: 0, passRun: 1, passComplete: true });
    for (const c of [...ddb.calls(), ...sfn.calls()])
      for (const a of actionsOf(c.args[0].constructor.name, c.args[0].input)) used.add(a);
  }

  // WHEN the stack is synthesized
  const { template, json } = defaultTrackingStack();
  const statements = policyStatements(template, 'SweeperFunctionServiceRoleDefaultPolicy');
  const granted = new Set(policyActions(statements));

  // THEN every call is granted, and nothing else of the table or the state machine
  expect([...used].sort()).toEqual([
    'dynamodb:DeleteItem',
    'dynamodb:GetItem',
    'dynamodb:PutItem',
    'dynamodb:Query',
    'dynamodb:UpdateItem',
    'states:DescribeExecution',
    'states:ListExecutions',
    'states:StartExecution',
  ]);
  for (const action of used) expect(granted).toContain(action);
  expect([...granted].filter((a) => /^(dynamodb|states):/.test(a)).sort()).toEqual([...used].sort());
  const query = statements.find((s) => s.Action === 'dynamodb:Query');
  expect(JSON.stringify(query.Resource)).toContain('/index/active-by-age');
  // ListExecutions on the state machine itself, not on its executions or on every state machine
  const list = statements.find((s) => s.Action === 'states:ListExecutions');
  const [machine] = only(
    Object.entries(json.Resources).filter(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine'),
  );
  expect(list.Resource).toEqual({ Ref: machine });
});

test('every AWS call the finalizer makes is granted to its role, and nothing else of the table', async () => {
  // GIVEN the calls of recording a timed-out execution's end (the finishing transaction gives the tenant's slot back)
  const { ddb, service } = mockedHandler();
  const created = new Date(NOW.getTime() - 60_000).toISOString();
  const active = { ...activeItem(created), status: 'running' };
  ddb.on(GetCommand, { Key: { pk: STORED_KEY } }).resolves({ Item: active });
  const input = {
    taskId: STORED_ID,
    tenantId: 'tenant1',
    videoFilename: 'test.mp4',
    createdAt: created,
    retainUntil: 2_100_000_000,
    taskKey: STORED_KEY,
    storageKey: 'tenants/tenant1/test.mp4',
  };
  expect(
    await service.recovery.finalizeExecution(input, 'failed', { error: 'States.Timeout', message: 'timed out' }),
  ).toBeDefined();
  const used = new Set(ddb.calls().flatMap((c) => actionsOf(c.args[0].constructor.name, c.args[0].input)));

  // WHEN the stack is synthesized
  const { template } = defaultTrackingStack();
  const granted = policyActions(policyStatements(template, 'FinalizerFunctionServiceRoleDefaultPolicy'));

  // THEN
  expect([...used].sort()).toEqual([
    'dynamodb:DeleteItem',
    'dynamodb:GetItem',
    'dynamodb:PutItem',
    'dynamodb:UpdateItem',
  ]);
  expect(granted.filter((a: string) => a.startsWith('dynamodb:')).sort()).toEqual([...used].sort());
});

describe('IAM is least privilege', () => {
  const statements = () =>
    Object.entries(defaultTrackingStack().template.findResources('AWS::IAM::Policy')).flatMap(([id, p]) =>
      (p.Properties.PolicyDocument.Statement as any[]).map((s) => ({ policy: id, ...s })),
    );
  const list = (v: unknown) => (Array.isArray(v) ? v : [v]);

  test('no wildcard actions', () => {
    for (const s of statements()) for (const a of list(s.Action)) expect(a).not.toMatch(/\*/);
  });

  test('no "*" resource on any DynamoDB, Step Functions or Secrets Manager action', () => {
    for (const s of statements()) {
      if (list(s.Action).some((a: string) => /^(dynamodb|states|secretsmanager):/.test(a)))
        expect(list(s.Resource)).not.toContain('*');
    }
  });

  test('the API handler may only Get/Put/Update/Delete items of the table, Query its tenant index, start executions of the state machine, stop its executions and read the keyring', () => {
    const handlerPolicy = statements().filter((s) => s.policy.startsWith('TrackHandlerServiceRole'));
    const actions = handlerPolicy
      .flatMap((s) => list(s.Action))
      .filter((a: string) => !a.startsWith('xray:'))
      .sort();
    expect(actions).toEqual([
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
      // secret.grantRead: GetSecretValue (the one call), DescribeSecret with it; on the keyring only (task-id-secret.test.ts)
      'secretsmanager:DescribeSecret',
      'secretsmanager:GetSecretValue',
      'states:StartExecution',
      'states:StopExecution',
    ]);
    const query = handlerPolicy.find((s) => list(s.Action).includes('dynamodb:Query'));
    expect(JSON.stringify(query.Resource)).toMatch(/\/index\/by-tenant"\]/);
    const ddb = handlerPolicy.find((s) => list(s.Action).includes('dynamodb:PutItem'));
    expect(list(ddb.Resource)).toEqual([{ 'Fn::GetAtt': [expect.stringMatching(/^TasksTable/), 'Arn'] }]);
  });
});
