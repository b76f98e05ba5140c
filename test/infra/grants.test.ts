import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { TrackingStack } from '../../lib/tracking-stack';
import { postTrack, request } from '../support/events';
import { mockedHandler, NOW } from '../support/mocked-handler';

/** IAM actions each SDK command needs (TransactWriteItems is authorised per item action). */
function actionsOf(name: string, input: any): string[] {
  if (name === 'TransactWriteCommand') {
    return input.TransactItems.flatMap((i: any) => Object.keys(i).map((op) => `dynamodb:${op === 'Put' ? 'PutItem' : op === 'Delete' ? 'DeleteItem' : op === 'Update' ? 'UpdateItem' : 'ConditionCheckItem'}`));
  }
  const base = name.replace(/Command$/, '');
  const ddb: Record<string, string> = { Put: 'PutItem', Get: 'GetItem', Update: 'UpdateItem', Delete: 'DeleteItem' };
  return [ddb[base] ? `dynamodb:${ddb[base]}` : `states:${base}`];
}

test('every AWS call the API handler makes, on every path, is granted to its role', async () => {
  // GIVEN the calls of: a new task, a racing duplicate, a re-drive, a lease takeover, a read and a cancel
  const { handle, ddb, sfn } = mockedHandler();
  const epoch = Math.floor(NOW.getTime() / 1000);
  const winner = {
    pk: 'ACTIVE#7#tenant1#test.mp4',
    item_type: 'active',
    task_id: '5f0c3a52-8d0e-4c4b-a0f7-0e6f0d6f7b11',
    tenant_id: 'tenant1',
    video_filename: 'test.mp4',
    status: 'not_started',
    created_at: NOW.toISOString(),
    updated_at: NOW.toISOString(),
    lease_expires_at: epoch + 3900,
    retain_until: epoch + 86400,
  };
  const failed = (item: object) => new ConditionalCheckFailedException({ message: 'x', $metadata: {}, Item: marshall(item) });
  const used = new Set<string>();
  const scenario = async (arrange: () => void, act: () => Promise<unknown>) => {
    ddb.reset();
    sfn.reset();
    ddb.onAnyCommand().resolves({});
    sfn.onAnyCommand().resolves({});
    arrange();
    await act();
    for (const c of [...ddb.calls(), ...sfn.calls()]) for (const a of actionsOf(c.args[0].constructor.name, c.args[0].input)) used.add(a);
  };
  const post = () => handle(postTrack({ tenant_id: 'tenant1', video_filename: 'test.mp4' }));
  const link = { ...winner, pk: `TASK#${winner.task_id}`, item_type: 'link', task_key: winner.pk };
  await scenario(() => undefined, post);
  await scenario(() => ddb.on(PutCommand).rejectsOnce(failed(winner)), post);
  await scenario(() => ddb.on(PutCommand).rejectsOnce(failed({ ...winner, created_at: new Date(NOW.getTime() - 60_000).toISOString() })), post);
  await scenario(() => ddb.on(PutCommand).rejectsOnce(failed({ ...winner, lease_expires_at: epoch - 1 })), post);
  await scenario(
    () => ddb.on(GetCommand, { Key: { pk: link.pk } }).resolves({ Item: link }).on(GetCommand, { Key: { pk: winner.pk } }).resolves({ Item: winner }),
    () => handle(request('GET', `/api/v1/track/${winner.task_id}?tenant_id=tenant1`)),
  );
  await scenario(
    () => ddb.on(GetCommand, { Key: { pk: link.pk } }).resolves({ Item: link }).on(GetCommand, { Key: { pk: winner.pk } }).resolves({ Item: winner }),
    () => handle(request('DELETE', `/api/v1/track/${winner.task_id}?tenant_id=tenant1`)),
  );

  // WHEN the stack is synthesized
  const template = Template.fromStack(new TrackingStack(new App(), 'Grants')).toJSON();
  const [, policy] = Object.entries(template.Resources as Record<string, any>).find(([id]) => id.startsWith('TrackHandlerServiceRoleDefaultPolicy'))!;
  const granted = new Set((policy.Properties.PolicyDocument.Statement as any[]).flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action])));

  // THEN
  expect([...used].sort()).toEqual(['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'states:StartExecution', 'states:StopExecution']);
  for (const action of used) expect(granted).toContain(action);
});
