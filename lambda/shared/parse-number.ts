/**
 * One reader for numeric settings (CDK context values, environment variables, `npm start`'s settings), so each
 * refuses a bad value the same way, with a message that names the setting and what it accepts.
 */

/** What a setting accepts. */
export interface NumberRule {
  /**
   * Whether a fraction is refused.
   * @default true
   */
  readonly whole?: boolean;
  /**
   * The smallest value accepted.
   * @default 0
   */
  readonly min?: number;
  /**
   * Whether `min` itself is refused (a positive amount: `{ min: 0, exclusive: true }`).
   * @default false
   */
  readonly exclusive?: boolean;
  /**
   * The largest value accepted.
   * @default - no bound
   */
  readonly max?: number;
}

/**
 * The setting's value as a number, or undefined when it is not set (undefined or an empty string).
 * @param setting how the user names it, e.g. `Context "taskRetentionDays"` or `Environment variable PORT`
 * @throws Error naming the setting, what it accepts and the value given
 */
export function parseNumber(raw: unknown, setting: string, rule: NumberRule = {}): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const { whole = true, min = 0, exclusive = false, max = Infinity } = rule;
  const value = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
  const fits =
    Number.isFinite(value) &&
    (!whole || Number.isInteger(value)) &&
    (exclusive ? value > min : value >= min) &&
    value <= max;
  if (!fits) throw new Error(`${setting} must be ${accepted(whole, min, exclusive, max)}, got ${JSON.stringify(raw)}.`);
  return value;
}

function accepted(whole: boolean, min: number, exclusive: boolean, max: number): string {
  const kind = whole ? 'whole number' : 'number';
  if (max !== Infinity) return `a ${kind} from ${exclusive ? `above ${min}` : min} to ${max}`;
  if (exclusive) return min === 0 ? `a positive ${kind}` : `a ${kind} above ${min}`;
  return `a ${kind}, ${min} or more`;
}
