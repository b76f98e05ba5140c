import {
  DescribeExecutionCommand,
  ListExecutionsCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { WorkflowAlreadyStarted } from '../core/errors';
import type { ExecutionState, Workflow } from '../core/ports';
import { storageKeyOf } from '../core/storage-key';
import type { WorkflowInput } from '../core/task';
import { translate } from './aws-errors';
import { ExecutionEnd } from '../shared/execution-ends';
import { counterShard, tenantCounterKey } from '../shared/table';

/** The execution input, as the state machine definition reads it (lib/analysis-workflow.ts). */
export interface ExecutionInput {
  readonly task_id: string;
  readonly tenant_id: string;
  readonly video_filename: string;
  readonly created_at: string;
  readonly retain_until: number;
  readonly task_key: string;
  /** The tenant's counter, which the finishing steps give the slot back to (the state machine cannot build a key). */
  readonly tenant_key: string;
  /** The counter's partition of the sweep index (`counterShard`), which the finishing steps keep it in (no hash in ASL). */
  readonly counter_shard: number;
  /** Absent from executions started before it existed. */
  readonly storage_key?: string;
}

export function toExecutionInput(input: WorkflowInput): ExecutionInput {
  return {
    task_id: input.taskId,
    tenant_id: input.tenantId,
    video_filename: input.videoFilename,
    created_at: input.createdAt,
    retain_until: input.retainUntil,
    task_key: input.taskKey,
    tenant_key: tenantCounterKey(input.tenantId),
    counter_shard: counterShard(input.tenantId),
    storage_key: input.storageKey,
  };
}

export function fromExecutionInput(input: ExecutionInput): WorkflowInput {
  return {
    taskId: input.task_id,
    tenantId: input.tenant_id,
    videoFilename: input.video_filename,
    createdAt: input.created_at,
    retainUntil: input.retain_until,
    taskKey: input.task_key,
    storageKey: storageKeyOf(input.tenant_id, input.video_filename),
  };
}

/** arn:aws:states:R:A:stateMachine:NAME -> arn:aws:states:R:A:execution:NAME:EXECUTION */
export function executionArn(stateMachineArn: string, executionName: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${executionName}`;
}

/** The only code that knows executions: one per task, named after the task id. */
export class StepFunctionsWorkflow implements Workflow {
  constructor(
    private readonly sfn: SFNClient,
    private readonly stateMachineArn: string,
  ) {}

  async start(input: WorkflowInput): Promise<void> {
    try {
      // A Standard workflow treats a second start with the same name and input as the same, running execution.
      await this.sfn.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name: input.taskId,
          input: JSON.stringify(toExecutionInput(input)),
        }),
      );
    } catch (error) {
      if ((error as Error).name === 'ExecutionAlreadyExists')
        throw new WorkflowAlreadyStarted((error as Error).message);
      throw translate(error, 'stepfunctions', 'StartExecution');
    }
  }

  async stop(taskId: string, cause: string): Promise<void> {
    try {
      await this.sfn.send(
        new StopExecutionCommand({ executionArn: executionArn(this.stateMachineArn, taskId), cause }),
      );
    } catch (error) {
      if ((error as Error).name === 'ExecutionDoesNotExist') return;
      throw translate(error, 'stepfunctions', 'StopExecution');
    }
  }

  async describe(taskId: string): Promise<ExecutionState> {
    try {
      const out = await this.sfn.send(
        new DescribeExecutionCommand({ executionArn: executionArn(this.stateMachineArn, taskId) }),
      );
      if (out.status === 'RUNNING') return { status: 'running' };
      const status = ExecutionEnd[out.status as keyof typeof ExecutionEnd] as ExecutionEnd | undefined;
      if (!status) throw new Error(`DescribeExecution returned an unknown status ${out.status}`);
      return { status, error: out.error, cause: out.cause };
    } catch (error) {
      if ((error as Error).name === 'ExecutionDoesNotExist') return { status: 'none' };
      throw translate(error, 'stepfunctions', 'DescribeExecution');
    }
  }

  /** ListExecutions(RUNNING), 1,000 a page (the most the service returns), paged by nextToken. */
  async *running(): AsyncIterable<readonly string[]> {
    let nextToken: string | undefined;
    do {
      let page;
      try {
        page = await this.sfn.send(
          new ListExecutionsCommand({
            stateMachineArn: this.stateMachineArn,
            statusFilter: 'RUNNING',
            maxResults: 1000,
            nextToken,
          }),
        );
      } catch (error) {
        throw translate(error, 'stepfunctions', 'ListExecutions');
      }
      yield (page.executions ?? []).map((e) => e.name!);
      nextToken = page.nextToken;
    } while (nextToken);
  }
}
