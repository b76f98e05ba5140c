/* eslint-disable @typescript-eslint/require-await -- the port's methods are async; in memory, nothing is awaited. */
import { TaskNotInExpectedState } from '../../../lambda/core/errors';
import { invalidCursor } from '../../../lambda/core/cursor';
import type {
  ClaimResult,
  FinishTask,
  FoundTask,
  IdempotencyKeyRecord,
  KeyReservation,
  ListedPage,
  ListQuery,
  Admission,
  ReserveIdempotencyKey,
  DuePage,
  SweepPosition,
  TaskStore,
  TenantCount,
} from '../../../lambda/core/ports';
import { type ActiveTask, admitted, isActive, ListStatus, type Task, TaskStatus } from '../../../lambda/core/task';
import { TaskErrorName, taskError } from '../../../lambda/core/task-errors';
import { TEST_KEYS } from '../stored-items';

type Method =
  | 'claim'
  | 'finish'
  | 'renewLease'
  | 'getById'
  | 'getActive'
  | 'listByTenant'
  | 'admit'
  | 'refuse'
  | 'setTenantCount'
  | 'reserveIdempotencyKey'
  | 'repointIdempotencyKey'
  | 'getFinal';

/**
 * The TaskStore port in memory, with the DynamoDB adapter's semantics (conditional claim with lease takeover,
 * transactional finish, read by id through the id's video digest) and none of its item layout: the core's rules are
 * tested against this, the adapter's command shapes in test/unit/adapters.
 */
export class InMemoryTaskStore implements TaskStore {
  readonly active = new Map<string, ActiveTask>();
  readonly finals = new Map<string, Task>();
  /** The tenant counters by tenant id. */
  readonly counters = new Map<string, Omit<TenantCount, 'tenantId'>>();
  /** Idempotency-Keys by tenant and key (keyOfIdempotency), until their `expiresAt`. */
  readonly idempotencyKeys = new Map<string, IdempotencyKeyRecord & { readonly expiresAt: number }>();
  /** Final records left out of the listing (refused claims). */
  readonly unlisted = new Set<string>();
  /** Every finish that was written, as the core asked for it. */
  readonly finishes: FinishTask[] = [];
  /** Calls made, in order, by method name. */
  readonly calls: Method[] = [];
  private readonly failures = new Map<Method, unknown[]>();

  /** Due tasks (activeCreatedBefore) and counters a page, as DynamoDB pages a query at 1 MB. */
  private readonly pageSize: number;
  /** The `createdBefore` of each activeCreatedBefore, in order. */
  readonly dueQueries: string[] = [];
  /** Pages of due tasks handed out, counted as they are read. */
  duePagesRead = 0;

  /**
   * @param countsTenantTasks as the DynamoDB store's option: without, no counter is written.
   * @param pageSize items a page of activeCreatedBefore and tenantCounts
   */
  constructor(
    private readonly countsTenantTasks = true,
    pageSize = 1000,
  ) {
    this.pageSize = pageSize;
  }

  /** The next calls of `method` throw `errors`, one each. */
  failNext(method: Method, ...errors: unknown[]): this {
    this.failures.set(method, [...(this.failures.get(method) ?? []), ...errors]);
    return this;
  }

  /** What the state machine's MarkRunning does. */
  markRunning(taskId: string, at: string): void {
    for (const [key, task] of this.active)
      if (task.taskId === taskId)
        this.active.set(key, { ...task, status: TaskStatus.Running, startedAt: at, updatedAt: at });
  }

  keyOf(tenantId: string, videoFilename: string): string {
    return TEST_KEYS.activeKey(tenantId, videoFilename);
  }

  async claim(task: ActiveTask): Promise<ClaimResult> {
    this.enter('claim');
    const taskKey = this.keyOf(task.tenantId, task.videoFilename);
    const existing = this.active.get(taskKey);
    if (!existing) {
      this.active.set(taskKey, task);
      return { won: true, taskKey };
    }
    if (
      existing.taskId === task.taskId ||
      existing.leaseExpiresAt >= epoch(task.createdAt) ||
      existing.admissionPending
    )
      return { won: false, existing };
    const at = task.createdAt;
    this.finals.set(existing.taskId, {
      ...withoutStoreTimes(existing),
      status: TaskStatus.Failed,
      updatedAt: at,
      finishedAt: at,
      error: taskError(TaskErrorName.LeaseExpired),
    });
    // Admitted at once: the replaced task's slot passes to it.
    this.active.set(taskKey, admitted(task));
    if (this.countsTenantTasks) this.addToCount(task.tenantId, 0, at, true);
    return { won: true, taskKey, replaced: existing };
  }

