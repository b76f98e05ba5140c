import * as ddb from '@aws-sdk/client-dynamodb';
import type { LambdaError } from '../lambda/runtime';
import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  type RunOptions,
  StateMachine,
  type StateMachineDefinition,
} from 'aws-local-stepfunctions';

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

export interface Execution {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  readonly input: string;
  readonly startDate: Date;
  status: ExecutionStatus;
  stopDate?: Date;
  output?: string;
  error?: string;
  cause?: string;
}

type LocalTaskHandlers = NonNullable<NonNullable<RunOptions['overrides']>['taskResourceLocalHandlers']>;
/** JSON as aws-local-stepfunctions passes it between states (the library names this type but does not export it). */
type JsonValue = Parameters<LocalTaskHandlers[string]>[0];
type States = StateMachineDefinition['States'];
type RunEvents = ReturnType<StateMachine['run']>['eventLogs'];
/** Any DynamoDB command; each action's command class is looked up by name. */
type DynamoDbCommand = Parameters<ddb.DynamoDBClient['send']>[0];

/** A task state's local stand-in: receives the state's resolved Parameters, returns its result or throws a named error. */
export type TaskHandler = (input: JsonValue) => Promise<JsonValue>;
export type LambdaHandler = (event: unknown) => Promise<unknown>;

export interface LocalStepFunctionsOptions {
  /** The ASL definition, references already resolved to local names. */
  readonly definition: StateMachineDefinition;
  readonly stateMachineArn: string;
  /** Client for DynamoDB Local; DynamoDB task states run against it with their real parameters. */
  readonly dynamodb: ddb.DynamoDBClient;
  /** In-process Lambda handlers by function ARN, for Lambda task states. */
  readonly lambdas: Record<string, LambdaHandler>;
  /** Human-readable transition log. */
  readonly log?: (line: string) => void;
}

export type ExecutionEndListener = (execution: Execution) => void | Promise<void>;

/**
 * A fault the local runner injects into a Task state, as AWS could produce it (DynamoDB Local never reports
 * transaction conflicts or throttling): the state fails with `error` instead of calling its resource.
 */
export interface StateFault {
  /** The Task state, e.g. `MarkCompleted`. */
  readonly state: string;
  /** The error name as Step Functions reports it, e.g. `DynamoDb.TransactionCanceledException`. */
  readonly error: string;
  /** Only when the state's parameters (as JSON) contain this string, e.g. a test's tenant. */
  readonly match?: string;
  /** How many attempts fail. */
  times: number;
  /** The error's Cause (default: "injected fault: <error>"), e.g. a Lambda error payload as JSON. */
  readonly cause?: string;
}

export class ExecutionAlreadyExists extends Error {
  override readonly name = 'ExecutionAlreadyExists';
}
export class ExecutionDoesNotExist extends Error {
  override readonly name = 'ExecutionDoesNotExist';
}

const OPTIMIZED_DYNAMODB = /^arn:[^:]+:states:::dynamodb:(\w+)$/;
const SDK_DYNAMODB = /^arn:[^:]+:states:::aws-sdk:dynamodb:(\w+)$/;
const LAMBDA_INVOKE = /^arn:[^:]+:states:::lambda:invoke$/;
const LAMBDA_ARN = /^arn:[^:]+:lambda:/;

/** Error names as Step Functions reports them, so Retry and Catch clauses match locally exactly as on AWS. */
class NamedError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/**
 * Runs the synthesized state machine with aws-local-stepfunctions and keeps executions by name with the semantics
 * of a Standard workflow: starting a name again with the same input while it runs returns that execution;
 * any other reuse of a name is ExecutionAlreadyExists.
 */
export class LocalStepFunctions {
  private readonly machine: StateMachine;
  private readonly handlers: Record<string, TaskHandler>;
  private readonly executions = new Map<string, Execution>();
  private readonly running = new Map<string, { abort: () => void; done: Promise<void> }>();
  private readonly listeners: ExecutionEndListener[] = [];
  /** Executions whose input matches a hold wait (RUNNING, before their first state) until released. */
  private readonly holds: { field: string; value: string }[] = [];
  private readonly held: { execution: Execution; begin: () => void }[] = [];
  private readonly log: (line: string) => void;
  private readonly faults: StateFault[] = [];
  /** Executions whose input contains one of these lose their end event (as if EventBridge never delivered it). */
  private readonly droppedEndEvents: { match: string; times: number }[] = [];

