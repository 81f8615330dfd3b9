/** Small statistics shared by the benches: medians and spreads over rounds, latency percentiles. */

/** The median of xs (the mean of the middle two for an even count); NaN for none. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Median, smallest and largest of xs: what a row and a chart's whisker show. */
export function spread(xs: readonly number[]): { median: number; min: number; max: number; n: number } {
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length };
}

/**
 * The q-quantile (0 < q ≤ 1) of an ascending array by the nearest-rank method: the smallest
 * sample with at least q of all samples at or below it. No interpolation, so p99.9 of 10,000
 * samples is a latency that was actually seen.
 */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}
