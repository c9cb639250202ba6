/** Statistics against hand-worked cases; the bootstrap's determinism; the analyses on tiny inputs. */
import { calibration, lengthBias, probeRates, subsetTable, topDisagreements } from '../../src/compare/analyses';
import { bootstrapInterval, bootstrapIntervals, percentile, pick, Rng } from '../../src/compare/bootstrap';
import {
  accuracy,
  agreement,
  histogram,
  kendallTauB,
  kendallTauBNaive,
  minMax,
  normalQuantile,
  pearson,
  rankAverage,
  sigmoid,
  spearman,
  wilson,
} from '../../src/compare/stats';
import { linearScale, niceTicks, esc } from '../../src/report/svg';
import { normal, syntheticPairs } from './synthetic';

describe('hand-worked statistics', () => {
  test('accuracy counts ties as losses and reports them', () => {
    expect(accuracy([1, -2, 0, 3])).toEqual({ accuracy: 0.5, correct: 2, ties: 1, n: 4 });
    expect(accuracy([]).accuracy).toBeNaN();
  });

  test('agreement needs both to strictly prefer the same response', () => {
    // pairs: agree, agree, disagree, both tie (not agreement)
    expect(agreement([1, -1, 2, 0], [3, -2, -1, 0])).toBe(0.5);
  });

  test('pearson: x=[1,2,3], y=[2,4,7] -> 5 / sqrt(2 * 114/9)', () => {
    expect(pearson([1, 2, 3], [2, 4, 7])).toBeCloseTo(5 / Math.sqrt((2 * 114) / 9), 12);
    expect(pearson([1, 1, 1], [1, 2, 3])).toBeNaN();
  });

  test('average ranks for ties', () => {
    expect(Array.from(rankAverage([10, 20, 10, 30]))).toEqual([1.5, 3, 1.5, 4]);
    expect(Array.from(rankAverage([5, 5, 5]))).toEqual([2, 2, 2]);
  });

  test('spearman with a tie: ranks [1,2.5,2.5,4] vs [1,3,2,4] -> 4.5 / sqrt(4.5 * 5)', () => {
    expect(spearman([1, 2, 2, 3], [1, 3, 2, 4])).toBeCloseTo(4.5 / Math.sqrt(22.5), 12);
  });

  test('kendall tau-b: C=5, D=0, one x-tie -> 5 / sqrt(5 * 6)', () => {
    expect(kendallTauB([1, 2, 2, 3], [1, 3, 2, 4])).toBeCloseTo(5 / Math.sqrt(30), 12);
    expect(kendallTauB([1, 2, 3], [1, 3, 2])).toBeCloseTo(1 / 3, 12);
    expect(kendallTauB([1, 2, 3], [3, 2, 1])).toBeCloseTo(-1, 12);
    expect(kendallTauB([1, 1], [1, 2])).toBeNaN();
  });

  test('fast tau-b equals the O(n^2) definition on data with many ties', () => {
    const rng = new Rng(3);
    for (const n of [2, 3, 7, 50, 301]) {
      const x = Array.from({ length: n }, () => Math.floor(rng.next() * 5));
      const y = Array.from({ length: n }, (_, i) => Math.floor(rng.next() * 4) + (x[i] > 2 ? 1 : 0));
      expect(kendallTauB(x, y)).toBeCloseTo(kendallTauBNaive(x, y), 12);
    }
  });

  test('wilson(8, 10) at 95%', () => {
    const w = wilson(8, 10);
    expect(w.rate).toBe(0.8);
    expect(w.lo).toBeCloseTo(0.4902, 4);
    expect(w.hi).toBeCloseTo(0.9433, 4);
    expect(wilson(0, 0).rate).toBeNaN();
  });

  test('normal quantile and sigmoid', () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 6);
    expect(normalQuantile(0.01)).toBeCloseTo(-2.326348, 6);
    expect(sigmoid(0)).toBe(0.5);
    expect(sigmoid(-1000)).toBe(0);
    expect(sigmoid(1000)).toBe(1);
  });

  test('histogram', () => {
    expect(histogram([0, 1, 1, 2], 2)).toEqual({ edges: [0, 1, 2], counts: [1, 3] });
    expect(histogram([3, 3], 2).counts.reduce((a, b) => a + b)).toBe(2);
  });

  test('minMax skips non-finite values and copes with large inputs', () => {
    expect(minMax([3, NaN, -1])).toEqual([-1, 3]);
    expect(minMax([])).toEqual([NaN, NaN]);
    expect(minMax(new Float64Array(300000).fill(2))).toEqual([2, 2]);
  });

  test('plot helpers: nice ticks, scales, escaping', () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(-3.2, 7.9)).toEqual([0, 5]); // step: the first of 1, 2, 5 x 10^k >= 11.1 / 5
    expect(linearScale([-3.2, 7.9], [0, 1]).ticks).toEqual([-5, 0, 5, 10]); // the domain widens to whole steps
    const x = linearScale([0.3, 9.2], [40, 440]);
    expect(x.domain).toEqual([0, 10]);
    expect(x(5)).toBe(240);
    expect(esc(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });

  test('percentile interpolates like numpy', () => {
    expect(percentile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(percentile([1, 2, 3, 4], 0.025)).toBeCloseTo(1.075, 12);
  });
});

