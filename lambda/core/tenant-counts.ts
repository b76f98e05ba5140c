import type { TaskStore, TenantCount } from './ports';
import type { ActiveTask } from './task';

/** Tallies the active tasks of each tenant as the sweep reads them from the index. */
export class TenantTally {
  private readonly counts = new Map<string, number>();

  /** Counts the admitted tasks: a claim pending admission holds no slot. */
  add(tasks: readonly ActiveTask[]): void {
    for (const task of tasks)
      if (!task.admissionPending) this.counts.set(task.tenantId, (this.counts.get(task.tenantId) ?? 0) + 1);
  }

  of(tenantId: string): number {
    return this.counts.get(tenantId) ?? 0;
  }
}

/** What the reconciliation reports, counter by counter. */
export interface ReconcileEvents {
  /** A drifted counter was set to `activeCount`. */
  readonly onSet: (counter: TenantCount, activeCount: number) => void;
  /** A counter was compared: its tenant holds `activeCount` admitted tasks older than the cutoff. */
  readonly onCounted: (counter: TenantCount, activeCount: number) => void;
}

/**
 * Repairs counters that drifted from the tenant's admitted tasks (an admission whose answer was lost and that a
 * retry found decided, a counter written by hand). `snapshot` was read before `tally`, which holds every admitted
 * task created before `cutoff` (now minus the grace period).
 * - Only a counter whose last count-raising write (`takenAt`: an admission, a takeover) is older than `cutoff` is
 *   compared: every task it counts is then older than the cutoff and in the tally. (An end's stamp is the state
 *   machine's step-entry time, which does not move across retries, so `updatedAt` could not tell this.)
 * - The write is conditional on the snapshot's version: a task admitted or ended after the snapshot (and so perhaps
 *   counted in the tally but not in the counter, or the reverse) moves the version and wins over it.
 * @returns how many counters were set.
 */
export async function reconcileTenantCounts(
  store: Pick<TaskStore, 'setTenantCount'>,
  snapshot: readonly TenantCount[],
  tally: TenantTally,
  cutoff: string,
  at: string,
  events: ReconcileEvents,
): Promise<number> {
  let set = 0;
  for (const counter of snapshot) {
    if (counter.takenAt >= cutoff) continue;
    const actual = tally.of(counter.tenantId);
    events.onCounted(counter, actual);
    if (counter.activeCount === actual) continue;
    if (await store.setTenantCount(counter, actual, at)) {
      set++;
      events.onSet(counter, actual);
    }
  }
  return set;
}
