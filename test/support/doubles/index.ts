import type { ServiceEvent } from '../../../lambda/core/ports';
import {
  countsTenantTasks,
  DEFAULT_TASK_SERVICE_CONFIG,
  type TaskServiceConfig,
  TaskService,
} from '../../../lambda/core/task-service';
import { newTestId, TEST_KEYS } from '../stored-items';
import { InMemoryTaskStore } from './in-memory-task-store';
import { InMemorySweepState } from './in-memory-sweep-state';
import { InMemoryWorkflow } from './in-memory-workflow';

export { InMemorySweepState, InMemoryTaskStore, InMemoryWorkflow };

/** A clock the test moves. */
export class TestClock {
  constructor(private current: Date) {}
  now(): Date {
    return new Date(this.current);
  }
  advance(seconds: number): void {
    this.current = new Date(this.current.getTime() + seconds * 1000);
  }
}

/** The core on in-memory ports: what a rule test needs, with the counted events and ids derived as in the stack. */
export function coreOnDoubles(
  options: {
    config?: Partial<TaskServiceConfig>;
    now?: Date;
    /** Due tasks a page (the store's activeCreatedBefore). */
    pageSize?: number;
    /** Running executions a page (the workflow's running()). */
    listPageSize?: number;
  } = {},
) {
  const config = { ...DEFAULT_TASK_SERVICE_CONFIG, ...options.config };
  const store = new InMemoryTaskStore(countsTenantTasks(config), options.pageSize);
  const workflow = new InMemoryWorkflow(options.listPageSize);
  const clock = new TestClock(options.now ?? new Date('2026-01-01T00:00:00.000Z'));
  const counted: ServiceEvent[] = [];
  /** Every log line, as `level message {extra}`. */
  const logged: string[] = [];
  const line = (level: string) => (message: string, extra: Record<string, unknown>) =>
    void logged.push(`${level} ${message} ${JSON.stringify(extra)}`);
  const service = new TaskService({
    store,
    workflow,
    clock,
    newId: newTestId,
    cursorKeys: TEST_KEYS,
    config,
    metrics: { count: (event) => counted.push(event) },
    // A wait moves the test clock: no test sleeps for real.
    sleep: (ms) => Promise.resolve(clock.advance(ms / 1000)),
    log: { info: line('info'), warn: line('warn'), error: line('error') },
  });
  return { service, recovery: service.recovery, store, workflow, clock, counted, logged };
}
