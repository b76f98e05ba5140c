import { LOCAL_KEYRING } from '../../local/local-aws';
import { TaskKeys } from '../../lambda/shared/task-keys';

/** The keys every test derives ids and active keys with: the local system's keyring, so a test's own store and the local API agree. */
export const TEST_KEYS = new TaskKeys(LOCAL_KEYRING);
/** The id generator the tests give a TaskService. */
export const newTestId = (tenantId: string, videoFilename: string): string =>
  TEST_KEYS.newTaskId(tenantId, videoFilename);

/** One task of tenant1's test.mp4 as the task table holds it, for unit tests that mock DynamoDB's answers. */
export const STORED_ID = TEST_KEYS.newTaskId('tenant1', 'test.mp4', Buffer.alloc(16, 7));
export const STORED_KEY = TEST_KEYS.activeKey('tenant1', 'test.mp4');

/** The task's active item (running, created at `createdAt`); `extra` sets or overrides attributes. */
export function activeItem<E extends Record<string, unknown>>(createdAt: string, extra: E = {} as E) {
  return {
    pk: STORED_KEY,
    item_type: 'active',
    task_id: STORED_ID,
    tenant_id: 'tenant1',
    video_filename: 'test.mp4',
    status: 'running',
    created_at: createdAt,
    updated_at: createdAt,
    // As the creator sets it with the default workflow timeout (3600 s) and lease margin (300 s).
    lease_expires_at: Math.floor(Date.parse(createdAt) / 1000) + 3900,
    retain_until: 2_100_000_000,
    ...extra,
  };
}

/**
 * A finished (failed) task of tenant1 as the listing reads it: a final record, created an hour before activeItem's
 * `createdAt` of 11:00 in the listing tests.
 */
export function finalItem(active: ReturnType<typeof activeItem>) {
  return {
    ...active,
    pk: 'TASK#0d2a7c8e-6a3b-4b7e-9c1d-2e3f4a5b6c7d',
    task_id: '0d2a7c8e-6a3b-4b7e-9c1d-2e3f4a5b6c7d',
    item_type: 'final',
    status: 'failed',
    created_at: '2026-11-28T10:00:00.000Z',
    error: { error: 'States.Timeout' },
  };
}
