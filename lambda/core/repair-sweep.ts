import type { Clock, TaskStore } from './ports';
import type { RepairOutcome, ServiceLog, TaskService } from './task-service';

export interface SweepOptions {
  /** Tasks younger than this are left to their creator (the service's re-drive grace). */
  readonly graceSeconds: number;
  /** At most this many tasks per sweep, so one run fits its time limit and Step Functions' DescribeExecution quota. */
  readonly maxTasks: number;
  /** Repairs in flight at once. */
  readonly concurrency: number;
}

export const DEFAULT_SWEEP_OPTIONS: Omit<SweepOptions, 'graceSeconds'> = { maxTasks: 500, concurrency: 8 };

export type SweepReport = Record<RepairOutcome | 'errors', number> & { readonly candidates: number };

/** Counts one repaired task; Powertools Metrics (`TaskRepaired`) in Lambda. */
export type RecordRepair = (outcome: 'started' | 'ended') => void;

/**
 * The repair that needs no client: each run() checks every active task older than the grace period against its
 * execution (TaskService.repair). A failure on one task is logged and counted; the others are still repaired, and
 * the next run tries that one again. When more tasks are due than `maxTasks`, the next run continues after the
 * last one checked (while this instance lives), so every task is reached in turn.
 */
export class RepairSweep {
  private cursor = '';

  constructor(
    private readonly service: TaskService,
    private readonly store: TaskStore,
    private readonly clock: Clock,
    private readonly options: SweepOptions,
    private readonly log: ServiceLog,
    private readonly recordRepair: RecordRepair = () => undefined,
  ) {}

  async run(): Promise<SweepReport> {
    const cutoff = new Date(this.clock.now().getTime() - this.options.graceSeconds * 1000).toISOString();
    const tasks = await this.store.activeCreatedBefore(cutoff, this.options.maxTasks, this.cursor);
    this.cursor = tasks.length >= this.options.maxTasks ? tasks[tasks.length - 1].createdAt : '';
    const counts: Record<RepairOutcome | 'errors', number> = { young: 0, live: 0, started: 0, ended: 0, 'moved-on': 0, errors: 0 };
    let next = 0;
    const worker = async () => {
      while (next < tasks.length) {
        const task = tasks[next++];
        try {
          const outcome = await this.service.repair(task);
          counts[outcome]++;
          if (outcome === 'started' || outcome === 'ended') this.recordRepair(outcome);
        } catch (error) {
          counts.errors++;
          this.log.error('repair failed; the next sweep tries again', { task_id: task.taskId, error });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(this.options.concurrency, tasks.length)) }, worker));
    return { ...counts, candidates: tasks.length };
  }
}
