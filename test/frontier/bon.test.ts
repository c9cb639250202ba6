/**
 * The best-of-n estimator against brute force over every n-subset (with ties), its weights against exact
 * integer arithmetic for a large pool, and KL_bon against the exact KL of a discrete best-of-n distribution
 * and a Monte Carlo estimate of it.
 */
import { bonEstimate, bonSizes, bonWeights, klBon, logBonWeights } from '../../src/frontier/bon';
import { Rng } from '../../src/model/rng';

/** Every n-subset of 0..N-1. */
function subsets(N: number, n: number): number[][] {
  const out: number[][] = [];
  const pick = (start: number, acc: number[]) => {
    if (acc.length === n) return void out.push([...acc]);
    for (let i = start; i < N; i++) pick(i + 1, [...acc, i]);
  };
  pick(0, []);
  return out;
}

/** Mean over all subsets of the pick's proxy and gold; the pick is uniform among the subset's tied best. */
function bruteForce(proxy: number[], gold: number[], n: number) {
  let p = 0;
  let g = 0;
  const all = subsets(proxy.length, n);
  for (const s of all) {
    const best = Math.max(...s.map((k) => proxy[k]));
    const tied = s.filter((k) => proxy[k] === best);
    p += best;
    g += tied.reduce((a, k) => a + gold[k], 0) / tied.length;
  }
  return { proxy: p / all.length, gold: g / all.length };
}

describe('best-of-n order-statistics estimator', () => {
  test('hand-worked pool of three', () => {
    const e = bonEstimate([1, 3, 2], [10, 30, 20], 2);
    expect(e.proxy).toBeCloseTo(8 / 3, 12);
    expect(e.gold).toBeCloseTo(80 / 3, 12);
    // n = 1 is the pool mean, n = N the proxy's argmax.
    expect(bonEstimate([1, 3, 2], [10, 30, 20], 1).proxy).toBeCloseTo(2, 12);
    expect(bonEstimate([1, 3, 2], [10, 30, 20], 1).gold).toBeCloseTo(20, 12);
    expect(bonEstimate([1, 3, 2], [10, 30, 20], 3).gold).toBeCloseTo(30, 12);
  });

  test('equals brute force over all n-subsets, distinct scores, every n', () => {
    const rng = new Rng(7);
    for (let trial = 0; trial < 5; trial++) {
      const N = 8;
      const proxy = Array.from({ length: N }, () => rng.next());
      const gold = Array.from({ length: N }, () => rng.next() * 2 - 1);
      for (let n = 1; n <= N; n++) {
        const e = bonEstimate(proxy, gold, n);
        const b = bruteForce(proxy, gold, n);
        expect(e.proxy).toBeCloseTo(b.proxy, 12);
        expect(e.gold).toBeCloseTo(b.gold, 12);
      }
    }
  });

  test('equals brute force with ties (the pick uniform among the tied best of its subset)', () => {
    const rng = new Rng(11);
    const pools: Array<[number[], number[]]> = [
      [[1, 1, 1, 1], [0, 1, 2, 3]], // all tied: the pool's mean gold for every n
      [[2, 0, 2, 1, 2, 0, 1], [5, -1, 0, 3, 1, 2, 4]],
      [[0, 0, 1, 1, 1], [1, 0, 9, 0, 0]],
    ];
    for (let t = 0; t < 4; t++) {
      const N = 9;
      pools.push([Array.from({ length: N }, () => Math.floor(rng.next() * 3)), Array.from({ length: N }, () => rng.next())]);
    }
    for (const [proxy, gold] of pools) {
      for (let n = 1; n <= proxy.length; n++) {
        const e = bonEstimate(proxy, gold, n);
        const b = bruteForce(proxy, gold, n);
        expect(e.proxy).toBeCloseTo(b.proxy, 12);
        expect(e.gold).toBeCloseTo(b.gold, 12);
      }
    }
    expect(bonEstimate([1, 1, 1, 1], [0, 1, 2, 3], 3).gold).toBeCloseTo(1.5, 12);
  });

  test('the result does not depend on the pool order', () => {
    const proxy = [3, 1, 2, 2, 5, 1];
    const gold = [0.3, 0.1, 0.2, 0.7, 0.5, 0.9];
    const perm = [5, 2, 0, 4, 1, 3];
    for (let n = 1; n <= 6; n++) {
      const a = bonEstimate(proxy, gold, n);
      const b = bonEstimate(perm.map((k) => proxy[k]), perm.map((k) => gold[k]), n);
      expect(b.gold).toBeCloseTo(a.gold, 12);
    }
  });

  test('log-space weights match exact integer arithmetic for a large pool, and sum to 1', () => {
    const N = 400;
    const n = 64;
    const binom = (a: number, b: number): bigint => {
      if (b < 0 || b > a) return 0n;
      let r = 1n;
      for (let k = 1; k <= b; k++) r = (r * BigInt(a - b + k)) / BigInt(k);
      return r;
    };
    const total = binom(N, n);
    const lw = logBonWeights(N, n);
    const SCALE = 10n ** 30n;
    for (const i of [n, n + 1, 100, 200, 333, N - 1, N]) {
      // exact ratio to 30 digits, compared in log space
      const exact = Number((binom(i - 1, n - 1) * SCALE) / total) / 1e30;
      if (exact > 1e-25) expect(lw[i - 1]).toBeCloseTo(Math.log(exact), 6);
    }
    expect(lw[n - 2]).toBe(-Infinity);
    expect(lw[n - 1]).toBeCloseTo(-Math.log(Number(total)), 6);
    // C(5000, 256) ~ 1e450 overflows a double; its log (a sum of logs) is the check for the smallest weight
    const big = logBonWeights(5000, 256);
    let logC = 0;
    for (let k = 1; k <= 256; k++) logC += Math.log((5000 - 256 + k) / k);
    expect(logC).toBeGreaterThan(Math.log(Number.MAX_VALUE));
    expect(big[255] / -logC).toBeCloseTo(1, 10);
    const w = bonWeights(5000, 256);
    expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 10);
    expect(w[4999]).toBeCloseTo(256 / 5000, 14);
  });

  test('bad input is a one-line error', () => {
    expect(() => bonEstimate([1, 2], [1, 2], 3)).toThrow(/pool has 2 samples, fewer than n = 3/);
    expect(() => bonEstimate([1, 2], [1], 1)).toThrow(/2 proxy scores but 1 gold/);
    expect(() => bonEstimate([1, NaN], [1, 2], 1)).toThrow(/sample 1 has proxy NaN/);
    expect(() => bonWeights(4, 0)).toThrow(/n must be an integer >= 1; got 0/);
    expect(() => bonSizes(0)).toThrow(/--n-max must be an integer >= 1; got 0/);
  });

  test('sizes are powers of two up to n-max, and n-max', () => {
    expect(bonSizes(1)).toEqual([1]);
    expect(bonSizes(64)).toEqual([1, 2, 4, 8, 16, 32, 64]);
    expect(bonSizes(6)).toEqual([1, 2, 4, 6]);
  });
});

