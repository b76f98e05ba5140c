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

  /** The next starts throw `errors`, one each, before any execution exists. */
  failNextStart(...errors: unknown[]): this {
    this.startFailures.push(...errors);
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
    const execution = this.executions.get(taskId);
    if (!execution) return { status: 'none' };
    if (execution.status === 'running') return { status: 'running' };
    return { status: execution.status, error: execution.error, cause: execution.cause };
  }

  async *running(): AsyncIterable<readonly string[]> {
    yield [...this.executions].filter(([, e]) => e.status === 'running').map(([id]) => id);
  }
}
