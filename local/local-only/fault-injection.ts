/**
 * Fault injection for tests and `npm start`: an AWS SDK middleware that fails chosen commands with the errors AWS
 * sends, so the code that handles them (transaction conflicts, throttling) runs against DynamoDB Local, which never
 * produces them. Inert unless a client is wired with it: the local system passes it to buildTrackHandler's
 * wrapClient; the deployed bundle never imports this module (test/infra/api-bundle.test.ts).
 */
export interface Fault {
  /** The SDK command, e.g. `PutItemCommand`, `TransactWriteItemsCommand`, `StartExecutionCommand`. */
  readonly command: string;
  /** The error name, e.g. `TransactionConflictException`, `TransactionCanceledException`, `ThrottlingException`. */
  readonly error: string;
  /** For TransactionCanceledException: the reason code of each item (default `TransactionConflict`). */
  readonly reason?: string;
  /** Only commands whose input (as JSON) contains this string, e.g. a test's tenant. */
  readonly match?: string;
  /** How many matching calls fail. */
  times: number;
}

interface MiddlewareClient {
  middlewareStack: { add(middleware: unknown, options: { step: 'initialize'; name: string }): void };
}

const REGISTRY = Symbol.for('video-tracking.fault-injection');

/** One list per process, shared by every wired client (the handler loaded from source and the tests' own clients). */
function faults(): Fault[] {
  const holder = globalThis as { [REGISTRY]?: Fault[] };
  holder[REGISTRY] ??= [];
  return holder[REGISTRY];
}

export function injectFault(fault: Fault): void {
  faults().push({ ...fault });
}

export function clearFaults(match?: string): void {
  const list = faults();
  const kept = list.filter((f) => match !== undefined && f.match !== match);
  list.splice(0, list.length, ...kept);
}

/** The next fault for this call, counted down; undefined when none applies. */
export function takeFault(command: string, input: unknown): Fault | undefined {
  const list = faults();
  if (list.length === 0) return undefined;
  const text = JSON.stringify(input ?? {});
  const fault = list.find(
    (f) => f.command === command && f.times > 0 && (f.match === undefined || text.includes(f.match)),
  );
  if (!fault) return undefined;
  fault.times--;
  if (fault.times === 0) list.splice(list.indexOf(fault), 1);
  return fault;
}

/** An error shaped as the AWS SDK throws it: name, $fault, $metadata, and CancellationReasons for transactions. */
export function faultError(fault: Fault, input: unknown): Error {
  const items = ((input as { TransactItems?: unknown[] } | undefined)?.TransactItems ?? []).length;
  const reason = fault.reason ?? 'TransactionConflict';
  return Object.assign(new Error(`injected fault: ${fault.error}`), {
    name: fault.error,
    $fault: 'client',
    $metadata: { httpStatusCode: 400 },
    ...(fault.error === 'TransactionCanceledException'
      ? { CancellationReasons: Array.from({ length: Math.max(items, 1) }, () => ({ Code: reason })) }
      : {}),
  });
}

/** Wires the middleware into a client (before the SDK's own retries, so each injected failure is seen once). */
export function withFaultInjection<C extends MiddlewareClient>(client: C): C {
  client.middlewareStack.add(
    (next: (args: { input: unknown }) => Promise<unknown>, context: { commandName?: string }) =>
      async (args: { input: unknown }) => {
        const fault = takeFault(context.commandName ?? '', args.input);
        if (fault) throw faultError(fault, args.input);
        return next(args);
      },
    { step: 'initialize', name: 'faultInjection' },
  );
  return client;
}
