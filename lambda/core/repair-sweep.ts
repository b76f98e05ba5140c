import type { ActiveTask } from './task';
import type { DuePage, ServiceLog, SweepCheckpoint, SweepPosition, SweepState, TenantCount } from './ports';
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
  /** With a sweep state: the run of its pass this was (1: it began the pass). */
  readonly passRun?: number;
  /** With a sweep state: the pass ended with this run (every due task of its cutoff was read). */
  readonly passComplete?: boolean;
  /** With a sweep state: another run held the lease, so this one did nothing. */
  readonly leaseHeld?: boolean;
};

/** Counts one repaired task; Powertools Metrics (`TaskRepaired`) in Lambda. */
export type RecordRepair = (outcome: 'started' | 'ended') => void;

export interface RepairSweepDeps {
  /** The repair rules, with the ports they read the candidates from. */
  readonly recovery: Pick<
    TaskRecovery,
    | 'repair'
    | 'dueTasks'
    | 'runningExecutions'
    | 'now'
    | 'tenantCountSnapshot'
    | 'reconcileTenantCounts'
    | 'dueTasksFrom'
  >;
  readonly options: SweepOptions;
  readonly log: ServiceLog;
  /** @default - nothing counted */
  readonly recordRepair?: RecordRepair;
  /**
   * The lease and checkpoint: runs never overlap, and a run that stops resumes its pass where it stopped.
   * @default - none: every run is a complete pass of its own and overlapping runs are possible
   */
  readonly state?: SweepState;
}

/** Stops a run short of `deadline` (epoch ms): the rest is left for the next run. */
export interface RunLimits {
  readonly deadline?: number;
  /**
   * Who holds the lease, and for how long at a time (ms): the run renews it at each page it reads, so a run that
   * died (killed at its timeout, a crash) blocks the next ones for at most one period. Used only with a sweep state.
   * @default - a holder from the clock and a random part, DEFAULT_LEASE_MS
   */
  readonly lease?: { readonly holder: string; readonly periodMs?: number };
}

/** The lease period: longer than any one call of a run (a ListExecutions page with its adaptive retries). */
export const DEFAULT_LEASE_MS = 120_000;

/** What one run of a pass starts from. */
interface RunStart {
  readonly cutoff: string;
  readonly position?: SweepPosition;
  readonly passStartedAt: string;
  /** Runs of this pass before this one. */
  readonly runs: number;
}

