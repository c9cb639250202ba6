/**
 * Seeded, deterministic bootstrap percentile intervals.
 * A small 32-bit PRNG (SplitMix-style: Weyl increment + murmur3's finaliser) keeps results identical
 * across runs and machines for a given seed. Does NOT do BCa or studentised intervals: the percentile
 * interval is what RewardBench-style reports use, and it is easy to reproduce.
 */

/** Deterministic uniform generator on [0, 1). new Rng(7).next() is the same number everywhere. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    // Mix the seed once so that seeds 0, 1, 2 ... start far apart.
    this.state = (Math.imul(seed | 0, 0x9e3779b1) ^ 0x85ebca6b) >>> 0;
  }

  /** Next 32-bit unsigned integer. */
  nextUint32(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0; // Weyl sequence: visits every 32-bit state once
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  }

  /** Uniform on [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}

export interface BootstrapOptions {
  /** Number of resamples. @default 1000 */
  resamples?: number;
  /** PRNG seed. @default 0 */
  seed?: number;
  /** Interval coverage. @default 0.95 */
  level?: number;
}

/**
 * q-quantile of an ascending-sorted array, linear interpolation between order statistics
 * (numpy's default "linear" method). percentile([1, 2, 3, 4], 0.5) -> 2.5.
 */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

/**
 * Percentile intervals for several statistics of the same n items, all computed on the same
 * resamples (a paired bootstrap, so differences between statistics keep their correlation).
 * Each statistic gets the resampled item indices. Resamples where a statistic is NaN (e.g. a
 * constant resample for a correlation) are left out of that statistic's interval; if more than
 * half are NaN the interval is [NaN, NaN].
 * Example: bootstrapIntervals(n, {acc: (idx) => ...}, {seed: 1}) -> {acc: [0.61, 0.74]}.
 */
export function bootstrapIntervals<K extends string>(
  n: number,
  statistics: Record<K, (indices: Int32Array) => number>,
  opts: BootstrapOptions = {},
): Record<K, [number, number]> {
  const resamples = opts.resamples ?? 1000;
  const level = opts.level ?? 0.95;
  const rng = new Rng(opts.seed ?? 0);
  const keys = Object.keys(statistics) as K[];
  const values = Object.fromEntries(keys.map((k) => [k, [] as number[]])) as Record<K, number[]>;
  const idx = new Int32Array(n);
  for (let r = 0; r < resamples && n > 0; r++) {
    for (let i = 0; i < n; i++) idx[i] = rng.int(n);
    for (const k of keys) values[k].push(statistics[k](idx));
  }
  const out = {} as Record<K, [number, number]>;
  for (const k of keys) {
    const finite = values[k].filter(Number.isFinite).sort((a, b) => a - b);
    if (finite.length === 0 || finite.length * 2 < resamples) out[k] = [NaN, NaN];
    else out[k] = [percentile(finite, (1 - level) / 2), percentile(finite, 1 - (1 - level) / 2)];
  }
  return out;
}

/** One statistic's percentile interval; see bootstrapIntervals. */
export function bootstrapInterval(
  n: number,
  statistic: (indices: Int32Array) => number,
  opts: BootstrapOptions = {},
): [number, number] {
  return bootstrapIntervals(n, { s: statistic }, opts).s;
}

/** Gathers xs at the given indices: pick([5, 6, 7], [2, 2, 0]) -> [7, 7, 5]. */
export function pick(xs: ArrayLike<number>, indices: ArrayLike<number>): Float64Array {
  const out = new Float64Array(indices.length);
  for (let i = 0; i < indices.length; i++) out[i] = xs[indices[i]];
  return out;
}