  constructor(private readonly options: LocalStepFunctionsOptions) {
    this.log = options.log ?? (() => {});
    this.machine = new StateMachine(options.definition, { validationOptions: { checkArn: false, checkPaths: false } });
    const handlers = taskHandlers(options.definition, options.dynamodb, options.lambdas);
    // Every Task state goes through the fault hook first.
    this.handlers = Object.fromEntries(
      Object.entries(handlers).map(([state, handler]) => [
        state,
        async (input: JsonValue) => {
          const fault = this.takeFault(state, input);
          if (fault) {
            this.log(`[sfn]   ${state}: injected ${fault.error}`);
            throw new NamedError(fault.error, fault.cause ?? `injected fault: ${fault.error}`);
          }
          return handler(input);
        },
      ]),
    );
  }

  /** Test and demo control, not a Step Functions API: the next `times` attempts of a Task state fail with `error`. */
  injectFault(fault: StateFault): void {
    this.faults.push({ ...fault });
  }

  /** Test and demo control: the next `times` executions whose input contains `match` end without notifying listeners. */
  dropEndEvents(match: string, times: number): void {
    this.droppedEndEvents.push({ match, times });
  }

  private takeFault(state: string, input: unknown): StateFault | undefined {
    if (this.faults.length === 0) return undefined;
    const text = JSON.stringify(input ?? {});
    const fault = this.faults.find(
      (f) => f.state === state && f.times > 0 && (f.match === undefined || text.includes(f.match)),
    );
    if (!fault) return undefined;
    if (--fault.times === 0) this.faults.splice(this.faults.indexOf(fault), 1);
    return fault;
  }

  get stateMachineArn(): string {
    return this.options.stateMachineArn;
  }

  onExecutionEnd(listener: ExecutionEndListener): void {
    this.listeners.push(listener);
  }

  startExecution(name: string, input: string): Execution {
    const existing = this.executions.get(name);
    if (existing) {
      if (existing.status === 'RUNNING' && existing.input === input) return existing;
      throw new ExecutionAlreadyExists(`Execution Already Exists: '${existing.executionArn}'`);
    }
    const execution: Execution = {
      executionArn: `${this.options.stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`,
      stateMachineArn: this.options.stateMachineArn,
      name,
      input,
      startDate: new Date(),
      status: 'RUNNING',
    };
    this.executions.set(name, execution);
    const begin = () => this.begin(execution);
    if (this.isHeld(execution)) {
      this.held.push({ execution, begin });
      this.log(`[sfn] ${name} started (held)`);
    } else begin();
    return execution;
  }

  /**
   * Test and demo control, not a Step Functions API: executions whose input has `field` equal to `value` stay
   * RUNNING before their first state until released, so a race can be observed without a clock.
   */
  hold(field: string, value: string): void {
    this.holds.push({ field, value });
  }

  release(field: string, value: string): number {
    const i = this.holds.findIndex((h) => h.field === field && h.value === value);
    if (i >= 0) this.holds.splice(i, 1);
    const ready = this.held.filter((h) => !this.isHeld(h.execution));
    for (const h of ready) {
      this.held.splice(this.held.indexOf(h), 1);
      h.begin();
    }
    return ready.length;
  }

  private isHeld(execution: Execution): boolean {
    if (this.holds.length === 0) return false;
    const input = JSON.parse(execution.input) as Record<string, unknown>;
    return this.holds.some((h) => input[h.field] === h.value);
  }

  private begin(execution: Execution): void {
    const name = execution.name;
    if (execution.status !== 'RUNNING') return;
    const run = this.machine.run(JSON.parse(execution.input) as JsonValue, {
      overrides: { taskResourceLocalHandlers: this.handlers },
      context: {
        Execution: { Id: execution.executionArn, Name: name },
        StateMachine: { Id: this.options.stateMachineArn },
        // Read when a state's parameters are evaluated, which is when the state is entered.
        State: {
          get EnteredTime() {
            return new Date().toISOString();
          },
        },
      },
    });
    const lastState = this.logTransitions(name, run.eventLogs);
    const done = run.result.then(
      async (output) =>
        this.end(execution, 'SUCCEEDED', { output: JSON.stringify(output) }, await outcomeOf(lastState, output)),
      (error: unknown) => this.end(execution, ...ending(error)),
    );
    this.running.set(name, { abort: run.abort, done });
    this.log(`[sfn] ${name} started`);
  }

