import { parseNumber } from '../../../lambda/shared/parse-number';

describe('parseNumber', () => {
  test('a setting that is not set (undefined or empty) is undefined', () => {
    expect(parseNumber(undefined, 'PORT')).toBeUndefined();
    expect(parseNumber('', 'PORT')).toBeUndefined();
  });

  test.each([
    ['8000', {}, 8000],
    ['0', {}, 0],
    [' 12 ', {}, 12],
    [7, {}, 7],
    ['65535', { max: 65535 }, 65535],
    ['2.5', { whole: false }, 2.5],
    ['0.5', { whole: false, exclusive: true }, 0.5],
  ])('%j with %j reads as %d', (raw, rule, expected) => {
    expect(parseNumber(raw, 'X', rule)).toBe(expected);
  });

  test.each([
    ['abc', {}, 'Environment variable X must be a whole number, 0 or more, got "abc".'],
    ['2.5', {}, 'Environment variable X must be a whole number, 0 or more, got "2.5".'],
    ['-1', {}, 'Environment variable X must be a whole number, 0 or more, got "-1".'],
    [' ', {}, 'Environment variable X must be a whole number, 0 or more, got " ".'],
    ['Infinity', { whole: false }, 'Environment variable X must be a number, 0 or more, got "Infinity".'],
    ['65536', { max: 65535 }, 'Environment variable X must be a whole number from 0 to 65535, got "65536".'],
    ['0', { exclusive: true }, 'Environment variable X must be a positive whole number, got "0".'],
    ['0', { whole: false, exclusive: true }, 'Environment variable X must be a positive number, got "0".'],
    ['1', { min: 1, exclusive: true }, 'Environment variable X must be a whole number above 1, got "1".'],
    [true, {}, 'Environment variable X must be a whole number, 0 or more, got true.'],
  ])('%j with %j is refused, naming the setting', (raw, rule, message) => {
    expect(() => parseNumber(raw, 'Environment variable X', rule)).toThrow(message);
  });
});