/** Where the run got to, for the checkpoint: undefined when it read every due task. */
type RunEnd = { readonly report: SweepReport; readonly resumeAt?: { position?: SweepPosition } };

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
  private readonly state: SweepState | undefined;

  constructor(deps: RepairSweepDeps) {
    this.state = deps.state;
    this.recovery = deps.recovery;
    this.options = deps.options;
    this.log = deps.log;
    this.recordRepair = deps.recordRepair ?? (() => undefined);
  }

  async run(limits: RunLimits = {}): Promise<SweepReport> {
    if (!this.state) return (await this.runFrom(this.newPass(), limits, () => Promise.resolve(true))).report;
    const now = this.recovery.now().getTime();
    const holder = limits.lease?.holder ?? `sweep-${now}-${Math.random().toString(36).slice(2)}`;
    const period = limits.lease?.periodMs ?? DEFAULT_LEASE_MS;
    const state = this.state;
    const taken = await state.acquire(holder, now, now + period);
    if (!taken) {
      this.log.info('sweep skipped: another run holds the lease', { holder });
      return { ...emptyCounts(), candidates: 0, skipped: 0, stoppedEarly: false, recounted: 0, leaseHeld: true };
    }
    let renewedAt = now;
    // Renewed once a third of the period has passed: a stalled call leaves two thirds of it to spare.
    const keepLease = async () => {
      const at = this.recovery.now().getTime();
      if (at - renewedAt < period / 3) return true;
      if (!(await state.renew(holder, at + period))) {
        this.log.warn('sweep lost its lease (it expired and another run took it); stopping', { holder });
        return false;
      }
      renewedAt = at;
      return true;
    };
    const start = taken.checkpoint ? { ...taken.checkpoint } : this.newPass();
    let checkpoint: SweepCheckpoint | undefined = taken.checkpoint;
    try {
      const { report, resumeAt } = await this.runFrom(start, limits, keepLease);
      checkpoint = resumeAt && {
        cutoff: start.cutoff,
        position: resumeAt.position,
        passStartedAt: start.passStartedAt,
        runs: start.runs + 1,
      };
      return { ...report, passRun: start.runs + 1, passComplete: !resumeAt };
    } finally {
      // A run that failed leaves the checkpoint it found: the next run repeats its work, it skips nothing.
      if (!(await state.release(holder, checkpoint)))
        this.log.warn('sweep lease expired before the run ended; its checkpoint was not saved', { holder });
    }
  }

  private newPass(): RunStart {
    const now = this.recovery.now();
    const cutoff = new Date(now.getTime() - this.options.graceSeconds * 1000).toISOString();
    return { cutoff, passStartedAt: now.toISOString(), runs: 0 };
  }

  /** The due tasks of `start`'s pass, from its position, with the position after each page when there is a state. */
  private duePages(start: RunStart): AsyncIterator<DuePage> {
    if (this.state) return this.recovery.dueTasksFrom(start.cutoff, start.position)[Symbol.asyncIterator]();
    const pages = this.recovery.dueTasks(start.cutoff)[Symbol.asyncIterator]();
    return {
      next: async () => {
        const page = await pages.next();
        return page.done ? { done: true, value: undefined } : { done: false, value: { tasks: page.value } };
      },
      return: async () => {
        await pages.return?.();
        return { done: true, value: undefined };
      },
    };
  }

  /**
   * One run: from `start`'s position to the end of the due tasks, or until its budget (maxTasks, deadline) stops it.
   * Only a run that began its pass and read every due task reconciles: the counters are read at the start of the
   * run, before any task is tallied, and the tally is of this run's reads alone (tenant-counts.ts).
   */
  private async runFrom(start: RunStart, limits: RunLimits, keepLease: () => Promise<boolean>): Promise<RunEnd> {
    const cutoff = start.cutoff;
    const counts = emptyCounts();
    // The counters first, the tasks after: a write between the two moves a counter's version (tenant-counts.ts).
    const counters = start.runs === 0 ? await this.counterSnapshot() : undefined;
    const pages = this.duePages(start);
    const pastDeadline = () => limits.deadline !== undefined && this.recovery.now().getTime() >= limits.deadline;
    // Where the next run resumes when this one stops: the start of the first page not read to its end.
    const stoppedAt = (position: SweepPosition | undefined) => ({ position });

    // Read until the due tasks are known to be more than the threshold; no more than that is held.
    const first: ActiveTask[] = [];
    let firstNext: SweepPosition | undefined;
    let exhausted = false;
    while (first.length <= this.options.listThreshold) {
      const page = await pages.next();
      if (page.done) {
        exhausted = true;
        break;
      }
      first.push(...page.value.tasks);
      firstNext = page.value.next;
    }
    // Every due task passes through here, so the run can tell each tenant's active tasks without another read.
    const tally = new TenantTally();
    tally.add(first);
    if (exhausted) {
      const stopped = await this.repairAll(first.slice(0, this.options.maxTasks), counts, pastDeadline);
      const stoppedEarly = stopped || first.length > this.options.maxTasks;
      const recounted = stoppedEarly ? 0 : await this.recount(counters, tally, cutoff);
      return {
        report: { ...counts, candidates: first.length, skipped: 0, stoppedEarly, recounted },
        resumeAt: stoppedEarly ? stoppedAt(start.position) : undefined,
      };
    }

    const running = new Set<string>();
    for await (const names of this.recovery.runningExecutions()) {
      for (const name of names) running.add(name);
      if (pastDeadline() || !(await keepLease())) {
        this.log.warn('sweep stopped while listing running executions; the next run lists again', {
          listed: running.size,
        });
        await pages.return?.();
        return {
          report: {
            ...counts,
            candidates: first.length,
            listed: running.size,
            skipped: 0,
            stoppedEarly: true,
            recounted: 0,
          },
          resumeAt: stoppedAt(start.position),
        };
      }
    }

    let candidates = 0;
    let skipped = 0;
    let budget = this.options.maxTasks;
    let stoppedEarly = false;
    // The pages held in `first` end at firstNext; each later page at its own next.
    let position = start.position;
    let page: { tasks: readonly ActiveTask[]; next?: SweepPosition } | undefined = { tasks: first, next: firstNext };
    while (page) {
      candidates += page.tasks.length;
      const missing = page.tasks.filter((task) => !running.has(task.taskId));
      skipped += page.tasks.length - missing.length;
      const batch = missing.slice(0, budget);
      budget -= batch.length;
      if ((await this.repairAll(batch, counts, pastDeadline)) || batch.length < missing.length) {
        stoppedEarly = true;
        break;
      }
      position = page.next;
      if (pastDeadline() || !(await keepLease())) {
        stoppedEarly = true;
        break;
      }
      const next = await pages.next();
      page = next.done ? undefined : next.value;
      if (page) tally.add(page.tasks);
    }
    if (stoppedEarly) await pages.return?.();
    const recounted = stoppedEarly ? 0 : await this.recount(counters, tally, cutoff);
    return {
      report: { ...counts, candidates, listed: running.size, skipped, stoppedEarly, recounted },
      resumeAt: stoppedEarly ? stoppedAt(position) : undefined,
    };
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

function emptyCounts(): Record<RepairOutcome | 'errors', number> {
  return { young: 0, live: 0, started: 0, ended: 0, 'moved-on': 0, errors: 0 };
}
