import 'aws-sdk-client-mock-jest';
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { injectFault, withFaultInjection, clearFaults } from '../../../local/local-only/fault-injection';
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { toApiGatewayEvent } from '../../../local/api-gateway/event';
import { startApiServer } from '../../../local/api-gateway/server';
import { postTrack, request } from '../../support/events';
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
      (event) => {
        seen.push({ body: event.body, isBase64Encoded: event.isBase64Encoded });
        return Promise.resolve({ statusCode: 204 });
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

describe('bad input: 4xx problem+json and no AWS call', () => {
  const valid = { tenant_id: 'tenant1', video_filename: 'test.mp4' };
  // The field rules themselves are the core's (test/unit/core/validation.test.ts); one case per field here shows
  // that any InvalidRequest becomes this answer, its detail passed through.
  const cases: [string, unknown, RegExp, string | undefined][] = [
    ['body is not JSON', '{"tenant_id": ', /not valid JSON/, undefined],
    ['body is empty', '', /not valid JSON/, undefined],
    ['body is an array', [valid], /must be a JSON object/, undefined],
    ['body is a string', '"x"', /must be a JSON object/, undefined],
    ['body is null', 'null', /must be a JSON object/, undefined],
    ['tenant_id with #', { ...valid, tenant_id: 'a#b' }, /^tenant_id may only contain/, 'tenant_id'],
    [
      'video_filename with a right-to-left override',
      { ...valid, video_filename: 'a\u202E.mp4' },
      /bidirectional/,
      'video_filename',
    ],
    [
      'video_filename of a zero width space only',
      { ...valid, video_filename: '\u200B' },
      /^video_filename must not contain invisible or format characters \(Unicode Default_Ignorable_Code_Point or Cf\)/,
      'video_filename',
    ],
    [
      'video_filename with a lone surrogate',
      '{"tenant_id":"t","video_filename":"a\\ud800.mp4"}',
      /well-formed Unicode/,
      'video_filename',
    ],
  ];

  test.each(cases)('%s -> 400', async (_name, input, detail, field) => {
    const { handle, ddb, sfn } = mockedHandler();
    const res = await handle(postTrack(input));
    expect(res.statusCode).toBe(400);
    expect(res.headers['Content-Type']).toBe('application/problem+json');
    const problem = JSON.parse(res.body as string);
    expect(problem).toMatchObject({ type: '/problems/invalid-request', title: 'Invalid request', status: 400 });
    expect(problem.field).toBe(field);
    expect(problem.detail).toMatch(detail);
    expect(ddb.calls()).toHaveLength(0);
    expect(sfn.calls()).toHaveLength(0);
  });

  test('a valid body at the limits (1024 UTF-8 bytes, NFD) is created, answered with the NFC name and its case and spaces', async () => {
    const { handle, ddb, sfn } = mockedHandler();
    ddb.onAnyCommand().resolves({});
    sfn.onAnyCommand().resolves({});
    const longest = await handle(postTrack({ ...valid, video_filename: 'é'.repeat(512) }));
    const nfd = await handle(postTrack({ ...valid, video_filename: ' Cafe\u0301.MP4' }));
    expect(longest.statusCode).toBe(201);
    expect(nfd.statusCode).toBe(201);
    expect(JSON.parse(nfd.body as string).video_filename).toBe(' Caf\u00e9.MP4');
  });

  test('body over 64 KiB -> 413', async () => {
    const { handle, ddb } = mockedHandler();
    const res = await handle(postTrack({ ...valid, pad: 'x'.repeat(64 * 1024) }));
    expect(res.statusCode).toBe(413);
    expect(res.headers['Content-Type']).toBe('application/problem+json');
    expect(ddb.calls()).toHaveLength(0);
  });

  test('a non-JSON content type -> 415', async () => {
    const { handle, ddb } = mockedHandler();
    const res = await handle(postTrack('tenant_id=a', { 'content-type': 'application/x-www-form-urlencoded' }));
    expect(res.statusCode).toBe(415);
    expect(ddb.calls()).toHaveLength(0);
  });

  test.each(['PUT', 'PATCH', 'DELETE'])('%s /api/v1/track -> 405 with Allow', async (method) => {
    const { handle, ddb } = mockedHandler();
    const res = await handle(request(method, '/api/v1/track'));
    expect(res.statusCode).toBe(405);
    expect(res.headers.Allow).toBe('GET, POST');
    expect(JSON.parse(res.body as string).status).toBe(405);
    expect(ddb.calls()).toHaveLength(0);
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