/**
 * The exact best-of-n distribution over K outcomes sorted by a reward with no ties:
 * π_n(k) = F(k)^n − F(k−1)^n, F the cumulative probability in reward order.
 */
function bonDistribution(p: number[], n: number): number[] {
  let F = 0;
  return p.map((pk) => {
    const prev = F;
    F += pk;
    return Math.min(F, 1) ** n - prev ** n;
  });
}

function exactKl(q: number[], p: number[]): number {
  let kl = 0;
  q.forEach((qk, k) => {
    if (qk > 0) kl += qk * Math.log(qk / p[k]);
  });
  return kl;
}

describe('KL_bon = log n − (n−1)/n', () => {
  test('hand values', () => {
    expect(klBon(1)).toBe(0);
    expect(klBon(2)).toBeCloseTo(Math.log(2) - 0.5, 15);
    expect(klBon(64)).toBeCloseTo(Math.log(64) - 63 / 64, 15);
    expect(() => klBon(0)).toThrow(/n must be an integer >= 1/);
  });

  test('matches the exact KL of best-of-n on a fine discrete distribution, and bounds it on a coarse one', () => {
    const rng = new Rng(3);
    const K = 100000;
    const raw = Array.from({ length: K }, () => 0.5 + rng.next()); // uneven masses, none large
    const Z = raw.reduce((a, b) => a + b, 0);
    const p = raw.map((x) => x / Z);
    for (const n of [1, 2, 4, 16, 64]) {
      expect(Math.abs(exactKl(bonDistribution(p, n), p) - klBon(n))).toBeLessThan(2e-3);
    }
    const coarse = [0.4, 0.3, 0.2, 0.1];
    for (const n of [2, 4, 16]) {
      const kl = exactKl(bonDistribution(coarse, n), coarse);
      expect(kl).toBeGreaterThan(0);
      expect(kl).toBeLessThan(klBon(n));
    }
  });

  test('matches a Monte Carlo estimate: mean of log π_n(y)/p(y) over sampled best-of-n draws', () => {
    const rng = new Rng(5);
    const K = 20000;
    const p = new Array(K).fill(1 / K); // outcome k has reward k: draws never tie in reward order
    for (const n of [4, 32]) {
      const q = bonDistribution(p, n);
      const draws = 20000;
      let s = 0;
      let s2 = 0;
      for (let d = 0; d < draws; d++) {
        let best = -1;
        for (let j = 0; j < n; j++) best = Math.max(best, Math.floor(rng.next() * K));
        const lr = Math.log(q[best] / p[best]);
        s += lr;
        s2 += lr * lr;
      }
      const m = s / draws;
      const se = Math.sqrt((s2 / draws - m * m) / draws);
      expect(Math.abs(m - klBon(n))).toBeLessThan(4 * se + 1e-3);
    }
  });
});
