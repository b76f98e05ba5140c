/* eslint-disable @typescript-eslint/require-await -- the port's methods are async; in memory, nothing is awaited. */
import { WorkflowAlreadyStarted } from '../../../lambda/core/errors';
import type { ExecutionState, Workflow } from '../../../lambda/core/ports';
import type { WorkflowInput } from '../../../lambda/core/task';
import type { ExecutionEnd } from '../../../lambda/shared/execution-ends';

interface Execution {
  readonly input: WorkflowInput;
  status: 'running' | ExecutionEnd;
  error?: string;
  cause?: string;
}

/** The Workflow port in memory, with Step Functions' naming rule: one execution per task id, ever. */
export class InMemoryWorkflow implements Workflow {
  readonly executions = new Map<string, Execution>();
  readonly stopped: string[] = [];
  private readonly startFailures: unknown[] = [];
  private readonly describeFailures = new Map<string, Error>();
  private readonly listFailures: Error[] = [];
  /** The task ids described, in order. */
  readonly described: string[] = [];
  /** Pages of running() handed out. */
  listPagesRead = 0;

  /** @param listPageSize names a page of running(), as ListExecutions pages at 1,000 */
  constructor(private readonly listPageSize = 1000) {}

  /** The next starts throw `errors`, one each, before any execution exists. */
  failNextStart(...errors: unknown[]): this {
    this.startFailures.push(...errors);
    return this;
  }

  /** The next describe of `taskId` throws `error` (once). */
  failDescribeOf(taskId: string, error: Error): this {
    this.describeFailures.set(taskId, error);
    return this;
  }

  /** The next running() throws `error` before its first page. */
  failNextList(error: Error): this {
    this.listFailures.push(error);
    return this;
  }

  /** Ends an execution as Step Functions would report it. */
  end(taskId: string, status: ExecutionEnd, error?: string, cause?: string): void {
    const execution = this.executions.get(taskId);
    if (!execution) throw new Error(`no execution ${taskId}`);
    Object.assign(execution, { status, error, cause });
  }

  async start(input: WorkflowInput): Promise<void> {
    if (this.startFailures.length) throw this.startFailures.shift();
    const existing = this.executions.get(input.taskId);
    if (!existing) {
      this.executions.set(input.taskId, { input, status: 'running' });
      return;
    }
    if (existing.status !== 'running' || JSON.stringify(existing.input) !== JSON.stringify(input)) {
      throw new WorkflowAlreadyStarted(`execution ${input.taskId} already exists`);
    }
  }

  async stop(taskId: string): Promise<void> {
    const execution = this.executions.get(taskId);
    if (execution?.status === 'running') {
      execution.status = 'aborted';
      this.stopped.push(taskId);
    }
  }

  async describe(taskId: string): Promise<ExecutionState> {
    this.described.push(taskId);
    const failure = this.describeFailures.get(taskId);
    if (failure) {
      this.describeFailures.delete(taskId);
      throw failure;
    }
    const execution = this.executions.get(taskId);
    if (!execution) return { status: 'none' };
    if (execution.status === 'running') return { status: 'running' };
    return { status: execution.status, error: execution.error, cause: execution.cause };
  }

  /** Names of the running executions, `pageSize` a page, each page read when it is asked for. */
  async *running(): AsyncIterable<readonly string[]> {
    const failure = this.listFailures.shift();
    if (failure) throw failure;
    const names = () => [...this.executions].filter(([, e]) => e.status === 'running').map(([id]) => id);
    for (let from = 0; from === 0 || from < names().length; from += this.listPageSize) {
      this.listPagesRead++;
      yield names().slice(from, from + this.listPageSize);
    }
  }
}
