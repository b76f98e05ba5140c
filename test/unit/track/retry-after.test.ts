import { AdmissionPending, DependencyUnavailable, TaskNotInExpectedState } from '../../../lambda/core/errors';
import { errorResponse, RETRY_AFTER_SECONDS, retryAfter } from '../../../lambda/track/http';

/** A random source that returns these values in turn. */
const draws =
  (...values: number[]) =>
  () => {
    const value = values.shift();
    if (value === undefined) throw new Error('no draw left');
    return value;
  };

describe('retryAfter: whole seconds from base to twice base, drawn per answer', () => {
  test('the lowest draw waits the base, the highest twice the base, in whole seconds', () => {
    expect(retryAfter(2, () => 0)).toBe('2');
    expect(retryAfter(2, () => 0.999999)).toBe('4');
    expect(retryAfter(11, () => 0)).toBe('11');
    expect(retryAfter(11, () => 0.5)).toBe('17');
    expect(retryAfter(11, () => 0.999999)).toBe('22');
  });

  test('every whole second from base to 2×base can be drawn, and nothing outside it', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) seen.add(retryAfter(3, () => i / 1000));
    expect([...seen].sort()).toEqual(['3', '4', '5', '6']);
  });

  test('a fractional or zero base is rounded up to a whole second that is never 0 (the contract: ^[0-9]+$)', () => {
    expect(retryAfter(10.2, () => 0)).toBe('11');
    expect(retryAfter(0, () => 0)).toBe('1');
    for (let i = 0; i < 100; i++) expect(retryAfter(10.2)).toMatch(/^(1[1-9]|2[0-2])$/);
  });
});

describe('every Retry-After of errorResponse goes through the one rule', () => {
  test('a 503 without a wait of its own: RETRY_AFTER_SECONDS..2×', () => {
    const unavailable = new DependencyUnavailable('dynamodb', 'PutItem');
    expect(errorResponse(unavailable, () => 0).headers['Retry-After']).toBe(String(RETRY_AFTER_SECONDS));
    expect(errorResponse(unavailable, () => 0.999).headers['Retry-After']).toBe(String(2 * RETRY_AFTER_SECONDS));
    expect(errorResponse(new TaskNotInExpectedState('t'), () => 0.5).headers['Retry-After']).toBe('3');
  });

  test('a 503 past the grace period and the 409 admission-pending: never before their base, up to twice it', () => {
    const left = new DependencyUnavailable('stepfunctions', 'StartExecution', { retryAfterSeconds: 11 });
    expect(errorResponse(left, () => 0)).toMatchObject({ statusCode: 503, headers: { 'Retry-After': '11' } });
    expect(errorResponse(left, () => 0.999)).toMatchObject({ statusCode: 503, headers: { 'Retry-After': '22' } });
    const pending = new AdmissionPending('t', 11);
    expect(errorResponse(pending, () => 0)).toMatchObject({ statusCode: 409, headers: { 'Retry-After': '11' } });
    expect(errorResponse(pending, () => 0.999)).toMatchObject({ statusCode: 409, headers: { 'Retry-After': '22' } });
  });

  test('two answers to the same failure draw apart', () => {
    const random = draws(0, 0.999);
    const unavailable = new DependencyUnavailable('dynamodb', 'PutItem');
    expect([
      errorResponse(unavailable, random).headers['Retry-After'],
      errorResponse(unavailable, random).headers['Retry-After'],
    ]).toEqual(['2', '4']);
  });
});