describe('seeded bootstrap', () => {
  const rng = new Rng(11);
  const xs = Array.from({ length: 200 }, () => normal(rng));
  const meanAt = (ix: Int32Array) => pick(xs, ix).reduce((a, b) => a + b, 0) / ix.length;

  test('same seed, same interval; another seed, another interval', () => {
    const a = bootstrapInterval(xs.length, meanAt, { seed: 5, resamples: 300 });
    const b = bootstrapInterval(xs.length, meanAt, { seed: 5, resamples: 300 });
    const c = bootstrapInterval(xs.length, meanAt, { seed: 6, resamples: 300 });
    expect(a).toEqual(b);
    expect(c).not.toEqual(a);
  });

  test('the interval of a mean is about mean +- 1.96 sd / sqrt(n)', () => {
    const m = xs.reduce((a, b) => a + b, 0) / xs.length;
    const s = Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
    const [lo, hi] = bootstrapInterval(xs.length, meanAt, { seed: 1, resamples: 2000 });
    const half = (1.96 * s) / Math.sqrt(xs.length);
    expect(lo).toBeLessThan(m);
    expect(hi).toBeGreaterThan(m);
    expect((hi - lo) / 2).toBeGreaterThan(half * 0.85);
    expect((hi - lo) / 2).toBeLessThan(half * 1.15);
  });

  test('PRNG is uniform enough: mean ~ 0.5, buckets even', () => {
    const r = new Rng(0);
    const counts = new Array(10).fill(0);
    for (let i = 0; i < 20000; i++) counts[Math.floor(r.next() * 10)]++;
    for (const c of counts) expect(Math.abs(c - 2000)).toBeLessThan(200);
  });

  test('statistics that are NaN on most resamples give [NaN, NaN]', () => {
    const out = bootstrapIntervals(10, { nan: () => NaN, one: () => 1 }, { resamples: 50 });
    expect(out.nan[0]).toBeNaN();
    expect(out.one).toEqual([1, 1]);
  });
});

