/**
 * Fault injection for tests and `npm start`: an AWS SDK middleware that fails chosen commands with the errors AWS
 * sends, so the code that handles them (transaction conflicts, throttling) runs against DynamoDB Local, which never
 * produces them; or holds them for a while, so a test can widen a race window on purpose instead of hoping for it.
 * Inert unless a client is wired with it: the local system passes it to buildTrackHandler's wrapClient; the deployed
 * bundle never imports this module (test/infra/api-bundle.test.ts).
 */
export interface Fault {
  /**
   * The SDK command, e.g. `PutItemCommand`, `TransactWriteItemsCommand`, `StartExecutionCommand`. Omitted: any command
   * whose input contains `match` (then `match` is required), e.g. every call that touches one tenant's counter item,
   * whichever command carries it.
   */
  readonly command?: string;
  /**
   * The error name, e.g. `TransactionConflictException`, `TransactionCanceledException`, `ThrottlingException`.
   * Omitted: the call is not failed, only delayed (`delayMs` and/or `answerDelayMs`), then sent as usual.
   */
  readonly error?: string;
  /** For TransactionCanceledException: the reason code of each item (default `TransactionConflict`). */
  readonly reason?: string;
  /** Only commands whose input (as JSON) contains this string, e.g. a test's tenant. */
  readonly match?: string;
  /** Wait this long before the call is sent (or, with `error`, before it fails): the call has not landed meanwhile. */
  readonly delayMs?: number;
  /**
   * Send the call, then hold its answer (result or error) this long before the caller sees it: the call has landed,
   * the caller does not know yet. Not with `error`, which never sends the call.
   */
  readonly answerDelayMs?: number;
  /** How many matching calls it applies to. */
  times: number;
}

/** A call a fault holds right now: `sending` (delayMs, not sent yet) or `answered` (answerDelayMs, landed already). */
export interface HeldCall {
  readonly command: string;
  readonly match: string | undefined;
  readonly stage: 'sending' | 'answered';
}

interface MiddlewareClient {
  middlewareStack: { add(middleware: unknown, options: { step: 'initialize'; name: string }): void };
}

const REGISTRY = Symbol.for('video-tracking.fault-injection');

interface Registry {
  faults: Fault[];
  held: Set<HeldCall>;
}

/** One registry per process, shared by every wired client (the handler loaded from source and the tests' own clients). */
function registry(): Registry {
  const holder = globalThis as { [REGISTRY]?: Registry };
  holder[REGISTRY] ??= { faults: [], held: new Set() };
  return holder[REGISTRY];
}

function faults(): Fault[] {
  return registry().faults;
}

export function injectFault(fault: Fault): void {
  if (fault.command === undefined && !fault.match)
    throw new Error('a fault without a command needs a match: it would apply to every call');
  if (fault.error === undefined && !fault.delayMs && !fault.answerDelayMs)
    throw new Error('a fault needs an error, a delayMs or an answerDelayMs: it would do nothing');
  if (fault.error !== undefined && fault.answerDelayMs)
    throw new Error('answerDelayMs holds the answer of a call that is sent: a fault with an error sends none');
  faults().push({ ...fault });
}

export function clearFaults(match?: string): void {
  const list = faults();
  const kept = list.filter((f) => match !== undefined && f.match !== match);
  list.splice(0, list.length, ...kept);
}

/** The calls held by a delay right now, optionally only those of faults with this `match`. */
export function heldCalls(match?: string): HeldCall[] {
  return [...registry().held].filter((h) => match === undefined || h.match === match);
}

/** The next fault for this call, counted down; undefined when none applies. Faults are tried in injection order. */
export function takeFault(command: string, input: unknown): Fault | undefined {
  const list = faults();
  if (list.length === 0) return undefined;
  const text = JSON.stringify(input ?? {});
  const fault = list.find(
    (f) =>
      (f.command === undefined || f.command === command) &&
      f.times > 0 &&
      (f.match === undefined || text.includes(f.match)),
  );
  if (!fault) return undefined;
  fault.times--;
  if (fault.times === 0) list.splice(list.indexOf(fault), 1);
  return fault;
}

/** An error shaped as the AWS SDK throws it: name, $fault, $metadata, and CancellationReasons for transactions. */
export function faultError(fault: Fault, input: unknown): Error {
  const name = fault.error ?? 'InjectedFault';
  const items = ((input as { TransactItems?: unknown[] } | undefined)?.TransactItems ?? []).length;
  const reason = fault.reason ?? 'TransactionConflict';
  return Object.assign(new Error(`injected fault: ${name}`), {
    name,
    $fault: 'client',
    $metadata: { httpStatusCode: 400 },
    ...(name === 'TransactionCanceledException'
      ? { CancellationReasons: Array.from({ length: Math.max(items, 1) }, () => ({ Code: reason })) }
      : {}),
  });
}

/** Waits `ms`, listed in heldCalls meanwhile. */
async function hold(ms: number, call: HeldCall): Promise<void> {
  const { held } = registry();
  held.add(call);
  try {
    await new Promise((resolve) => setTimeout(resolve, ms));
  } finally {
    held.delete(call);
  }
}

/** Applies a fault to one call: delay, fail, or send and hold the answer. */
async function applyFault<T>(fault: Fault, command: string, input: unknown, send: () => Promise<T>): Promise<T> {
  if (fault.delayMs) await hold(fault.delayMs, { command, match: fault.match, stage: 'sending' });
  if (fault.error !== undefined) throw faultError(fault, input);
  if (!fault.answerDelayMs) return send();
  const answer = await send().then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  await hold(fault.answerDelayMs, { command, match: fault.match, stage: 'answered' });
  if ('error' in answer) throw answer.error;
  return answer.value;
}

/** Wires the middleware into a client (before the SDK's own retries, so each injected failure is seen once). */
export function withFaultInjection<C extends MiddlewareClient>(client: C): C {
  client.middlewareStack.add(
    (next: (args: { input: unknown }) => Promise<unknown>, context: { commandName?: string }) =>
      async (args: { input: unknown }) => {
        const command = context.commandName ?? '';
        const fault = takeFault(command, args.input);
        return fault ? applyFault(fault, command, args.input, () => next(args)) : next(args);
      },
    { step: 'initialize', name: 'faultInjection' },
  );
  return client;
}