  async finish(finish: FinishTask): Promise<Task> {
    this.enter('finish');
    const current = this.active.get(finish.taskKey);
    if (
      !current ||
      current.taskId !== finish.task.taskId ||
      current.status !== finish.expected ||
      (this.countsTenantTasks && current.admissionPending) ||
      this.finals.has(finish.task.taskId)
    ) {
      throw new TaskNotInExpectedState(finish.task.taskId);
    }
    const final: Task = {
      taskId: current.taskId,
      tenantId: current.tenantId,
      videoFilename: current.videoFilename,
      status: finish.status,
      createdAt: current.createdAt,
      updatedAt: finish.at,
      startedAt: finish.task.startedAt,
      finishedAt: finish.at,
      error: finish.error,
    };
    this.active.delete(finish.taskKey);
    this.finals.set(current.taskId, final);
    this.finishes.push(finish);
    if (this.countsTenantTasks) this.addToCount(current.tenantId, -1, finish.at);
    return final;
  }

  async admit(task: ActiveTask, taskKey: string, limit: number, at: string): Promise<Admission> {
    this.enter('admit');
    const current = this.active.get(taskKey);
    if (current?.taskId !== task.taskId || !current.admissionPending) return { outcome: 'moved-on' };
    const activeCount = this.counters.get(task.tenantId)?.activeCount ?? 0;
    if (activeCount >= limit) return { outcome: 'refused', activeCount };
    this.active.set(taskKey, admitted(current));
    this.addToCount(task.tenantId, 1, at, true);
    return { outcome: 'admitted' };
  }

  async refuse(task: ActiveTask, taskKey: string, at: string): Promise<Task> {
    this.enter('refuse');
    const current = this.active.get(taskKey);
    if (current?.taskId !== task.taskId || !current.admissionPending || current.status !== TaskStatus.NotStarted)
      throw new TaskNotInExpectedState(task.taskId);
    const refused: Task = {
      ...withoutStoreTimes(current),
      status: TaskStatus.Failed,
      updatedAt: at,
      finishedAt: at,
      error: taskError(TaskErrorName.TenantQuotaExceeded),
    };
    this.active.delete(taskKey);
    this.finals.set(task.taskId, refused);
    this.unlisted.add(task.taskId);
    return refused;
  }

  async *tenantCounts(): AsyncIterable<readonly TenantCount[]> {
    yield* pages(
      [...this.counters].map(([tenantId, counter]) => ({ tenantId, ...counter })),
      this.pageSize,
    );
  }

  async setTenantCount(seen: TenantCount, activeCount: number, at: string): Promise<boolean> {
    this.enter('setTenantCount');
    const current = this.counters.get(seen.tenantId);
    if (current?.version !== seen.version) return false;
    this.counters.set(seen.tenantId, { ...current, activeCount, version: current.version + 1, updatedAt: at });
    return true;
  }

  /** The tenant's count as the store holds it (0 when it has no counter). */
  countOf(tenantId: string): number {
    return this.counters.get(tenantId)?.activeCount ?? 0;
  }

  /** `taking`: a write that makes a task counted (an admission, a takeover) stamps `takenAt`, as COUNTER_TAKE does. */
  private addToCount(tenantId: string, delta: number, at: string, taking = false): void {
    const current = this.counters.get(tenantId) ?? { activeCount: 0, version: 0, updatedAt: at, takenAt: at };
    this.counters.set(tenantId, {
      activeCount: current.activeCount + delta,
      version: current.version + 1,
      updatedAt: at,
      takenAt: taking ? at : current.takenAt,
    });
  }

  async renewLease(task: ActiveTask, leaseExpiresAt: number): Promise<boolean> {
    this.enter('renewLease');
    const key = this.keyOf(task.tenantId, task.videoFilename);
    const current = this.active.get(key);
    if (
      current?.taskId !== task.taskId ||
      current.status !== TaskStatus.NotStarted ||
      current.leaseExpiresAt !== task.leaseExpiresAt
    )
      return false;
    this.active.set(key, { ...current, leaseExpiresAt });
    return true;
  }

  async getById(tenantId: string, taskId: string): Promise<FoundTask | undefined> {
    this.enter('getById');
    const taskKey = TEST_KEYS.activeKeyOfId(tenantId, taskId);
    if (taskKey === undefined) return undefined;
    const active = this.active.get(taskKey);
    if (active?.taskId === taskId) return { task: active, taskKey };
    const final = this.finals.get(taskId);
    return final ? { task: final } : undefined;
  }

  async getActive(tenantId: string, videoFilename: string): Promise<ActiveTask | undefined> {
    this.enter('getActive');
    return this.active.get(this.keyOf(tenantId, videoFilename));
  }

