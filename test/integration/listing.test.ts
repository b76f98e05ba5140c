import { call, cancel, holdExecutions, post, present, releaseExecutions, uniqueTenant } from './support';

const list = (tenant: string, query = '') =>
  call('GET', `/api/v1/track?tenant_id=${encodeURIComponent(tenant)}${query}`);

/** Every page of the listing, following next_cursor; each answer is held to the contract by call(). */
async function allPages(tenant: string, query: string): Promise<{ pages: any[][]; cursors: string[] }> {
  const pages: any[][] = [];
  const cursors: string[] = [];
  let cursor: string | null = null;
  do {
    const res = await list(tenant, `${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    expect(res.status).toBe(200);
    pages.push(res.body.tasks);
    cursor = res.body.next_cursor;
    if (cursor) cursors.push(cursor);
  } while (cursor && pages.length < 10);
  return { pages, cursors };
}

describe("listing a tenant's tasks (GET /api/v1/track without video_filename)", () => {
  const tenant = uniqueTenant('list');
  const other = uniqueTenant('list-other');
  const created: string[] = [];
  let cancelled: string[] = [];

  beforeAll(async () => {
    await holdExecutions(tenant);
    await holdExecutions(other);
    // One tenant's 25 tasks interleaved with another's 10, one after another so their creation times are ordered.
    for (let i = 0; i < 25; i++) {
      const res = await post(tenant, `v${i}.mp4`);
      expect(res.status).toBe(201);
      created.push(res.body.task_id);
      if (i % 5 === 0) await post(other, `v${i}.mp4`);
      if (i % 5 === 2) await post(other, `w${i}.mp4`);
    }
    cancelled = [3, 11, 20].map((i) => present(created[i], `task ${i}`));
    for (const id of cancelled) expect((await cancel(tenant, id)).status).toBe(200);
  }, 60_000);

  afterAll(async () => {
    await releaseExecutions(tenant);
    await releaseExecutions(other);
  });

  test('25 tasks in pages of 10: newest first, each exactly once, none of the other tenant', async () => {
    const { pages } = await allPages(tenant, '&limit=10');
    expect(pages.map((p) => p.length)).toEqual([10, 10, 5]);
    const listed = pages.flat();
    expect(listed.map((t) => t.task_id)).toEqual([...created].reverse());
    expect(new Set(listed.map((t) => t.tenant_id))).toEqual(new Set([tenant]));
    const times = listed.map((t) => t.created_at);
    expect([...times].sort().reverse()).toEqual(times);
    expect(
      listed
        .filter((t) => t.status === 'cancelled')
        .map((t) => t.task_id)
        .sort(),
    ).toEqual([...cancelled].sort());
  });

  test('the default page is 20; the status filter lists only active or only finished tasks, in full pages', async () => {
    const first = await list(tenant);
    expect(first.body.tasks).toHaveLength(20);
    expect(first.body.next_cursor).toEqual(expect.any(String));

    const finished = (await allPages(tenant, '&status=finished&limit=2')).pages;
    expect(finished.map((p) => p.length)).toEqual([2, 1]);
    expect(finished.flat().map((t) => t.task_id)).toEqual([...cancelled].reverse());

    const active = (await allPages(tenant, '&status=active&limit=10')).pages.flat();
    expect(active.map((t) => t.task_id)).toEqual([...created].reverse().filter((id) => !cancelled.includes(id)));
    expect(new Set(active.map((t) => t.status))).toEqual(new Set(['not_started']));
  });

  test('a tampered cursor, or one issued to another tenant, is 400 problem+json and lists nothing', async () => {
    const { cursors } = await allPages(tenant, '&limit=10');
    const cursor = present(cursors[0], 'a cursor');
    const [version = '', payload = '', signature = ''] = cursor.split('.');
    expect(version).toBe('1');
    const position = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const forged = Buffer.from(JSON.stringify({ ...position, tenant: other })).toString('base64url');
    const flipped = `${signature.slice(0, -2)}${signature.at(-2) === 'A' ? 'B' : 'A'}${signature.at(-1)}`;
    const attempts = [
      list(tenant, `&cursor=${encodeURIComponent(`1.${payload}.${flipped}`)}`),
      list(tenant, `&cursor=${encodeURIComponent(`1.${forged}.${signature}`)}`),
      list(other, `&cursor=${encodeURIComponent(cursor)}`),
      list(other, `&cursor=${encodeURIComponent(`1.${forged}.${signature}`)}`),
      // Without its version: a cursor of the old format, whose signature (the stack UUID's) this is not.
      list(tenant, `&cursor=${encodeURIComponent(`${payload}.${signature}`)}`),
      list(tenant, `&cursor=${encodeURIComponent(`9.${payload}.${signature}`)}`),
      list(tenant, '&cursor=not-a-cursor'),
    ];
    for (const res of await Promise.all(attempts)) {
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(res.body).toMatchObject({ type: '/problems/invalid-request', field: 'cursor' });
      expect(res.body.tasks).toBeUndefined();
    }
  });

  test('limit outside 1-100 and listing parameters next to video_filename are 400', async () => {
    for (const query of ['&limit=0', '&limit=101', '&limit=abc', '&status=running', '&video_filename=v1.mp4&limit=5']) {
      const res = await list(tenant, query);
      expect(res.status).toBe(400);
      expect(res.body.type).toBe('/problems/invalid-request');
    }
    expect((await list(tenant, '&limit=100')).body.tasks).toHaveLength(25);
  });
});
