import 'aws-sdk-client-mock-jest';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  AdminCreateUserCommand,
  AdminGetUserCommand,
  AdminInitiateAuthCommand,
  AdminSetUserPasswordCommand,
  CognitoIdentityProviderClient,
  UsernameExistsException,
} from '@aws-sdk/client-cognito-identity-provider';
import { mockClient } from 'aws-sdk-client-mock';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { LocalSetupError } from '../../../local/errors';
import { readApiUrl, removeApiUrl, writeApiUrl } from '../../../local/local-only/api-url-file';
import { tokenCommand } from '../../../tools/token/token-command';

const OUTPUTS = [
  { OutputKey: 'ApiUrl', OutputValue: 'https://abc.execute-api.eu-west-1.amazonaws.com' },
  { OutputKey: 'UserPoolId', OutputValue: 'eu-west-1_pool' },
  { OutputKey: 'UserPoolClientId', OutputValue: 'client123' },
];
/** The keys of a stack deployed before the outputs had stable ids. */
const LEGACY_OUTPUTS = [
  { OutputKey: 'TrackApiUrl162E9942', OutputValue: 'https://abc.execute-api.eu-west-1.amazonaws.com' },
  { OutputKey: 'TrackUserPoolId9F0D33C6', OutputValue: 'eu-west-1_pool' },
  { OutputKey: 'TrackUserPoolClientId59F49E98', OutputValue: 'client123' },
];
const ARGS = ['--stack', 'VideoTracking', '--tenant', 'tenant1', '--user', 'alice@example.com'];

