/** One task of tenant1's test.mp4 as the task table holds it, for unit tests that mock DynamoDB's answers. */
export const STORED_ID = '5f0c3a52-8d0e-4c4b-a0f7-0e6f0d6f7b11';
export const STORED_KEY = 'ACTIVE#7#tenant1#test.mp4';

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

/** The task's link (the id -> active key pointer), as the creator writes it. */
export function linkItem<E extends Record<string, unknown>>(createdAt: string, extra: E = {} as E) {
  return { pk: `TASK#${STORED_ID}`, item_type: 'link', task_id: STORED_ID, video_filename: 'test.mp4', created_at: createdAt, task_key: STORED_KEY, ...extra };
}