  /** Oldest first, `pageSize` a page; each page is read from the store as it is asked for, as a query resumes. */
  async *activeCreatedBefore(createdBefore: string): AsyncIterable<readonly ActiveTask[]> {
    this.dueQueries.push(createdBefore);
    const seen = new Set<string>();
    for (;;) {
      const page = [...this.active.values()]
        .filter((t) => t.createdAt < createdBefore && !seen.has(t.taskId))
        .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.taskId.localeCompare(b.taskId))
        .slice(0, this.pageSize);
      if (!page.length) return;
      for (const t of page) seen.add(t.taskId);
      this.duePagesRead++;
      yield page;
    }
  }

  /** As activeCreatedBefore; a position is the last task of its page (created_at, task id), resumed after. */
  async *activeCreatedBeforeFrom(createdBefore: string, from?: SweepPosition): AsyncIterable<DuePage> {
    this.dueQueries.push(createdBefore);
    let after = from === undefined ? undefined : (JSON.parse(from) as [string, string]);
    for (;;) {
      const page = [...this.active.values()]
        .filter((t) => t.createdAt < createdBefore)
        .filter((t) => !after || byKey(after, [t.createdAt, t.taskId]) < 0)
        .sort((a, b) => byKey([a.createdAt, a.taskId], [b.createdAt, b.taskId]))
        .slice(0, this.pageSize);
      const last = page.at(-1);
      if (!last) return;
      after = [last.createdAt, last.taskId];
      this.duePagesRead++;
      yield { tasks: page, next: JSON.stringify(after) };
    }
  }

  /** Newest first, ties by task id; the position is the last task listed. */
  async listByTenant(query: ListQuery): Promise<ListedPage> {
    this.enter('listByTenant');
    if (query.after && query.after.tenant !== query.tenantId) throw invalidCursor();
    const order = (a: Task, b: Task) => b.createdAt.localeCompare(a.createdAt) || b.taskId.localeCompare(a.taskId);
    const after = query.after && { createdAt: query.after.created, taskId: query.after.id };
    const wanted = (t: Task) =>
      query.status === undefined || isActive(t.status) === (query.status === ListStatus.Active);
    const all = [...this.active.values(), ...[...this.finals.values()].filter((t) => !this.unlisted.has(t.taskId))]
      .filter((t) => t.tenantId === query.tenantId && wanted(t) && (!after || order(after as Task, t) < 0))
      .sort(order);
    const tasks = all.slice(0, query.limit);
    const last = tasks.at(-1);
    return {
      tasks,
      next:
        all.length > query.limit && last
          ? { tenant: query.tenantId, created: last.createdAt, id: last.taskId }
          : undefined,
    };
  }

  /** Free when absent or past its `expiresAt`, as the adapter's condition. */
  async reserveIdempotencyKey(reservation: ReserveIdempotencyKey): Promise<KeyReservation> {
    this.enter('reserveIdempotencyKey');
    const id = idempotencyId(reservation.tenantId, reservation.key);
    const held = this.idempotencyKeys.get(id);
    if (held && held.expiresAt >= reservation.now)
      return { reserved: false, existing: { taskId: held.taskId, requestHash: held.requestHash } };
    const { taskId, requestHash, expiresAt } = reservation;
    this.idempotencyKeys.set(id, { taskId, requestHash, expiresAt });
    return { reserved: true };
  }

  async repointIdempotencyKey(tenantId: string, key: string, from: string, to: string): Promise<boolean> {
    this.enter('repointIdempotencyKey');
    const id = idempotencyId(tenantId, key);
    const held = this.idempotencyKeys.get(id);
    if (held?.taskId !== from) return false;
    this.idempotencyKeys.set(id, { ...held, taskId: to });
    return true;
  }

  async getFinal(taskId: string): Promise<Task | undefined> {
    this.enter('getFinal');
    return this.finals.get(taskId);
  }

  /** What the tenant's key points at now, if it is held. */
  idempotencyKeyOf(tenantId: string, key: string): (IdempotencyKeyRecord & { expiresAt: number }) | undefined {
    return this.idempotencyKeys.get(idempotencyId(tenantId, key));
  }

  private enter(method: Method): void {
    this.calls.push(method);
    const queued = this.failures.get(method);
    if (queued?.length) throw queued.shift();
  }
}

/** The task without the store's own times, as its final record holds it. */
function withoutStoreTimes(task: ActiveTask): Task {
  return Object.fromEntries(
    Object.entries(task).filter(
      ([name]) => name !== 'leaseExpiresAt' && name !== 'retainUntil' && name !== 'admissionPending',
    ),
  ) as Task;
}

function idempotencyId(tenantId: string, key: string): string {
  return `${tenantId}\u0000${key}`;
}

/** (created_at, task id) in code-unit order, as DynamoDB orders a sort key. */
function byKey(a: readonly [string, string], b: readonly [string, string]): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  return a[1] === b[1] ? 0 : a[1] < b[1] ? -1 : 1;
}

function* pages<T>(items: readonly T[], size: number): Iterable<readonly T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

function epoch(iso: string): number {
  return Math.floor(Date.parse(iso) / 1000);
}
