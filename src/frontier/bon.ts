/**
 * Best-of-n from one pool: the unbiased order-statistics estimator of what best-of-n (pick, among n samples,
 * the one a proxy reward scores highest) would earn, from a pool of N >= n samples of the same prompt, and the
 * analytic KL of the best-of-n policy from the sampling policy.
 *
 * Estimator (as in Gao et al. 2022, App. "best-of-n", and Nakano et al. 2021): sort the pool by proxy, rank
 * 1..N ascending. The best of a uniformly drawn n-subset has rank i with probability C(i−1, n−1) / C(N, n)
 * (the other n−1 members come from the i−1 lower ranks), so
 *
 *   E[value of the best of n] = Σ_i C(i−1, n−1) / C(N, n) · value_(i),
 *
 * the exact mean over all C(N, n) subsets: one pool serves every n <= N without resampling. The weights are
 * computed in log space from the top down (w_N = n/N, w_{i−1} = w_i · (i−n)/(i−1)), so N in the thousands and
 * n in the hundreds neither overflow nor lose the small weights.
 *
 * Ties in the proxy: best-of-n picks uniformly at random among the tied best of its subset (what a random
 * order of drawing does). That equals ranking the pool in a uniformly random order within each tied group, so
 * each member of a tied group gets the mean of the group's rank weights. The proxy value of the pick does not
 * depend on the rule; the gold value (reported for the proxy's argmax) does, and brute force over all subsets
 * with the same rule gives the same number (test/frontier/bon.test.ts).
 *
 * KL_bon(n) = log n − (n−1)/n (Stiennon et al. 2020, App. G; Beirami et al. 2024 show it is an upper bound
 * on the exact KL, reached when no single outcome carries much probability).
 *
 * Does NOT: sample, score, or touch tensors; that is frontier.ts's job.
 */

/** log C(i−1, n−1) − log C(N, n) for ranks i = 1..N (−Infinity below rank n). logBonWeights(3, 2) -> log [0, 1/3, 2/3]. */
export function logBonWeights(N: number, n: number): Float64Array {
  checkSizes(N, n);
  const lw = new Float64Array(N).fill(-Infinity);
  lw[N - 1] = Math.log(n) - Math.log(N); // C(N−1, n−1)/C(N, n) = n/N
  for (let i = N; i > n; i--) lw[i - 2] = lw[i - 1] + Math.log(i - n) - Math.log(i - 1); // rank i -> rank i−1
  return lw;
}

/** The probability that the best of a random n-subset has rank i (ascending, 1-based at index i−1); sums to 1. */
export function bonWeights(N: number, n: number): Float64Array {
  return logBonWeights(N, n).map(Math.exp);
}

function checkSizes(N: number, n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`best-of-n: n must be an integer >= 1; got ${n}`);
  if (!Number.isInteger(N) || N < n) throw new RangeError(`best-of-n: the pool has ${N} samples, fewer than n = ${n}; sample at least n per prompt`);
}

/** Pool order by proxy ascending; ties keep pool order (the tie rule below makes the order within a group irrelevant). */
function ascendingOrder(proxy: readonly number[]): number[] {
  return proxy.map((_, i) => i).sort((a, b) => proxy[a] - proxy[b] || a - b);
}

/** Expected proxy and gold of the best-of-n pick for one prompt's pool. */
export interface BonEstimate {
  proxy: number;
  gold: number;
}

/**
 * E[proxy] and E[gold] of the proxy's best of n, from one pool (proxy[k], gold[k] for sample k).
 * bonEstimate([1, 3, 2], [10, 30, 20], 2) -> {proxy: 8/3, gold: 80/3} (subsets {1,3}, {1,2}, {3,2} pick 3, 2, 3).
 */
export function bonEstimate(proxy: readonly number[], gold: readonly number[], n: number): BonEstimate {
  const N = proxy.length;
  if (gold.length !== N) throw new RangeError(`best-of-n: ${N} proxy scores but ${gold.length} gold scores; expected one of each per sample`);
  for (let k = 0; k < N; k++) {
    if (!Number.isFinite(proxy[k]) || !Number.isFinite(gold[k])) {
      throw new RangeError(`best-of-n: sample ${k} has proxy ${proxy[k]} and gold ${gold[k]}; expected finite scores`);
    }
  }
  const w = bonWeights(N, n);
  const order = ascendingOrder(proxy);
  let eProxy = 0;
  let eGold = 0;
  for (let start = 0; start < N; ) {
    let end = start + 1;
    while (end < N && proxy[order[end]] === proxy[order[start]]) end++;
    // A tied group at ranks start+1..end: each member gets the group's mean weight (random tie-break).
    let wGroup = 0;
    let goldGroup = 0;
    for (let r = start; r < end; r++) {
      wGroup += w[r];
      goldGroup += gold[order[r]];
    }
    eProxy += wGroup * proxy[order[start]];
    eGold += (wGroup * goldGroup) / (end - start);
    start = end;
  }
  return { proxy: eProxy, gold: eGold };
}

/** KL(best-of-n ‖ sampling policy) = log n − (n−1)/n, in nats. klBon(1) -> 0; klBon(2) -> log 2 − 1/2. */
export function klBon(n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`KL_bon: n must be an integer >= 1; got ${n}`);
  return Math.log(n) - (n - 1) / n;
}

/** 1, 2, 4, … up to nMax, and nMax itself when it is not a power of two. bonSizes(6) -> [1, 2, 4, 6]. */
export function bonSizes(nMax: number): number[] {
  if (!Number.isInteger(nMax) || nMax < 1) throw new RangeError(`--n-max must be an integer >= 1; got ${nMax}`);
  const out: number[] = [];
  for (let n = 1; n <= nMax; n *= 2) out.push(n);
  if (out[out.length - 1] !== nMax) out.push(nMax);
  return out;
}