  stopExecution(executionArn: string, error?: string, cause?: string): Execution {
    const execution = this.describeExecution(executionArn);
    if (execution.status === 'RUNNING') {
      execution.error = error;
      execution.cause = cause;
      const held = this.held.findIndex((h) => h.execution === execution);
      if (held >= 0) {
        this.held.splice(held, 1);
        void this.end(execution, 'ABORTED', {});
      } else this.running.get(execution.name)?.abort();
    }
    return execution;
  }

  describeExecution(executionArn: string): Execution {
    const execution = [...this.executions.values()].find((e) => e.executionArn === executionArn);
    if (!execution) throw new ExecutionDoesNotExist(`Execution Does Not Exist: '${executionArn}'`);
    return execution;
  }

  listExecutions(): Execution[] {
    return [...this.executions.values()];
  }

  /** Resolves when every running execution has ended (and its end listeners ran). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running.values()].map((r) => r.done));
  }

  /** Aborts every running execution and waits for them. */
  async stopAll(): Promise<void> {
    this.holds.length = 0;
    for (const h of this.held.splice(0)) await this.end(h.execution, 'ABORTED', {});
    for (const r of this.running.values()) r.abort();
    await this.idle();
  }

  private async end(
    execution: Execution,
    status: ExecutionStatus,
    details: Partial<Execution>,
    outcome = '',
  ): Promise<void> {
    Object.assign(execution, { error: execution.error, cause: execution.cause }, details, {
      status,
      stopDate: new Date(),
    });
    this.log(`[sfn] ${execution.name} ${status}${execution.error ? ` (${execution.error})` : ''}${outcome}`);
    const drop = this.droppedEndEvents.find((d) => d.times > 0 && execution.input.includes(d.match));
    if (drop) {
      drop.times--;
      this.log(`[sfn] ${execution.name} end event dropped (injected)`);
    }
    for (const listener of drop ? [] : this.listeners) {
      try {
        await listener(execution);
      } catch (error) {
        this.log(`[sfn] ${execution.name} end listener failed: ${(error as Error).message}`);
      }
    }
    this.running.delete(execution.name);
  }

  /** Logs each transition; resolves with the last state entered. */
  private async logTransitions(name: string, events: RunEvents): Promise<string | undefined> {
    let last: string | undefined;
    // A StateCaught event carries the catcher, not the error: the error is on the StateFailed event before it.
    const failed = new Map<string, string>();
    for await (const event of events) {
      if (event.type === 'StateEntered') {
        last = event.state.name;
        this.log(`[sfn] ${name} → ${event.state.name}`);
      } else if (event.type === 'StateFailed') {
        failed.set(event.state.name, event.Error);
        // The raw cause goes to the log (as to the execution history on AWS), never into a task's record.
        this.log(`[sfn] ${name}   ${event.state.name} failed: ${event.Error}: ${String(event.Cause)}`);
      } else if (event.type === 'StateRetried')
        this.log(
          `[sfn] ${name}   ${event.state.name} retry #${event.retry.attempt} after ${failed.get(event.state.name) ?? 'an error'}`,
        );
      else if (event.type === 'StateCaught')
        this.log(
          `[sfn] ${name}   ${event.state.name} caught ${failed.get(event.state.name) ?? 'an error'} → ${event.catch.catcher.Next}`,
        );
    }
    return last;
  }
}

/** What a SUCCEEDED execution did to its task, named by the state it ended in, so a failure never reads as success. */
async function outcomeOf(lastState: Promise<string | undefined>, output: JsonValue): Promise<string> {
  const state = await Promise.race([lastState, new Promise<undefined>((r) => setTimeout(() => r(undefined), 50))]);
  if (state === 'MarkCompleted') return ': task completed';
  if (state?.startsWith('MarkFailed')) return `: task recorded failed (${caughtErrorName(output)})`;
  if (state === 'NoLongerActive' || state === 'AlreadyFinished')
    return ': task had already ended elsewhere; nothing written';
  return '';
}

/** The Error of the failure the Catch put under `error` (the workflow's resultPath), for the log. */
function caughtErrorName(output: JsonValue): string {
  const caught = isJsonObject(output) ? output.error : undefined;
  const name = isJsonObject(caught) ? caught.Error : undefined;
  return typeof name === 'string' ? name : 'error';
}

function isJsonObject(value: JsonValue | undefined): value is Exclude<JsonValue, unknown[] | null> & object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function ending(error: unknown): [ExecutionStatus, Partial<Execution>] {
  if (error instanceof ExecutionAbortedError) return ['ABORTED', {}];
  if (error instanceof ExecutionTimeoutError)
    return ['TIMED_OUT', { error: 'States.Timeout', cause: 'The execution timed out' }];
  const cause = error instanceof ExecutionError ? (error.cause as Error) : (error as Error);
  return ['FAILED', { error: cause?.name ?? 'Error', cause: cause?.message ?? String(error) }];
}

