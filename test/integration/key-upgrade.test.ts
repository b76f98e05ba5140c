import { randomBytes } from 'node:crypto';
import { LOCAL_KEYRING } from '../../local/local-aws';
import { activeTaskKey } from '../../lambda/shared/table';
import { legacyDigest, legacySignCursor, legacyTaskId } from '../support/legacy-keys';
import {
  call,
  cancel,
  executionsOf,
  getActive,
  itemsOf,
  getTask,
  holdExecutions,
  localTaskService,
  post,
  releaseExecutions,
  taskReaches,
  uniqueTenant,
} from './support';

/**
 * Issue 29: the key of ids and cursors moved from the stack's UUID to a generated secret. The old code's ids are
 * nonce ‖ digest under the UUID, its cursors signed with it; the keyring keeps the UUID as the salt of the active
 * keys. Here the old code's tasks are written to DynamoDB Local as it wrote them (its id generator, frozen in
 * test/support/legacy-keys.ts, and the same items), then used through the API the local system runs today.
 */
const SALT = LOCAL_KEYRING.salt;
const before = localTaskService({ newId: (t, v) => legacyTaskId(SALT, t, v, randomBytes(16)) });
const list = (tenant: string, query: string) =>
  call('GET', `/api/v1/track?tenant_id=${encodeURIComponent(tenant)}${query}`);

describe('an upgrade from the stack-UUID key keeps every id and cursor working', () => {
  test('ids of a finished and an active task read, dedupe, look up and cancel; their cursors still page', async () => {
    const tenant = uniqueTenant('key-upgrade');
    // GIVEN, before the upgrade: one task that ran to its end and one still active (its execution held).
    const done = await before.track({ tenantId: tenant, videoFilename: 'done.mp4' });
    expect(done.task.taskId).toHaveLength(43);
    await taskReaches(tenant, done.task.taskId, 'completed');
    await holdExecutions(tenant);
    const active = await before.track({ tenantId: tenant, videoFilename: 'active.mp4' });
    const oldId = active.task.taskId;
    expect(active.kind).toBe('created');
    expect(oldId).toHaveLength(43);
    // The active item's key is the one the old code wrote, computed here by the frozen old code, not today's.
    const activeItem = (await itemsOf(tenant)).find((item) => item.task_id === oldId);
    expect(activeItem?.pk).toBe(activeTaskKey(tenant, legacyDigest(SALT, tenant, 'active.mp4').toString('base64url')));

    try {
      // WHEN the new code serves them, THEN reads by id find both.
      expect((await getTask(tenant, done.task.taskId)).body).toMatchObject({ status: 'completed' });
      expect((await getTask(tenant, oldId)).body).toMatchObject({ task_id: oldId, video_filename: 'active.mp4' });
      // A POST of the active video is its duplicate: the old task's id, no second task or execution.
      const dup = await post(tenant, 'active.mp4');
      expect(dup.status).toBe(200);
      expect(dup.body.task_id).toBe(oldId);
      expect((await getActive(tenant, 'active.mp4')).body.task_id).toBe(oldId);
      expect((await executionsOf(tenant)).length).toBe(2);

      // A cursor issued by the old code (the same position, signed with the UUID) pages as today's does.
      const first = await list(tenant, '&limit=1');
      expect(first.body.tasks.map((t: { task_id: string }) => t.task_id)).toEqual([oldId]);
      const cursor = first.body.next_cursor as string;
      expect(cursor).toMatch(/^1\./);
      const position = JSON.parse(Buffer.from(cursor.split('.')[1]!, 'base64url').toString('utf8'));
      const oldCursor = legacySignCursor(SALT, tenant, position);
      const viaOld = await list(tenant, `&limit=1&cursor=${encodeURIComponent(oldCursor)}`);
      const viaNew = await list(tenant, `&limit=1&cursor=${encodeURIComponent(cursor)}`);
      expect(viaOld.status).toBe(200);
      expect(viaOld.body.tasks).toEqual(viaNew.body.tasks);
      expect(viaOld.body.tasks.map((t: { task_id: string }) => t.task_id)).toEqual([done.task.taskId]);

      // The old id cancels; the video is then free, and its next task has a new 44-character id that reads at once.
      expect((await cancel(tenant, oldId)).body.status).toBe('cancelled');
      expect((await getTask(tenant, oldId)).body.status).toBe('cancelled');
      const next = await post(tenant, 'active.mp4');
      expect(next.status).toBe(201);
      expect(next.body.task_id).toHaveLength(44);
      expect((await getTask(tenant, next.body.task_id)).body.status).toMatch(/not_started|running/);
    } finally {
      await releaseExecutions(tenant);
    }
  }, 60_000);
});
