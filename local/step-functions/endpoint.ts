import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Execution, LocalStepFunctions } from './runner';

/**
 * A Step Functions endpoint on loopback speaking the service's JSON 1.0 protocol, for the operations this app uses
 * (StartExecution, StopExecution, DescribeExecution, and ListExecutions paged as the service pages it). The unchanged handler
 * reaches it through the AWS SDK with AWS_ENDPOINT_URL_SFN, exactly as it reaches Step Functions in AWS.
 */
export interface SfnEndpoint {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Operations beyond the service's, answered on the same endpoint (the local test controls): the output, or undefined
 * when the operation is not theirs. A thrown error is sent as the service sends its errors.
 */
export type ExtraOperations = (operation: string, input: OperationInput) => unknown;

/** A request's JSON object; each operation reads its members through the accessors below, which check their types. */
export type OperationInput = Record<string, unknown>;

class ServiceError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/** How long an idle client connection stays open. */
const KEEP_ALIVE_MS = 120_000;

export async function startSfnEndpoint(
  sfn: LocalStepFunctions,
  extra: ExtraOperations = () => undefined,
  port = 0,
): Promise<SfnEndpoint> {
  const server: Server = createServer((req, res) => void handle(sfn, extra, req, res));
  // The AWS SDK's Node.js handler reuses idle keep-alive sockets without reading the server's Keep-Alive timeout, so
  // Node's default of 5 s closed sockets a client was about to reuse: a StartExecution after 5 s of quiet could fail
  // with ECONNRESET ("socket hang up"), and a burst of them past the SDK's retry quota became 503s. AWS keeps
  // connections far longer; so does this endpoint.
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  server.headersTimeout = KEEP_ALIVE_MS + 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const { port: actual } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${actual}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(
  sfn: LocalStepFunctions,
  extra: ExtraOperations,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  let body = '';
  for await (const chunk of req) body += chunk;
  const operation = String(req.headers['x-amz-target'] ?? '').replace(/^AWSStepFunctions\./, '');
  try {
    const input: unknown = body ? JSON.parse(body) : {};
    if (!isObject(input)) throw new ServiceError('SerializationException', 'The request body must be a JSON object');
    const output = extra(operation, input) ?? operate(sfn, operation, input);
    send(res, 200, output);
  } catch (error) {
    const e = error instanceof ServiceError ? error : new ServiceError((error as Error).name, (error as Error).message);
    send(res, e.status, { __type: e.type, message: e.message });
  }
}

function operate(sfn: LocalStepFunctions, operation: string, input: OperationInput): unknown {
  const checkMachine = (arn: string) => {
    if (arn !== sfn.stateMachineArn)
      throw new ServiceError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
  };
  switch (operation) {
    case 'StartExecution': {
      checkMachine(requiredString(input, 'stateMachineArn'));
      const name = optionalString(input, 'name');
      if (!name) throw new ServiceError('ValidationException', 'name is required locally');
      const e = sfn.startExecution(name, optionalString(input, 'input') ?? '{}');
      return { executionArn: e.executionArn, startDate: seconds(e.startDate) };
    }
    case 'StopExecution': {
      const e = sfn.stopExecution(
        requiredString(input, 'executionArn'),
        optionalString(input, 'error'),
        optionalString(input, 'cause'),
      );
      return { stopDate: seconds(e.stopDate ?? new Date()) };
    }
    case 'DescribeExecution':
      return describe(sfn.describeExecution(requiredString(input, 'executionArn')));
    case 'ListExecutions':
      checkMachine(requiredString(input, 'stateMachineArn'));
      return listExecutions(sfn, {
        statusFilter: optionalString(input, 'statusFilter'),
        maxResults: optionalNumber(input, 'maxResults'),
        nextToken: optionalString(input, 'nextToken'),
      });
    default:
      throw new ServiceError(
        'UnknownOperationException',
        `${operation || 'This operation'} is not implemented by the local Step Functions endpoint`,
      );
  }
}

/**
 * As the service pages it: newest first, `maxResults` a page (default 100, at most 1,000; 0 means the default), and a
 * `nextToken` that resumes after the last execution returned, valid only with the same filter.
 */
function listExecutions(
  sfn: LocalStepFunctions,
  input: { statusFilter?: string; maxResults?: number; nextToken?: string },
) {
  const maxResults = input.maxResults ?? 0;
  if (!Number.isInteger(maxResults) || maxResults < 0 || maxResults > 1000) {
    throw new ServiceError('ValidationException', `maxResults must be from 0 to 1000, got ${input.maxResults}`);
  }
  const size = maxResults || 100;
  const all = sfn
    .listExecutions()
    .filter((e) => !input.statusFilter || e.status === input.statusFilter)
    .sort((a, b) => b.startDate.getTime() - a.startDate.getTime() || b.name.localeCompare(a.name));
  let from = 0;
  if (input.nextToken) {
    const token = parseToken(input.nextToken);
    if (!token || token.statusFilter !== (input.statusFilter ?? ''))
      throw new ServiceError('InvalidToken', 'Invalid Token');
    // After the last one returned, even if executions started or ended since.
    from = all.findIndex(
      (e) =>
        e.startDate.getTime() < token.startDate || (e.startDate.getTime() === token.startDate && e.name < token.name),
    );
    if (from < 0) from = all.length;
  }
  const page = all.slice(from, from + size);
  const last = page[page.length - 1];
  return {
    executions: page.map((e) => ({
      executionArn: e.executionArn,
      stateMachineArn: e.stateMachineArn,
      name: e.name,
      status: e.status,
      startDate: seconds(e.startDate),
      stopDate: e.stopDate ? seconds(e.stopDate) : undefined,
    })),
    nextToken:
      from + size < all.length && last
        ? Buffer.from(
            JSON.stringify({
              statusFilter: input.statusFilter ?? '',
              startDate: last.startDate.getTime(),
              name: last.name,
            }),
          ).toString('base64')
        : undefined,
  };
}

function parseToken(token: string): { statusFilter: string; startDate: number; name: string } | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
    if (!isObject(parsed)) return undefined;
    const { statusFilter, startDate, name } = parsed;
    return typeof statusFilter === 'string' && typeof startDate === 'number' && typeof name === 'string'
      ? { statusFilter, startDate, name }
      : undefined;
  } catch {
    return undefined;
  }
}

function describe(e: Execution) {
  return {
    executionArn: e.executionArn,
    stateMachineArn: e.stateMachineArn,
    name: e.name,
    status: e.status,
    startDate: seconds(e.startDate),
    stopDate: e.stopDate ? seconds(e.stopDate) : undefined,
    input: e.input,
    output: e.output,
    error: e.error,
    cause: e.cause,
  };
}

function isObject(value: unknown): value is OperationInput {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A member the operation needs: a string, or the ValidationException the service sends. */
export function requiredString(input: OperationInput, name: string): string {
  const value = optionalString(input, name);
  if (value === undefined) throw new ServiceError('ValidationException', `${name} is required`);
  return value;
}

export function optionalString(input: OperationInput, name: string): string | undefined {
  const value = input[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new ServiceError('ValidationException', `${name} must be a string`);
  return value;
}

export function optionalNumber(input: OperationInput, name: string): number | undefined {
  const value = input[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number') throw new ServiceError('ValidationException', `${name} must be a number`);
  return value;
}

/** The JSON protocol carries timestamps as epoch seconds. */
function seconds(date: Date): number {
  return date.getTime() / 1000;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/x-amz-json-1.0', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
