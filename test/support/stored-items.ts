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
