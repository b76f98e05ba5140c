import 'aws-sdk-client-mock-jest';
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { injectFault, withFaultInjection, clearFaults } from '../../../local/local-only/fault-injection';
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { toApiGatewayEvent } from '../../../local/api-gateway/event';
import { startApiServer } from '../../../local/api-gateway/server';
import { mockedHandler } from '../../support/mocked-handler';

const latin1Name = Buffer.concat([
  Buffer.from('{"tenant_id":"tenant1","video_filename":"caf'),
  Buffer.from([0xe9]),
  Buffer.from('.mp4"}'),
]);

function base64Post(bytes: Buffer) {
  return toApiGatewayEvent({
    method: 'POST',
    url: '/api/v1/track',
    headers: { 'content-type': 'application/json' },
    body: bytes.toString('base64'),
    isBase64Encoded: true,
  });
}

describe('request body bytes', () => {
  test('a body that is not valid UTF-8 is refused with 400 and no AWS call (no lossy U+FFFD decoding)', async () => {
    // GIVEN a body whose filename is Latin-1, as API Gateway hands it over: base64
    const { handle, ddb, sfn } = mockedHandler();

    // WHEN
    const res = await handle(base64Post(latin1Name));

    // THEN
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body as string)).toMatchObject({
      type: '/problems/invalid-request',
      detail: 'The request body is not valid UTF-8.',
    });
    expect(ddb.calls()).toHaveLength(0);
    expect(sfn.calls()).toHaveLength(0);
  });

  test('a base64 body of valid UTF-8 is decoded exactly', async () => {
    const { handle, ddb, sfn } = mockedHandler();
    ddb.on(PutItemCommand).resolves({});
    sfn.on(StartExecutionCommand).resolves({});
    const res = await handle(
      base64Post(Buffer.from(JSON.stringify({ tenant_id: 'tenant1', video_filename: 'café 🎬.mp4' }), 'utf8')),
    );
    expect(res.statusCode).toBe(201);
    expect(JSON.parse(res.body as string).video_filename).toBe('café 🎬.mp4');
  });

  test('the local API server passes invalid UTF-8 through as base64, as API Gateway does, and text as text', async () => {
    const seen: { body?: string; isBase64Encoded: boolean }[] = [];
    const server = await startApiServer(
      async (event) => {
        seen.push({ body: event.body, isBase64Encoded: event.isBase64Encoded });
        return { statusCode: 204 };
      },
      0,
      () => undefined,
    );
    try {
      await fetch(`${server.url}/api/v1/track`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: new Uint8Array(latin1Name),
      });
      await fetch(`${server.url}/api/v1/track`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"a":"é"}',
      });
    } finally {
      await server.close();
    }
    expect(seen[0]).toEqual({ body: latin1Name.toString('base64'), isBase64Encoded: true });
    expect(seen[1]).toEqual({ body: '{"a":"é"}', isBase64Encoded: false });
  });
});

describe('fault injection middleware', () => {
  afterEach(() => clearFaults());

  test('fails exactly the matching calls, the given number of times, with the AWS error shape; then lets calls through', async () => {
    // GIVEN a client wired for fault injection that would otherwise fail to connect (no endpoint listening)
    const client = withFaultInjection(
      new DynamoDBClient({
        region: 'eu-west-1',
        endpoint: 'http://127.0.0.1:9',
        maxAttempts: 1,
        credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
      }),
    );
    injectFault({ command: 'PutItemCommand', error: 'TransactionConflictException', match: 'tenant-a', times: 2 });
    const put = (tenant: string) =>
      client.send(new PutItemCommand({ TableName: 't', Item: { pk: { S: tenant } } })).catch((e: Error) => e);

    // WHEN / THEN: other tenants are not touched (they reach the network and fail there)
    expect(((await put('tenant-b')) as Error).name).not.toBe('TransactionConflictException');
    expect(await put('tenant-a')).toMatchObject({
      name: 'TransactionConflictException',
      $metadata: { httpStatusCode: 400 },
    });
    expect(await put('tenant-a')).toMatchObject({ name: 'TransactionConflictException' });
    expect(((await put('tenant-a')) as Error).name).not.toBe('TransactionConflictException');
  });
});