function mocks(outputs = OUTPUTS) {
  const cfn = mockClient(CloudFormationClient);
  const cognito = mockClient(CognitoIdentityProviderClient);
  cfn.on(DescribeStacksCommand).resolves({
    Stacks: [
      { StackName: 'VideoTracking', CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE', Outputs: outputs },
    ],
  });
  cognito.on(AdminSetUserPasswordCommand).resolves({});
  cognito
    .on(AdminInitiateAuthCommand)
    .resolves({ AuthenticationResult: { IdToken: 'id.token.jwt', AccessToken: 'access' } });
  const aws = () => ({
    cloudFormation: new CloudFormationClient({ region: 'eu-west-1' }),
    cognito: new CognitoIdentityProviderClient({ region: 'eu-west-1' }),
  });
  return { cfn, cognito, aws };
}

afterEach(() => {
  mockClient(CloudFormationClient).restore();
  mockClient(CognitoIdentityProviderClient).restore();
});

describe('npm run token -- --stack … (deployed, auth=cognito)', () => {
  test('creates the user with the tenant (no invitation e-mail), sets a password, signs in and prints the ID token', async () => {
    // GIVEN
    const { cfn, cognito, aws } = mocks();
    cognito.on(AdminCreateUserCommand).resolves({});

    // WHEN
    const token = await tokenCommand(ARGS, {}, aws);

    // THEN
    expect(token).toBe('id.token.jwt');
    expect(cfn).toHaveReceivedCommandWith(DescribeStacksCommand, { StackName: 'VideoTracking' });
    expect(cognito).toHaveReceivedCommandWith(AdminCreateUserCommand, {
      UserPoolId: 'eu-west-1_pool',
      Username: 'alice@example.com',
      MessageAction: 'SUPPRESS',
      UserAttributes: [
        { Name: 'email', Value: 'alice@example.com' },
        { Name: 'email_verified', Value: 'true' },
        { Name: 'custom:tenant_id', Value: 'tenant1' },
      ],
    });
    const password = cognito.commandCalls(AdminSetUserPasswordCommand)[0]?.args[0].input.Password ?? '';
    expect(cognito).toHaveReceivedCommandWith(AdminSetUserPasswordCommand, {
      UserPoolId: 'eu-west-1_pool',
      Username: 'alice@example.com',
      Permanent: true,
    });
    expect(password).toMatch(/[a-z]/);
    expect(password).toMatch(/[A-Z]/);
    expect(password).toMatch(/[0-9]/);
    expect(password.length).toBeGreaterThanOrEqual(12);
    expect(cognito).toHaveReceivedCommandWith(AdminInitiateAuthCommand, {
      UserPoolId: 'eu-west-1_pool',
      ClientId: 'client123',
      AuthFlow: 'ADMIN_USER_PASSWORD_AUTH',
      AuthParameters: { USERNAME: 'alice@example.com', PASSWORD: password },
    });
  });

  test('a stack deployed before the outputs had stable ids: its hashed output keys are still read', async () => {
    const { cognito, aws } = mocks(LEGACY_OUTPUTS);
    cognito.on(AdminCreateUserCommand).resolves({});
    await expect(tokenCommand(ARGS, {}, aws)).resolves.toBe('id.token.jwt');
    expect(cognito).toHaveReceivedCommandWith(AdminInitiateAuthCommand, {
      UserPoolId: 'eu-west-1_pool',
      ClientId: 'client123',
    });
  });

  test('an existing user keeps its password: refused with a message naming --reset-password, no password set, no sign-in', async () => {
    const { cognito, aws } = mocks();
    cognito.on(AdminCreateUserCommand).rejects(new UsernameExistsException({ message: 'exists', $metadata: {} }));
    cognito
      .on(AdminGetUserCommand)
      .resolves({ Username: 'alice@example.com', UserAttributes: [{ Name: 'custom:tenant_id', Value: 'tenant1' }] });
    await expect(tokenCommand(ARGS, {}, aws)).rejects.toThrow(
      /already exists; its password is left alone. Add --reset-password/,
    );
    expect(cognito).not.toHaveReceivedCommand(AdminSetUserPasswordCommand);
    expect(cognito).not.toHaveReceivedCommand(AdminInitiateAuthCommand);
  });

  test('--reset-password: an existing user of the same tenant gets a new password and signs in again', async () => {
    const { cognito, aws } = mocks();
    cognito.on(AdminCreateUserCommand).rejects(new UsernameExistsException({ message: 'exists', $metadata: {} }));
    cognito
      .on(AdminGetUserCommand)
      .resolves({ Username: 'alice@example.com', UserAttributes: [{ Name: 'custom:tenant_id', Value: 'tenant1' }] });
    await expect(tokenCommand([...ARGS, '--reset-password'], {}, aws)).resolves.toBe('id.token.jwt');
    expect(cognito).toHaveReceivedCommandWith(AdminSetUserPasswordCommand, {
      Username: 'alice@example.com',
      Permanent: true,
    });
    expect(cognito).toHaveReceivedCommandTimes(AdminInitiateAuthCommand, 1);
  });

  test('an unknown stack -> one line naming it and the region; no Cognito call', async () => {
    const { cfn, cognito, aws } = mocks();
    const missing = Object.assign(new Error('Stack with id Nope does not exist'), { name: 'ValidationError' });
    cfn.on(DescribeStacksCommand).rejects(missing);
    const error = await tokenCommand(['--stack', 'Nope', '--tenant', 'tenant1', '--user', 'a@b.c'], {}, aws).catch(
      (e: Error) => e,
    );
    expect(error).toBeInstanceOf(LocalSetupError);
    expect((error as Error).message).toBe(
      'Stack Nope does not exist in eu-west-1: check --stack (cdk deploy prints the name) and AWS_REGION / AWS_PROFILE.',
    );
    expect(cognito.calls()).toHaveLength(0);
  });

  test('an existing user of another tenant is refused (the attribute is immutable); no sign-in', async () => {
    const { cognito, aws } = mocks();
    cognito.on(AdminCreateUserCommand).rejects(new UsernameExistsException({ message: 'exists', $metadata: {} }));
    cognito
      .on(AdminGetUserCommand)
      .resolves({ Username: 'alice@example.com', UserAttributes: [{ Name: 'custom:tenant_id', Value: 'tenant2' }] });
    await expect(tokenCommand(ARGS, {}, aws)).rejects.toThrow(
      /already exists with tenant tenant2; the tenant attribute is immutable/,
    );
    expect(cognito).not.toHaveReceivedCommand(AdminSetUserPasswordCommand);
    expect(cognito).not.toHaveReceivedCommand(AdminInitiateAuthCommand);
  });

  test('a stack without the user pool outputs (auth=jwt/iam/none) -> a message saying so; no Cognito call', async () => {
    const { cognito, aws } = mocks(OUTPUTS.filter((o) => o.OutputKey === 'ApiUrl'));
    await expect(tokenCommand(ARGS, {}, aws)).rejects.toThrow(/not deployed with auth=cognito/);
    expect(cognito.calls()).toHaveLength(0);
  });

  test.each([
    [['--stack', 'S', '--tenant', 't1'], /--user <email> is required/],
    [['--stack', 'S', '--user', 'a@b.c'], /--tenant is required/],
    [['--tenant', 'bad tenant'], /--tenant: tenant_id may only contain/],
    [['--tenant', 't1', '--ttl', '0'], /--ttl must be an integer/],
    [['--tenant', 't1', '--user', 'a@b.c'], /--user and --reset-password apply to a deployed stack/],
    [['--tenant', 't1', '--reset-password'], /--user and --reset-password apply to a deployed stack/],
    [['--tenant', 't1', '--bogus'], /Unknown option/],
  ])('%j is refused with a usable message and no AWS call', async (args, message) => {
    const { cfn, aws } = mocks();
    await expect(tokenCommand(args, {}, aws)).rejects.toThrow(message);
    expect(cfn.calls()).toHaveLength(0);
  });
});

describe('npm run token -- --tenant … (local)', () => {
  /** A stand-in for AUTH=jwt npm start's POST /local/token: the token names the server that issued it. */
  let server: Server;
  let url: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ id_token: `token-from-${req.headers.host}-${req.url}` }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test('nothing listening on PORT -> says to start AUTH=jwt npm start', async () => {
    const { aws } = mocks();
    await expect(tokenCommand(['--tenant', 't1'], { PORT: '1' }, aws)).rejects.toThrow(/AUTH=jwt npm start/);
  });

  test('without PORT or --api: asks the server npm start wrote down, on whatever port it runs', async () => {
    const { aws } = mocks();
    const token = await tokenCommand(['--tenant', 't1'], {}, aws, () => url);
    expect(token).toBe(`token-from-${new URL(url).host}-/local/token`);
  });

  test('PORT overrides the URL npm start wrote down, and --api overrides PORT', async () => {
    const { aws } = mocks();
    const port = new URL(url).port;
    const elsewhere = () => 'http://127.0.0.1:1';
    await expect(tokenCommand(['--tenant', 't1'], { PORT: port }, aws, elsewhere)).resolves.toMatch(/^token-from-/);
    await expect(tokenCommand(['--tenant', 't1', '--api', `${url}/`], { PORT: '1' }, aws, elsewhere)).resolves.toBe(
      `token-from-${new URL(url).host}-/local/token`,
    );
  });

  test.each([
    [['--tenant', 't1', '--api', 'localhost:8000'], /--api must be the local API's URL/],
    [
      ['--stack', 'S', '--tenant', 't1', '--user', 'a@b.c', '--api', 'http://localhost:8000'],
      /--ttl and --api apply to local tokens only/,
    ],
  ])('%j is refused', async (args, message) => {
    const { cfn, aws } = mocks();
    await expect(tokenCommand(args, {}, aws, () => url)).rejects.toThrow(message);
    expect(cfn.calls()).toHaveLength(0);
  });
});

describe('the URL npm start writes down for npm run token (local/local-only/api-url-file.ts)', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'api-url-'));
    file = path.join(dir, '.local-data', 'api-url.json');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('written by a running npm start: read back; removed at its stop', () => {
    writeApiUrl('http://127.0.0.1:8123', file);
    expect(readApiUrl(file)).toBe('http://127.0.0.1:8123');
    removeApiUrl(file);
    expect(readApiUrl(file)).toBeUndefined();
  });

  test('left by an npm start that was killed: its process is gone, so it is not read', () => {
    writeApiUrl('http://127.0.0.1:8123', file);
    writeFileSync(file, JSON.stringify({ url: 'http://127.0.0.1:8123', pid: 2 ** 22 + 1 }));
    expect(readApiUrl(file)).toBeUndefined();
  });

  test('written by another running npm start: not removed by this one', () => {
    writeApiUrl('http://127.0.0.1:8123', file);
    writeFileSync(file, JSON.stringify({ url: 'http://127.0.0.1:9000', pid: process.ppid }));
    removeApiUrl(file);
    expect(readApiUrl(file)).toBe('http://127.0.0.1:9000');
  });

  test('no file, or one that is not ours: undefined', () => {
    expect(readApiUrl(file)).toBeUndefined();
    writeApiUrl('http://127.0.0.1:8123', file);
    writeFileSync(file, 'not json');
    expect(readApiUrl(file)).toBeUndefined();
  });
});
