import { call, executionsOf, pool, taskReaches, uniqueTenant } from './support';

// Against the local system (DynamoDB Local, the synthesized state machine): the key's conditional write decides, and
// the replay reads the finished task's record.
const post = (tenant: string, video: string, key?: string) =>
  call(
    'POST',
    '/api/v1/track',
    { tenant_id: tenant, video_filename: video },
    key === undefined ? {} : { 'Idempotency-Key': `"${key}"` },
  );

describe('Idempotency-Key on POST /api/v1/track (DynamoDB Local)', () => {
  test('a retry after the task finished replays it (200, Idempotent-Replayed); one execution ran', async () => {
    // GIVEN a keyed POST whose task runs to its end
    const tenant = uniqueTenant('idem-replay');
    const first = await post(tenant, 'a.mp4', 'k-1');
    expect(first.status).toBe(201);
    const finished = await taskReaches(tenant, first.body.task_id, 'completed', 30_000);
    // WHEN the client retries with the same key and body
    const replay = await post(tenant, 'a.mp4', 'k-1');
    // THEN it gets that task as it is now, marked a replay, and nothing new started
    expect(replay.status).toBe(200);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toMatchObject({ task_id: first.body.task_id, status: 'completed', result: finished.result });
    expect(await executionsOf(tenant)).toHaveLength(1);
    // A different body under the key: 422; no key: a new analysis, as before.
    expect((await post(tenant, 'b.mp4', 'k-1')).status).toBe(422);
    expect((await post(tenant, 'a.mp4')).status).toBe(201);
  }, 60_000);

  test('concurrent POSTs under one key create one task; all answer its id', async () => {
    const tenant = uniqueTenant('idem-race');
    const answers = await pool(
      Array.from({ length: 12 }, (_, i) => i),
      12,
      () => post(tenant, 'c.mp4', 'k-race'),
    );
    const ids = new Set(answers.map((a) => a.body.task_id as string));
    expect(ids.size).toBe(1);
    expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
    expect(answers.every((a) => a.status === 201 || a.status === 200)).toBe(true);
    await taskReaches(tenant, [...ids][0]!, 'completed', 30_000);
    expect(await executionsOf(tenant)).toHaveLength(1);
  }, 60_000);

  test('a malformed key is 400 naming the header, and writes nothing', async () => {
    const tenant = uniqueTenant('idem-bad');
    const res = await call(
      'POST',
      '/api/v1/track',
      { tenant_id: tenant, video_filename: 'd.mp4' },
      { 'Idempotency-Key': '"' + 'x'.repeat(300) + '"' },
    );
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ type: '/problems/invalid-request' });
    expect((await call('GET', `/api/v1/track?tenant_id=${tenant}`)).body.tasks).toEqual([]);
  });
});
