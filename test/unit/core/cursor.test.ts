import { InvalidRequest } from '../../../lambda/core/errors';
import { openCursor, signCursor } from '../../../lambda/core/cursor';

const KEY = 'stack-uuid';
const POSITION = { pk: 'ACTIVE#2#t1#a.mp4', tenant: 't1', created: '2026-01-01T00:00:00.000Z' };

const refused = (tenant: string, cursor: string, key = KEY) => {
  try {
    openCursor(key, tenant, cursor);
  } catch (error) {
    return error instanceof InvalidRequest && error.field === 'cursor';
  }
  return false;
};

describe('the listing cursor', () => {
  test('opens to the position it was signed with, for the tenant it was issued to', () => {
    const cursor = signCursor(KEY, 't1', POSITION);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(openCursor(KEY, 't1', cursor)).toEqual(POSITION);
  });

  test('another tenant, another key, an edited payload or signature, or garbage are refused', () => {
    const cursor = signCursor(KEY, 't1', POSITION);
    const [payload, signature] = cursor.split('.');
    if (payload === undefined || signature === undefined) throw new Error(`a cursor is payload.signature: ${cursor}`);
    const edited = Buffer.from(JSON.stringify({ ...POSITION, tenant: 't2' })).toString('base64url');
    expect(refused('t2', cursor)).toBe(true);
    expect(refused('t1', cursor, 'another-stack')).toBe(true);
    expect(refused('t1', `${edited}.${signature}`)).toBe(true);
    expect(refused('t1', `${payload}.${signature.slice(1)}`)).toBe(true);
    expect(refused('t1', `${payload}.${signature}.x`)).toBe(true);
    for (const garbage of ['', '.', 'abc', `.${signature}`]) expect(refused('t1', garbage)).toBe(true);
  });

  test('a validly signed payload that is not an object of strings is refused', () => {
    const cursor = signCursor(KEY, 't1', { n: 1 } as never);
    expect(refused('t1', cursor)).toBe(true);
  });
});
