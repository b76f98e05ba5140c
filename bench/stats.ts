/** The `q` quantile of `values` (0 ≤ q ≤ 1), interpolating linearly between the closest ranks. */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (i: number): number => {
    const value = sorted[Math.min(Math.max(i, 0), sorted.length - 1)];
    if (value === undefined) throw new RangeError('quantile of no values');
    return value;
  };
  const at = (sorted.length - 1) * q;
  const low = Math.floor(at);
  return rank(low) + (rank(low + 1) - rank(low)) * (at - low);
}

/** The median: the middle value, or the mean of the two middle values. */
export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}