/** One local handler per Task state, chosen by its Resource, searched through Parallel and Map states too. */
function taskHandlers(
  definition: StateMachineDefinition,
  client: ddb.DynamoDBClient,
  lambdas: Record<string, LambdaHandler>,
): Record<string, TaskHandler> {
  const handlers: Record<string, TaskHandler> = {};
  const visit = (states: States) => {
    for (const [name, state] of Object.entries(states)) {
      if (state.Type === 'Task') handlers[name] = handlerFor(name, state.Resource, client, lambdas);
      if (state.Type === 'Parallel') for (const branch of state.Branches) visit(branch.States);
      if (state.Type === 'Map') {
        const processor = state.ItemProcessor ?? state.Iterator;
        if (processor) visit(processor.States);
      }
    }
  };
  visit(definition.States);
  return handlers;
}

function handlerFor(
  stateName: string,
  resource: string,
  client: ddb.DynamoDBClient,
  lambdas: Record<string, LambdaHandler>,
): TaskHandler {
  // Optimized integrations name errors "DynamoDB.<Exception>"; AWS SDK integrations "DynamoDb.<Exception>".
  const optimized = OPTIMIZED_DYNAMODB.exec(resource)?.[1];
  if (optimized) return dynamoDbCall(client, optimized, 'DynamoDB');
  const sdk = SDK_DYNAMODB.exec(resource)?.[1];
  if (sdk) return dynamoDbCall(client, sdk, 'DynamoDb');
  if (LAMBDA_INVOKE.test(resource)) {
    return async (params) => {
      const { FunctionName: functionName, Payload } = isJsonObject(params) ? params : {};
      if (typeof functionName !== 'string')
        throw new NamedError('States.Runtime', `State ${stateName}: lambda:invoke needs Parameters.FunctionName`);
      const payload = await invokeLambda(lambdas, functionName, Payload);
      return { ExecutedVersion: '$LATEST', Payload: payload, StatusCode: 200 };
    };
  }
  if (LAMBDA_ARN.test(resource)) return (input) => invokeLambda(lambdas, resource, input);
  return () =>
    Promise.reject(
      new NamedError('States.Runtime', `State ${stateName}: resource ${resource} has no local implementation`),
    );
}

function dynamoDbCall(client: ddb.DynamoDBClient, action: string, errorPrefix: string): TaskHandler {
  const commandName = `${action.charAt(0).toUpperCase()}${action.slice(1)}Command` as keyof typeof ddb;
  const Command = ddb[commandName] as unknown as new (input: unknown) => DynamoDbCommand;
  if (typeof Command !== 'function') {
    return () => Promise.reject(new NamedError('States.Runtime', `DynamoDB action ${action} is not supported locally`));
  }
  return async (params) => {
    try {
      const output: Record<string, unknown> = { ...(await client.send(new Command(params))) };
      delete output.$metadata;
      // DynamoDB's outputs are plain data (attribute-value maps, counts), what Step Functions hands on as JSON.
      return output as JsonValue;
    } catch (error) {
      const e = error as Error;
      throw new NamedError(`${errorPrefix}.${e.name}`, e.message);
    }
  };
}

async function invokeLambda(
  lambdas: Record<string, LambdaHandler>,
  functionArn: string,
  payload: JsonValue | undefined,
): Promise<JsonValue> {
  const handler = lambdas[functionArn];
  if (!handler) throw new NamedError('Lambda.ResourceNotFoundException', `Function not found: ${functionArn}`);
  try {
    // Through JSON both ways, as the Lambda service does.
    const result = await handler(JSON.parse(JSON.stringify(payload ?? {})));
    return result === undefined ? null : (JSON.parse(JSON.stringify(result)) as JsonValue);
  } catch (error) {
    const e = error as Partial<LambdaError>;
    // Step Functions reports a function error by its errorType (Node.js runtimes take it from error.name), and its
    // Cause is the runtime's error payload as JSON, stack trace included.
    const errorType = e?.name ?? 'Error';
    const trace = e?.trace ?? (e?.stack ?? '').split('\n');
    throw new NamedError(errorType, JSON.stringify({ errorType, errorMessage: e?.message ?? String(error), trace }));
  }
}
