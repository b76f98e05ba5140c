import { DeleteItemCommand, DynamoDBClient, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import {
  clearFaults,
  heldCalls,
  injectFault,
  takeFault,
  withFaultInjection,
} from '../../../../local/local-only/fault-injection';
import { testControls } from '../../../../local/local-only/test-controls';
import type { LocalStepFunctions } from '../../../../local/step-functions/runner';

/** What reached the "network": each call's command and the time it was sent. */
interface Sent {
  command: string;
  at: number;
}

/**
 * A client wired for fault injection whose calls never leave the process: a middleware after it answers every call
 * (or fails it with `failWith`), recording when it was sent.
 */
function fakeClient(failWith?: string): { client: DynamoDBClient; sent: Sent[] } {
  const sent: Sent[] = [];
  const client = withFaultInjection(
    new DynamoDBClient({
      region: 'eu-west-1',
      endpoint: 'http://127.0.0.1:9',
      maxAttempts: 1,
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    }),
  );
  client.middlewareStack.add(
    (_next: unknown, context: { commandName?: string }) => () => {
      sent.push({ command: context.commandName ?? '', at: Date.now() });
      if (failWith) return Promise.reject(Object.assign(new Error(failWith), { name: failWith, $metadata: {} }));
      return Promise.resolve({ output: { $metadata: {} }, response: {} });
    },
    { step: 'build', name: 'answerLocally' },
  );
  return { client, sent };
}

const put = (tenant: string) => new PutItemCommand({ TableName: 't', Item: { pk: { S: `ACTIVE#${tenant}` } } });
const update = (tenant: string) =>
  new UpdateItemCommand({ TableName: 't', Key: { pk: { S: `TENANT#${tenant}` } }, UpdateExpression: 'SET a = :a' });
const remove = (tenant: string) => new DeleteItemCommand({ TableName: 't', Key: { pk: { S: `ACTIVE#${tenant}` } } });

describe('fault injection: delays and command-less faults', () => {
  afterEach(() => clearFaults());

  test('an error fault without delay fails at once and sends nothing (unchanged behaviour)', async () => {
    const { client, sent } = fakeClient();
    injectFault({ command: 'PutItemCommand', error: 'ThrottlingException', match: 'tenant-a', times: 1 });

    await expect(client.send(put('tenant-a'))).rejects.toMatchObject({
      name: 'ThrottlingException',
      $metadata: { httpStatusCode: 400 },
    });
    expect(sent).toEqual([]);
    await client.send(put('tenant-a'));
    expect(sent).toHaveLength(1);
  });

  test('a delay-only fault sends the call after the delay, once per count, and lists it as held meanwhile', async () => {
    const { client, sent } = fakeClient();
    injectFault({ command: 'UpdateItemCommand', match: 'TENANT#tenant-a', delayMs: 200, times: 1 });

    const start = Date.now();
    const call = client.send(update('tenant-a'));
    await new Promise((r) => setTimeout(r, 50));
    expect(sent).toEqual([]);
    expect(heldCalls('TENANT#tenant-a')).toEqual([
      { command: 'UpdateItemCommand', match: 'TENANT#tenant-a', stage: 'sending' },
    ]);
    await call;
    expect(sent).toHaveLength(1);
    expect(sent[0]!.at - start).toBeGreaterThanOrEqual(190);
    expect(heldCalls()).toEqual([]);

    // Used up: the next call goes at once.
    const again = Date.now();
    await client.send(update('tenant-a'));
    expect(sent[1]!.at - again).toBeLessThan(100);
  });

  test('a delay with an error waits, then fails without sending', async () => {
    const { client, sent } = fakeClient();
    injectFault({ command: 'UpdateItemCommand', error: 'ThrottlingException', delayMs: 150, times: 1 });

    const start = Date.now();
    await expect(client.send(update('tenant-a'))).rejects.toMatchObject({ name: 'ThrottlingException' });
    expect(Date.now() - start).toBeGreaterThanOrEqual(140);
    expect(sent).toEqual([]);
  });

  test('an answer delay sends the call at once and holds its answer, a result or an error', async () => {
    for (const failWith of [undefined, 'ConditionalCheckFailedException']) {
      const { client, sent } = fakeClient(failWith);
      injectFault({ command: 'UpdateItemCommand', answerDelayMs: 200, times: 1 });

      const start = Date.now();
      let settledAt = 0;
      const call = client.send(update('tenant-a')).then(
        () => ((settledAt = Date.now()), 'ok'),
        (e: Error) => ((settledAt = Date.now()), e.name),
      );
      await new Promise((r) => setTimeout(r, 50));
      // Landed already; the caller does not know yet.
      expect(sent).toHaveLength(1);
      expect(heldCalls()).toEqual([{ command: 'UpdateItemCommand', match: undefined, stage: 'answered' }]);
      expect(await call).toBe(failWith ?? 'ok');
      expect(settledAt - start).toBeGreaterThanOrEqual(190);
      expect(heldCalls()).toEqual([]);
    }
  });

  test('a fault without a command applies to every command whose input contains its match, and to no other', async () => {
    const { client, sent } = fakeClient();
    injectFault({ match: 'tenant-a', error: 'ThrottlingException', times: 2 });

    await expect(client.send(update('tenant-a'))).rejects.toMatchObject({ name: 'ThrottlingException' });
    await client.send(remove('tenant-b'));
    await expect(client.send(remove('tenant-a'))).rejects.toMatchObject({ name: 'ThrottlingException' });
    await client.send(put('tenant-a'));
    expect(sent.map((s) => s.command)).toEqual(['DeleteItemCommand', 'PutItemCommand']);
  });

  test('faults apply in the order injected: a narrower one injected first wins over a broader one', () => {
    injectFault({ match: 'TENANT#tenant-a', delayMs: 10, times: 1 });
    injectFault({ match: 'tenant-a', error: 'ThrottlingException', times: 5 });

    expect(takeFault('TransactWriteItemsCommand', { k: 'TENANT#tenant-a' })).toMatchObject({ delayMs: 10 });
    expect(takeFault('TransactWriteItemsCommand', { k: 'TENANT#tenant-a' })).toMatchObject({
      error: 'ThrottlingException',
      times: 4,
    });
    clearFaults('tenant-a');
    expect(takeFault('DeleteItemCommand', { k: 'ACTIVE#tenant-a' })).toBeUndefined();
  });

  test('refuses faults that would do nothing or apply to every call', () => {
    expect(() => injectFault({ error: 'ThrottlingException', times: 1 })).toThrow(/needs a match/);
    expect(() => injectFault({ command: 'PutItemCommand', times: 1 })).toThrow(/would do nothing/);
    expect(() =>
      injectFault({ command: 'PutItemCommand', error: 'ThrottlingException', answerDelayMs: 10, times: 1 }),
    ).toThrow(/sends none/);
  });

  test('the local endpoint control LocalInjectFault takes the new options', () => {
    const control = testControls({} as LocalStepFunctions);
    control('LocalInjectFault', { match: 'tenant-c', delayMs: 300, times: 2 });
    control('LocalInjectFault', { command: 'UpdateItemCommand', match: 'tenant-d', answerDelayMs: 400 });

    expect(takeFault('DeleteItemCommand', { k: 'tenant-c' })).toMatchObject({ delayMs: 300, times: 1 });
    expect(takeFault('UpdateItemCommand', { k: 'tenant-d' })).toMatchObject({ answerDelayMs: 400, times: 0 });
    expect(() => control('LocalInjectFault', { delayMs: 300 })).toThrow(/needs a match/);
  });
});
