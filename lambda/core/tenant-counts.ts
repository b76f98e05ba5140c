import type { TaskStore, TenantCount } from './ports';
import type { ActiveTask } from './task';

/** Tallies the active tasks of each tenant as the sweep reads them from the index. */
export class TenantTally {
  private readonly counts = new Map<string, number>();

  add(tasks: readonly ActiveTask[]): void {
    for (const task of tasks) this.counts.set(task.tenantId, (this.counts.get(task.tenantId) ?? 0) + 1);
  }

  of(tenantId: string): number {
    return this.counts.get(tenantId) ?? 0;
  }
}

/**
 * Repairs counters that drifted from the tenant's active tasks (a crash between a claim and its increment, an
 * increment whose answer was lost). `tally` holds every active task created before `cutoff` (now minus the grace
 * period). Only a counter unwritten since `cutoff` is compared: every task it counts is then older than the cutoff
 * and in the tally, every task that ended has left the index, and a task younger than the cutoff that it does not
 * count is not in the tally either. The write is conditional on the version read, so a new task or an end since
 * wins over it. @returns how many counters were set.
 */
export async function reconcileTenantCounts(
  store: Pick<TaskStore, 'tenantCounts' | 'setTenantCount'>,
  tally: TenantTally,
  cutoff: string,
  at: string,
  onSet: (counter: TenantCount, activeCount: number) => void,
): Promise<number> {
  let set = 0;
  for await (const page of store.tenantCounts()) {
    for (const counter of page) {
      const actual = tally.of(counter.tenantId);
      if (counter.updatedAt >= cutoff || counter.activeCount === actual) continue;
      if (await store.setTenantCount(counter, actual, at)) {
        set++;
        onSet(counter, actual);
      }
    }
  }
  return set;
}
