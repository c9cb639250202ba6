/**
 * Plain-number statistics for comparing two rewards: accuracy, agreement, Pearson, Spearman,
 * Kendall tau-b, Wilson intervals, histograms.
 * Does NOT know about pairs, tensors or files; undefined statistics (a constant input to a
 * correlation, an empty sample) return NaN rather than throwing, and callers report them as such.
 * The seeded bootstrap lives in ./bootstrap and is re-exported here for convenience.
 */
export { bootstrapInterval, bootstrapIntervals, percentile, pick, Rng } from './bootstrap';
export type { BootstrapOptions } from './bootstrap';

/** mean([1, 2, 3]) -> 2; mean([]) -> NaN. */
export function mean(xs: ArrayLike<number>): number {
  if (xs.length === 0) return NaN;
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return s / xs.length;
}

/** Sample standard deviation (n - 1 in the denominator): sd([1, 2, 3]) -> 1; NaN for n < 2. */
export function sd(xs: ArrayLike<number>): number {
  if (xs.length < 2) return NaN;
  const m = mean(xs);
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += (xs[i] - m) ** 2;
  return Math.sqrt(s / (xs.length - 1));
}

/**
 * [min, max] of the finite values, by a loop (spreading 100k+ values into Math.min overflows the stack).
 * minMax([3, NaN, -1]) -> [-1, 3]; minMax([]) -> [NaN, NaN].
 */
export function minMax(xs: ArrayLike<number>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < xs.length; i++) {
    if (!Number.isFinite(xs[i])) continue;
    if (xs[i] < lo) lo = xs[i];
    if (xs[i] > hi) hi = xs[i];
  }
  return lo > hi ? [NaN, NaN] : [lo, hi];
}

/** Logistic function, written to stay finite for large |x|: sigmoid(0) -> 0.5. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

export interface AccuracyResult {
  /** Fraction of margins > 0 (ties are losses). */
  accuracy: number;
  /** How many margins are > 0. */
  correct: number;
  /** How many margins are exactly 0. */
  ties: number;
  n: number;
}

/**
 * Accuracy of a reward from its margins oriented so that positive means "prefers the better response".
 * Ties (margin exactly 0) count as losses and are reported separately.
 * Example: accuracy([1, -2, 0, 3]) -> {accuracy: 0.5, correct: 2, ties: 1, n: 4}.
 */
export function accuracy(margins: ArrayLike<number>): AccuracyResult {
  let correct = 0;
  let ties = 0;
  for (let i = 0; i < margins.length; i++) {
    if (margins[i] > 0) correct++;
    else if (margins[i] === 0) ties++;
  }
  const n = margins.length;
  return { accuracy: n === 0 ? NaN : correct / n, correct, ties, n };
}

/**
 * Agreement rate: the fraction of pairs where both rewards strictly prefer the same response
 * (sign(a) === sign(b) !== 0). A tie on either side is not agreement.
 * Example: agreement([1, -1, 2, 0], [3, -2, -1, 0]) -> 0.5.
 */
export function agreement(a: ArrayLike<number>, b: ArrayLike<number>): number {
  checkSameLength(a, b, 'agreement');
  if (a.length === 0) return NaN;
  let k = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== 0 && Math.sign(a[i]) === Math.sign(b[i])) k++;
  return k / a.length;
}

/**
 * Pearson correlation (centred two-pass sums); NaN when either input is constant or n < 2.
 * Example: pearson([1, 2, 3], [2, 4, 7]) -> 0.9934.
 */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  checkSameLength(x, y, 'pearson');
  const n = x.length;
  if (n < 2) return NaN;
  const mx = mean(x);
  const my = mean(y);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - mx;
    const dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return NaN;
  // Clamp: rounding can push |r| a hair past 1 for perfectly linear data.
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

/**
 * Values replaced by their level among the distinct values (0 = smallest), the form the rank
 * statistics work on. Sorting happens once here; a bootstrap resample of levels (pickLevels) is
 * ranked by counting sort in O(n + count), which keeps Spearman and Kendall cheap per resample.
 * Example: toLevels([10, 30, 10]) -> {level: [0, 1, 0], count: 2}.
 */
export interface Levels {
  level: Int32Array;
  /** Number of distinct values (levels are < count). */
  count: number;
}

export function toLevels(xs: ArrayLike<number>): Levels {
  const sorted = Float64Array.from(xs).sort();
  let k = 0;
  for (let i = 0; i < sorted.length; i++) if (k === 0 || sorted[i] !== sorted[k - 1]) sorted[k++] = sorted[i];
  const unique = sorted.subarray(0, k);
  return { level: Int32Array.from(xs, (v) => lowerBound(unique, v)), count: k };
}

