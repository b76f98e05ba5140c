import { formatKeyring, parseKeyring } from '../../../lambda/shared/keyring';

const KEY = 'k'.repeat(64);
const json = (fields: Record<string, unknown>) => JSON.stringify(fields);

describe('the task id keyring', () => {
  test('parses the shape the stack generates, and formats back to it', () => {
    const text = json({ active_key_salt: 'salt-uuid', current: '1', key_1: KEY });
    const keyring = parseKeyring(text);
    expect(keyring).toEqual({ salt: 'salt-uuid', current: 1, keys: new Map([[1, KEY]]) });
    expect(formatKeyring(keyring)).toBe(text);
  });

  test('keeps every key version; ignores fields it does not know', () => {
    const keyring = parseKeyring(json({ active_key_salt: 's', current: 2, key_1: KEY, key_2: KEY + '2', note: 'x' }));
    expect(keyring.current).toBe(2);
    expect([...keyring.keys.keys()]).toEqual([1, 2]);
  });

  test.each([
    ['not JSON', 'nope', /not JSON/],
    ['an array', '[]', /not a JSON object/],
    ['no salt', json({ current: '1', key_1: KEY }), /active_key_salt/],
    ['no current', json({ active_key_salt: 's', key_1: KEY }), /"current"/],
    ['current 0', json({ active_key_salt: 's', current: '0', key_1: KEY }), /"current"/],
    ['current without its key', json({ active_key_salt: 's', current: '2', key_1: KEY }), /"key_2"/],
    ['a short key', json({ active_key_salt: 's', current: '1', key_1: 'short' }), /"key_1".*32/],
    ['a key above 255', json({ active_key_salt: 's', current: '1', key_1: KEY, key_256: KEY }), /key_256/],
  ])('refuses %s, naming the field and never a value', (_name, text, message) => {
    let error: unknown;
    try {
      parseKeyring(text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('short');
    expect((error as Error).message).not.toContain(KEY);
  });
});
