import type { ActiveTask } from './task';
import type { ServiceLog, TenantCount } from './ports';
import type { RepairOutcome, TaskRecovery } from './task-recovery';
import { TenantTally } from './tenant-counts';

export interface SweepOptions {
  /** Tasks younger than this are left to their creator (the service's re-drive grace). */
  readonly graceSeconds: number;
  /** At most this many tasks are described (and repaired) per run, so a run stays inside DescribeExecution's quota. */
  readonly maxTasks: number;
  /** Repairs in flight at once. */
  readonly concurrency: number;
  /**
   * Up to this many due tasks are each described. Beyond it, one pass over the running executions comes first and
   * only the due tasks missing from it are described.
   */
  readonly listThreshold: number;
}

export const DEFAULT_SWEEP_OPTIONS: Omit<SweepOptions, 'graceSeconds'> = {
  maxTasks: 500,
  concurrency: 8,
  listThreshold: 100,
};

export type SweepReport = Record<RepairOutcome | 'errors', number> & {
  /** Due tasks read from the index. */
  readonly candidates: number;
  /** Running executions listed; absent when the run had few enough due tasks to describe them all. */
  readonly listed?: number;
  /** Due tasks not described because their execution was in the list. */
  readonly skipped: number;
  /** The run reached its deadline or its describe budget before it had seen every due task. */
  readonly stoppedEarly: boolean;
  /** Tenant counters set to their tenant's active tasks; only a run that read every due task reconciles. */
  readonly recounted: number;
};

/** Counts one repaired task; Powertools Metrics (`TaskRepaired`) in Lambda. */
export type RecordRepair = (outcome: 'started' | 'ended') => void;

export interface RepairSweepDeps {
  /** The repair rules, with the ports they read the candidates from. */
  readonly recovery: Pick<
    TaskRecovery,
    'repair' | 'dueTasks' | 'runningExecutions' | 'now' | 'tenantCountSnapshot' | 'reconcileTenantCounts'
  >;
  readonly options: SweepOptions;
  readonly log: ServiceLog;
  /** @default - nothing counted */
  readonly recordRepair?: RecordRepair;
}

/** Stops a run short of `deadline` (epoch ms): the rest is left for the next run. */
export interface RunLimits {
  readonly deadline?: number;
}

/**
 * The repair that needs no client: each run() checks every active task older than the grace period against its
 * execution (TaskRecovery.repair). A failure on one task is logged and counted; the others are still repaired, and
 * the next run tries that one again.
 *
 * With many due tasks, describing each would take hours at DescribeExecution's quota, so the run first lists the
 * running executions (a set of names, not items) and describes only the due tasks missing from it. The list is only a
 * filter: every repair still decides on DescribeExecution and conditional writes, so a list that is stale (an
 * execution that ended or started after it was read) delays a repair by one run and never causes a wrong one.
 */
export class RepairSweep {
  private readonly recovery: RepairSweepDeps['recovery'];
  private readonly options: SweepOptions;
  private readonly log: ServiceLog;
  private readonly recordRepair: RecordRepair;

  constructor(deps: RepairSweepDeps) {
    this.recovery = deps.recovery;
    this.options = deps.options;
    this.log = deps.log;
    this.recordRepair = deps.recordRepair ?? (() => undefined);
  }