/** The levels at the given indices (a resample); count is kept. */
export function pickLevels(l: Levels, indices: ArrayLike<number>): Levels {
  const level = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) level[i] = l.level[indices[i]];
  return { level, count: l.count };
}

/** First index i with a[i] >= v in ascending a. */
function lowerBound(a: Float64Array, v: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** How many items sit at each level. */
function levelCounts(l: Levels): Int32Array {
  const counts = new Int32Array(l.count);
  for (let i = 0; i < l.level.length; i++) counts[l.level[i]]++;
  return counts;
}

/** Ranks 1..n of levels, ties sharing the average of the ranks they span (counting sort). */
export function rankLevels(l: Levels): Float64Array {
  const counts = levelCounts(l);
  const avg = new Float64Array(l.count);
  let before = 0;
  for (let v = 0; v < l.count; v++) {
    avg[v] = before + (counts[v] + 1) / 2; // positions before+1 .. before+counts[v]
    before += counts[v];
  }
  const ranks = new Float64Array(l.level.length);
  for (let i = 0; i < ranks.length; i++) ranks[i] = avg[l.level[i]]; // a loop: TypedArray.from(map) is slow
  return ranks;
}

/**
 * Ranks 1..n with ties given the average of the ranks they span.
 * Example: rankAverage([10, 20, 10, 30]) -> [1.5, 3, 1.5, 4].
 */
export function rankAverage(xs: ArrayLike<number>): Float64Array {
  return rankLevels(toLevels(xs));
}

/** Spearman's rho: Pearson of average ranks (tie-aware, as scipy.stats.spearmanr). */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): number {
  checkSameLength(x, y, 'spearman');
  return pearson(rankAverage(x), rankAverage(y));
}

/** spearman() on levels (see Levels). */
export function spearmanLevels(x: Levels, y: Levels): number {
  checkSameLength(x.level, y.level, 'spearmanLevels');
  return pearson(rankLevels(x), rankLevels(y));
}

/**
 * Kendall's tau-b (tie-aware, as scipy.stats.kendalltau(variant='b')):
 *   tau_b = (C - D) / sqrt((n0 - n1) * (n0 - n2)),
 * n0 = n(n-1)/2, n1 / n2 = pairs tied in x / in y.
 * O(n log n) after Knight (1966): sort by (x, y), then count the inversions left in y; each is one
 * discordant pair (within equal x, y is already ascending), and C - D = n0 - n1 - n2 + n3 - 2 * swaps (n3 = pairs tied in both).
 * NaN when x or y is constant or n < 2. Example: kendallTauB([1, 2, 3], [1, 3, 2]) -> 1/3.
 */
export function kendallTauB(x: ArrayLike<number>, y: ArrayLike<number>): number {
  checkSameLength(x, y, 'kendallTauB');
  return kendallTauBLevels(toLevels(x), toLevels(y));
}

/** kendallTauB() on levels (see Levels). */
export function kendallTauBLevels(x: Levels, y: Levels): number {
  checkSameLength(x.level, y.level, 'kendallTauBLevels');
  const n = x.level.length;
  if (n < 2) return NaN;
  const cx = levelCounts(x);
  const cy = levelCounts(y);
  const n0 = (n * (n - 1)) / 2;
  const n1 = tiedPairs(cx);
  const n2 = tiedPairs(cy);
  // Sort by (x, y): stable counting sort by y, then by x.
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  countingSortBy(y.level, cy, order);
  countingSortBy(x.level, cx, order);
  const ys = new Int32Array(n);
  for (let k = 0; k < n; k++) ys[k] = y.level[order[k]];
  let n3 = 0; // pairs tied in both x and y: runs of equal (x, y) in sorted order
  let run = 1;
  for (let k = 1; k <= n; k++) {
    if (k < n && x.level[order[k]] === x.level[order[k - 1]] && ys[k] === ys[k - 1]) run++;
    else {
      n3 += (run * (run - 1)) / 2;
      run = 1;
    }
  }
  const swaps = countInversions(ys, y.count);
  const denom = Math.sqrt((n0 - n1) * (n0 - n2));
  if (denom === 0) return NaN;
  return Math.max(-1, Math.min(1, (n0 - n1 - n2 + n3 - 2 * swaps) / denom));
}

/** Sum of c(c-1)/2 over level counts: the number of tied pairs. */
function tiedPairs(counts: Int32Array): number {
  let t = 0;
  for (let v = 0; v < counts.length; v++) t += (counts[v] * (counts[v] - 1)) / 2;
  return t;
}

