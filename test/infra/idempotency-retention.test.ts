import { Duration } from 'aws-cdk-lib';
import { synthTrackingStack } from '../support/synth';

describe('idempotencyRetention', () => {
  test('every function running the rules reads IDEMPOTENCY_RETENTION_SECONDS (24 h by default, the prop when set)', () => {
    for (const [retention, seconds] of [
      [undefined, '86400'],
      [Duration.hours(2), '7200'],
    ] as const) {
      // GIVEN / WHEN
      const { template } = synthTrackingStack({ idempotencyRetention: retention }, `Idem${seconds}`);
      // THEN
      const values = Object.values(template.findResources('AWS::Lambda::Function'))
        .map((r) => (r as { Properties?: { Environment?: { Variables?: Record<string, string> } } }).Properties)
        .map((p) => p?.Environment?.Variables?.IDEMPOTENCY_RETENTION_SECONDS)
        .filter((v) => v !== undefined);
      expect(values.length).toBeGreaterThan(0);
      expect(new Set(values)).toEqual(new Set([seconds]));
    }
  });

  test('longer than the task retention is refused: a key would outlive its task record', () => {
    expect(() => synthTrackingStack({ idempotencyRetention: Duration.days(31) }, 'IdemTooLong')).toThrow(
      /idempotencyRetention must be positive and at most taskRetention/,
    );
  });
});