  async run(limits: RunLimits = {}): Promise<SweepReport> {
    const cutoff = new Date(this.recovery.now().getTime() - this.options.graceSeconds * 1000).toISOString();
    const counts: Record<RepairOutcome | 'errors', number> = {
      young: 0,
      live: 0,
      started: 0,
      ended: 0,
      'moved-on': 0,
      errors: 0,
    };
    // The counters first, the tasks after: a write between the two moves a counter's version (tenant-counts.ts).
    const counters = await this.counterSnapshot();
    const pages = this.recovery.dueTasks(cutoff)[Symbol.asyncIterator]();
    const pastDeadline = () => limits.deadline !== undefined && this.recovery.now().getTime() >= limits.deadline;

    // Read until the due tasks are known to be more than the threshold; no more than that is held.
    const first: ActiveTask[] = [];
    let exhausted = false;
    while (first.length <= this.options.listThreshold) {
      const page = await pages.next();
      if (page.done) {
        exhausted = true;
        break;
      }
      first.push(...page.value);
    }
    // Every due task passes through here, so the run can tell each tenant's active tasks without another read.
    const tally = new TenantTally();
    tally.add(first);
    if (exhausted) {
      const stopped = await this.repairAll(first.slice(0, this.options.maxTasks), counts, pastDeadline);
      const recounted = stopped ? 0 : await this.recount(counters, tally, cutoff);
      return {
        ...counts,
        candidates: first.length,
        skipped: 0,
        stoppedEarly: stopped || first.length > this.options.maxTasks,
        recounted,
      };
    }

    const running = new Set<string>();
    for await (const names of this.recovery.runningExecutions()) {
      for (const name of names) running.add(name);
      if (pastDeadline()) {
        this.log.warn('sweep stopped while listing running executions; the next run starts over', {
          listed: running.size,
        });
        await pages.return?.();
        return {
          ...counts,
          candidates: first.length,
          listed: running.size,
          skipped: 0,
          stoppedEarly: true,
          recounted: 0,
        };
      }
    }

    let candidates = 0;
    let skipped = 0;
    let budget = this.options.maxTasks;
    let stoppedEarly = false;
    let page: readonly ActiveTask[] | undefined = first;
    while (page) {
      candidates += page.length;
      const missing = page.filter((task) => !running.has(task.taskId));
      skipped += page.length - missing.length;
      const batch = missing.slice(0, budget);
      budget -= batch.length;
      if ((await this.repairAll(batch, counts, pastDeadline)) || batch.length < missing.length || pastDeadline()) {
        stoppedEarly = true;
        break;
      }
      const next = await pages.next();
      page = next.done ? undefined : next.value;
      if (page) tally.add(page);
    }
    if (stoppedEarly) await pages.return?.();
    const recounted = stoppedEarly ? 0 : await this.recount(counters, tally, cutoff);
    return { ...counts, candidates, listed: running.size, skipped, stoppedEarly, recounted };
  }

  /** A failed read is logged and skips this run's reconciliation; the next run tries again. */
  private async counterSnapshot(): Promise<readonly TenantCount[] | undefined> {
    try {
      return await this.recovery.tenantCountSnapshot();
    } catch (error) {
      this.log.error('reading the tenant counters failed; the next sweep reconciles them', { error });
      return undefined;
    }
  }

  /** A failed reconciliation is logged; the next run tries again. */
  private async recount(
    counters: readonly TenantCount[] | undefined,
    tally: TenantTally,
    cutoff: string,
  ): Promise<number> {
    try {
      return await this.recovery.reconcileTenantCounts(counters, tally, cutoff);
    } catch (error) {
      this.log.error('tenant count reconciliation failed; the next sweep tries again', { error });
      return 0;
    }
  }

  /** Repairs `tasks`, `concurrency` at a time. @returns true when the deadline stopped it before every task was tried. */
  private async repairAll(
    tasks: readonly ActiveTask[],
    counts: Record<RepairOutcome | 'errors', number>,
    pastDeadline: () => boolean,
  ): Promise<boolean> {
    // One iterator for all the workers: each takes the next task not taken yet.
    const queue = tasks.values();
    let stopped = false;
    const worker = async () => {
      for (const task of queue) {
        if (pastDeadline()) {
          stopped = true;
          return;
        }
        try {
          const outcome = await this.recovery.repair(task);
          counts[outcome]++;
          if (outcome === 'started' || outcome === 'ended') this.recordRepair(outcome);
        } catch (error) {
          counts.errors++;
          this.log.error('repair failed; the next sweep tries again', { task_id: task.taskId, error });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(this.options.concurrency, tasks.length)) }, worker));
    return stopped;
  }
}
