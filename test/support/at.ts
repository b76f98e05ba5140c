/** `items[i]`, or a failed test naming the index: for tests under noUncheckedIndexedAccess. */
export function at<T>(items: readonly T[], i: number): T {
  const item = i < 0 ? items[items.length + i] : items[i];
  if (item === undefined) throw new Error(`expected an item at ${i}, got ${items.length} items`);
  return item;
}
