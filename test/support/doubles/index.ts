import type { ServiceEvent } from '../../../lambda/core/ports';
import { DEFAULT_TASK_SERVICE_CONFIG, type TaskServiceConfig, TaskService } from '../../../lambda/core/task-service';
import { InMemoryTaskStore } from './in-memory-task-store';
import { InMemoryWorkflow } from './in-memory-workflow';

export { InMemoryTaskStore, InMemoryWorkflow };

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

/** The core on in-memory ports: what a rule test needs, with the counted events and sequential task ids. */
export function coreOnDoubles(options: { config?: Partial<TaskServiceConfig>; now?: Date } = {}) {
  const store = new InMemoryTaskStore();
  const workflow = new InMemoryWorkflow();
  const clock = new TestClock(options.now ?? new Date('2026-01-01T00:00:00.000Z'));
  const counted: ServiceEvent[] = [];
  let next = 0;
  const service = new TaskService({
    store,
    workflow,
    clock,
    newId: () => `00000000-0000-4000-8000-${String(++next).padStart(12, '0')}`,
    cursorKey: 'test-cursor-key',
    config: { ...DEFAULT_TASK_SERVICE_CONFIG, ...options.config },
    metrics: { count: (event) => counted.push(event) },
  });
  return { service, recovery: service.recovery, store, workflow, clock, counted };
}
