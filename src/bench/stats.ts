/** Small summary statistics for timings: median and the relative spread (max − min) / median. */

/** Median of a non-empty list, e.g. [3, 1, 2] -> 2, [1, 2, 3, 4] -> 2.5. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** (max − min) / median: 0.1 means the timings spread over 10% of the median. */
export function spread(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  return (Math.max(...xs) - Math.min(...xs)) / median(xs);
}
