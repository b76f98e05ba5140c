import { parseIdempotencyKey } from '../../../lambda/track/idempotency-key-header';
import { createTrackHandler } from '../../../lambda/track/track-handler';
import { TaskStatus } from '../../../lambda/core/task';
import { coreOnDoubles } from '../../support/doubles';
import { postTrack } from '../../support/events';

const body = { tenant_id: 'tenant1', video_filename: 'a.mp4' };
const SILENT = { info: () => undefined, warn: () => undefined, error: () => undefined };

function handlerOnDoubles() {
  const core = coreOnDoubles({ config: { tenantActiveTaskLimit: 0 } });
  const handle = createTrackHandler(core.service, SILENT);
  const post = (key?: string, json: unknown = body) =>
    handle(
      postTrack(json, { 'content-type': 'application/json', ...(key === undefined ? {} : { 'Idempotency-Key': key }) }),
    );
  return { ...core, post };
}

describe('the Idempotency-Key header', () => {
  test.each([
    ['"abc"', 'abc'],
    ['abc', 'abc'],
    ['  "8e03978e-40d5-43e8-bc93-6894a57f9324" ', '8e03978e-40d5-43e8-bc93-6894a57f9324'],
    ['"a \\"b\\" \\\\c"', 'a "b" \\c'],
    [`"${'k'.repeat(255)}"`, 'k'.repeat(255)],
  ])('%s is the key %s (an sf-string, or a bare value as it stands)', (value, key) => {
    expect(parseIdempotencyKey(value)).toBe(key);
  });

  test('absent: no key', () => {
    expect(parseIdempotencyKey(undefined)).toBeUndefined();
  });

  test.each([
    '',
    '""',
    '"',
    '"abc',
    'a b',
    '"a", "b"',
    'a,b',
    '"a\\nb"',
    '"é"',
    `"${'k'.repeat(256)}"`,
    'k'.repeat(256),
  ])('%j is 400 naming the header, before any store call', async (value) => {
    const { post, store } = handlerOnDoubles();
    const res = await post(value);
    expect(res.statusCode).toBe(400);
    expect(res.headers['Content-Type']).toBe('application/problem+json');
    expect(JSON.parse(res.body as string)).toMatchObject({
      type: '/problems/invalid-request',
      field: 'Idempotency-Key',
    });
    expect(store.calls).toEqual([]);
  });
});

describe('POST with an Idempotency-Key', () => {
  test('new: 201 as without a key, no replay header', async () => {
    const { post } = handlerOnDoubles();
    const res = await post('"k1"');
    expect(res.statusCode).toBe(201);
    expect(res.headers['Idempotent-Replayed']).toBeUndefined();
  });

  test('a retry while active: the duplicate answer with Idempotent-Replayed: true', async () => {
    const { post, clock } = handlerOnDoubles();
    const first = JSON.parse((await post('"k1"')).body as string) as { task_id: string };
    clock.advance(1);
    const res = await post('"k1"');
    expect(res.statusCode).toBe(200);
    expect(res.headers['Idempotent-Replayed']).toBe('true');
    expect(JSON.parse(res.body as string)).toEqual({
      task_id: first.task_id,
      status: 'not_started',
      message: 'Analysis already in progress',
    });
  });

  test('a retry after the task ended: 200 with the whole task as GET shows it, Idempotent-Replayed: true', async () => {
    const { post, service } = handlerOnDoubles();
    const first = JSON.parse((await post('k1')).body as string) as { task_id: string };
    await service.cancel('tenant1', first.task_id);
    const res = await post('"k1"');
    expect(res.statusCode).toBe(200);
    expect(res.headers['Idempotent-Replayed']).toBe('true');
    expect(JSON.parse(res.body as string)).toMatchObject({
      task_id: first.task_id,
      tenant_id: 'tenant1',
      video_filename: 'a.mp4',
      status: TaskStatus.Cancelled,
      error: { error: 'Cancelled' },
    });
  });

  test('the same key with another body: 422 problem+json', async () => {
    const { post } = handlerOnDoubles();
    await post('"k1"');
    const res = await post('"k1"', { ...body, video_filename: 'b.mp4' });
    expect(res.statusCode).toBe(422);
    expect(res.headers['Content-Type']).toBe('application/problem+json');
    expect(JSON.parse(res.body as string)).toMatchObject({
      type: '/problems/idempotency-key-mismatch',
      status: 422,
      field: 'Idempotency-Key',
    });
  });

  test('a plain duplicate (no key) carries no replay header', async () => {
    const { post } = handlerOnDoubles();
    await post('"k1"');
    const res = await post(undefined);
    expect(res.statusCode).toBe(200);
    expect(res.headers['Idempotent-Replayed']).toBeUndefined();
  });
});