/** Stable counting sort of `order` (indices) by key[index]; sorts in place and returns it. */
function countingSortBy(key: Int32Array, counts: Int32Array, order: Int32Array): Int32Array {
  const start = new Int32Array(counts.length);
  for (let v = 1; v < counts.length; v++) start[v] = start[v - 1] + counts[v - 1];
  const out = new Int32Array(order.length);
  for (let k = 0; k < order.length; k++) out[start[key[order[k]]]++] = order[k];
  order.set(out);
  return order;
}

/**
 * Strict inversions (i < j with a[i] > a[j]) of levels in [0, count), counted right to left with a
 * Fenwick tree of how many smaller levels were already seen: O(n log count).
 */
function countInversions(a: Int32Array, count: number): number {
  const tree = new Int32Array(count + 1);
  let inversions = 0;
  for (let k = a.length - 1; k >= 0; k--) {
    for (let i = a[k]; i > 0; i -= i & -i) inversions += tree[i]; // seen so far with level < a[k]
    for (let i = a[k] + 1; i <= count; i += i & -i) tree[i]++;
  }
  return inversions;
}

/** Straightforward O(n^2) tau-b, kept as an independent check of the fast one (tests) and for tiny n. */
export function kendallTauBNaive(x: ArrayLike<number>, y: ArrayLike<number>): number {
  checkSameLength(x, y, 'kendallTauBNaive');
  let s = 0;
  let tx = 0; // pairs not tied in x
  let ty = 0; // pairs not tied in y
  for (let i = 0; i < x.length; i++) {
    for (let j = i + 1; j < x.length; j++) {
      const dx = Math.sign(x[i] - x[j]);
      const dy = Math.sign(y[i] - y[j]);
      s += dx * dy;
      if (dx !== 0) tx++;
      if (dy !== 0) ty++;
    }
  }
  return tx === 0 || ty === 0 ? NaN : s / Math.sqrt(tx * ty);
}

export interface ProportionInterval {
  /** successes / n (NaN for n = 0). */
  rate: number;
  lo: number;
  hi: number;
}

/**
 * Wilson score interval for a proportion (better than the normal one near 0 and 1 and for small n).
 * Example: wilson(8, 10) -> {rate: 0.8, lo: 0.4902, hi: 0.9433} at 95%.
 */
export function wilson(successes: number, n: number, level = 0.95): ProportionInterval {
  if (n === 0) return { rate: NaN, lo: NaN, hi: NaN };
  const z = normalQuantile(1 - (1 - level) / 2);
  const p = successes / n;
  const z2n = (z * z) / n;
  const centre = (p + z2n / 2) / (1 + z2n);
  const half = (z / (1 + z2n)) * Math.sqrt((p * (1 - p)) / n + z2n / (4 * n));
  return { rate: p, lo: Math.max(0, centre - half), hi: Math.min(1, centre + half) };
}

/**
 * Standard normal quantile (Acklam's rational approximation, |error| < 1.2e-9, refined enough for intervals).
 * normalQuantile(0.975) -> 1.959964.
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile: p must be in (0, 1), got ${p}`);
  const a = [-39.69683028665376, 220.9460984245205, -275.928510446969, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const pl = 0.02425;
  if (p < pl) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - pl) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

export interface Histogram {
  /** Bin edges, length bins + 1; bin i is [edges[i], edges[i+1]), the last bin also holds its right edge. */
  edges: number[];
  counts: number[];
}

/**
 * Equal-width histogram over [min, max] of the data (or the given range); non-finite values are skipped.
 * Example: histogram([0, 1, 1, 2], 2) -> {edges: [0, 1, 2], counts: [1, 3]}.
 */
export function histogram(xs: ArrayLike<number>, bins: number, range?: [number, number]): Histogram {
  const finite = Array.from(xs).filter(Number.isFinite);
  let [lo, hi] = range ?? minMax(finite);
  if (finite.length === 0) [lo, hi] = [0, 1];
  if (lo === hi) [lo, hi] = [lo - 0.5, hi + 0.5]; // a constant sample still gets a visible bin
  const width = (hi - lo) / bins;
  const edges = Array.from({ length: bins + 1 }, (_, i) => lo + i * width);
  const counts = new Array<number>(bins).fill(0);
  for (const v of finite) {
    if (v < lo || v > hi) continue;
    counts[Math.min(bins - 1, Math.floor((v - lo) / width))]++;
  }
  return { edges, counts };
}

function checkSameLength(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  if (a.length !== b.length) throw new RangeError(`${what}: inputs differ in length (${a.length} vs ${b.length})`);
}