describe('analyses on hand-worked cases', () => {
  test('calibration: margins [0, ln 3], both chosen better -> ECE 0.125', () => {
    const c = calibration([0, Math.log(3)], [true, true]);
    const filled = c.bins.filter((b) => b.n > 0);
    expect(filled.map((b) => [b.lo, b.n, b.observed])).toEqual([
      [0.2, 1, 0],
      [0.5, 2, 0.5],
      [0.7, 1, 1],
    ]);
    expect(filled[2].mean_predicted).toBeCloseTo(0.75, 12);
    expect(c.ece).toBeCloseTo(0.125, 12);
  });

  test('calibration of a perfectly calibrated reward has a small ECE', () => {
    const rng = new Rng(4);
    const m: number[] = [];
    const y: boolean[] = [];
    for (let i = 0; i < 20000; i++) {
      const margin = normal(rng) * 2;
      m.push(margin);
      y.push(rng.next() < sigmoid(margin));
    }
    expect(calibration(m, y).ece).toBeLessThan(0.02);
    // A reward with margins 5x too large is overconfident.
    expect(calibration(m.map((v) => 5 * v), y).ece).toBeGreaterThan(0.1);
  });

  test('length bias: a reward that scores length wins exactly when the better answer is longer', () => {
    const lengthDiff = [10, -20, 30, -5, 0];
    const margins = lengthDiff.map((d) => d / 10);
    const lb = lengthBias(margins, lengthDiff, [true, true, true, true, true]);
    expect(lb.spearman).toBeCloseTo(1, 12);
    expect(lb.longer_chosen.rate).toBe(1);
    expect(lb.longer_chosen.n).toBe(2);
    expect(lb.longer_rejected.rate).toBe(0);
    expect(lb.longer_rejected.n).toBe(2);
    expect(lb.n_equal_length).toBe(1);
    // Flip the ground truth of pair 0: its better answer is now the shorter one, and the reward is wrong.
    const flipped = lengthBias(margins, lengthDiff, [false, true, true, true, true]);
    expect(flipped.longer_rejected.n).toBe(3);
    expect(flipped.longer_rejected.rate).toBe(0);
  });

  test('subset table groups in first-seen order and counts ties', () => {
    const rows = subsetTable(['a', 'b', 'a', undefined], [1, -1, 0, 2], [1, 1, 1, -1], [true, true, false, true]);
    expect(rows.map((r) => [r.subset, r.n])).toEqual([
      ['a', 2],
      ['b', 1],
      ['(all)', 1],
    ]);
    // subset a: explicit margins 1 (right), 0 (tie); implicit 1 (right), 1 with truth "rejected" (wrong)
    expect(rows[0].explicit_accuracy.rate).toBe(0.5);
    expect(rows[0].explicit_ties).toBe(1);
    expect(rows[0].implicit_accuracy.rate).toBe(0.5);
    expect(rows[0].agreement).toBe(0.5);
  });

  test('top disagreements: only disagreeing pairs, largest standardised gap first', () => {
    const pairs = syntheticPairs({ n: 6 });
    const e = [1, 2, -3, 0.5, 1, 4];
    const m = [1, -2, 3, 0.5, -1, 4];
    const top = topDisagreements(pairs, e, m, 2);
    expect(top.map((d) => d.id)).toEqual(['p2', 'p1']);
    expect(top[0].explicit_prefers).toBe('rejected');
    expect(top[0].implicit_prefers).toBe('chosen');
    expect(top[0].gap).toBeGreaterThan(top[1].gap);
    expect(top[0].prompt).toBe(pairs[2].prompt);
    expect(topDisagreements(pairs, e, m, 10)).toHaveLength(3);
  });

  test('probe rates per group with Wilson intervals', () => {
    const mk = (probe: string, ea: number, ia: number) => ({ probe, prompt: '', a: '', b: '', explicit: { a: ea, b: 0 }, implicit: { a: ia, b: 0 } });
    const g = probeRates([mk('x', 1, 1), mk('x', 1, -1), mk('x', 0, -1), mk('x', -1, -1), mk('y', 1, 1)]);
    expect(g.map((r) => r.probe)).toEqual(['x', 'y']);
    expect(g[0].explicit.prefers_a.rate).toBe(0.5);
    expect(g[0].explicit.ties).toBe(1);
    expect(g[0].implicit.prefers_a.rate).toBe(0.25);
    expect(g[0].explicit.prefers_a.ci).toEqual([wilson(2, 4).lo, wilson(2, 4).hi]);
    expect(g[0].agreement).toBe(0.5);
  });
});
