import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  type GetCommandOutput,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  type QueryCommandOutput,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { translate } from '../aws-errors';

export function createDocumentClient(client = new DynamoDBClient({})): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

/** The document client's commands; and the low-level PutItem, which it sends as the base client would (one middleware stack). */
type TableCommand =
  PutItemCommand | PutCommand | GetCommand | QueryCommand | UpdateCommand | DeleteCommand | TransactWriteCommand;
type OutputOf<C> = C extends GetCommand ? GetCommandOutput : C extends QueryCommand ? QueryCommandOutput : unknown;

/** DynamoDB's name for each command, as DependencyUnavailable reports it. */
function operationOf(command: TableCommand): string {
  if (command instanceof PutCommand || command instanceof PutItemCommand) return 'PutItem';
  if (command instanceof GetCommand) return 'GetItem';
  if (command instanceof QueryCommand) return 'Query';
  if (command instanceof UpdateCommand) return 'UpdateItem';
  if (command instanceof DeleteCommand) return 'DeleteItem';
  return 'TransactWriteItems';
}

/** A failure the caller said it expects (a condition that did not hold): part of the protocol, not an outage. */
export interface Refused {
  readonly refused: unknown;
}

/** One table and the one place its commands are sent: every SDK error leaves here translated (aws-errors.ts). */
export class TableClient {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    readonly tableName: string,
  ) {}

  /** @throws DependencyUnavailable for what a retry can fix; any other error as the SDK threw it. */
  async send<C extends TableCommand>(command: C): Promise<OutputOf<C>> {
    const out = await this.attempt(command, () => false);
    return (out as { output: OutputOf<C> }).output;
  }

  /** Every page of a query of this table, one after another: at most one page (<= 1 MB) is in memory at a time. */
  async *queryPages(
    input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey'>,
  ): AsyncIterable<Record<string, unknown>[]> {
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await this.send(new QueryCommand({ TableName: this.tableName, ...input, ExclusiveStartKey }));
      yield page.Items ?? [];
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
  }

  /** As send, but a failure `expected` accepts comes back as `{ refused }` instead of being thrown. */
  async attempt<C extends TableCommand>(
    command: C,
    expected: (error: unknown) => boolean,
  ): Promise<{ output: OutputOf<C> } | Refused> {
    try {
      return { output: (await this.doc.send(command as never)) as OutputOf<C> };
    } catch (error) {
      if (expected(error)) return { refused: error };
      throw translate(error, 'dynamodb', operationOf(command));
    }
  }
}

export function isRefused(out: object): out is Refused {
  return 'refused' in out;
}

/**
 * A single-item write refused because a transaction on the same item was in flight (TransactionConflictException):
 * nothing was written, and the transaction resolves in milliseconds, so the write may be sent again after
 * conflictBackoff, up to MAX_CONFLICT_ATTEMPTS in all.
 */
export function isTransactionConflict(error: unknown): boolean {
  return (error as Error | undefined)?.name === 'TransactionConflictException';
}

export const MAX_CONFLICT_ATTEMPTS = 4;
/** Base of the exponential backoff with full jitter after a TransactionConflict. */
const CONFLICT_BACKOFF_MS = 25;

/** Waits before attempt `attempt + 1`: full jitter spreads a burst's retries instead of sending them back together. */
export function conflictBackoff(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.random() * CONFLICT_BACKOFF_MS * 2 ** (attempt - 1)));
}

export function isConditionFailure(error: unknown): boolean {
  return (error as Error | undefined)?.name === 'ConditionalCheckFailedException';
}

/**
 * A transaction cancelled because a condition failed or a concurrent write conflicted: the caller should read
 * again. Cancellations for throttling or validation are not this; they are translated like any other failure.
 */
export function isTransactionLost(error: unknown): boolean {
  if ((error as Error | undefined)?.name !== 'TransactionCanceledException') return false;
  const codes = ((error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? []).map((r) => r.Code);
  return codes.length === 0 || codes.some((c) => c === 'ConditionalCheckFailed' || c === 'TransactionConflict');
}
