/**
 * Best-of-n selection, pure: given every prompt's samples scored by a reward (samples drawn once, max(n) per
 * prompt), pick for each n the best of the FIRST n samples of each prompt and summarise: the mean reward of the
 * picks (the proxy), and the mean gold reward of the same picks when a gold reward scored the samples too.
 * Ties go to the earlier sample, so n = 1 always picks sample 0 and the picks of n nest (a larger n never loses
 * reward). Also the analytic KL of best-of-n to the policy, log n − (n − 1)/n (the frontier's x-axis).
 *
 * Does NOT: sample, score or write files (bon.ts does), or estimate best-of-n from more samples than n
 * (the frontier's order-statistics estimator does).
 */
import { RewardError } from './types';

export interface BonPoint {
  n: number;
  /** Prompts the mean is over. */
  count: number;
  /** Mean over prompts of the reward of the chosen sample. */
  reward_mean: number;
  /** Mean over prompts of the gold reward of the same chosen sample; null without a gold reward. */
  gold_mean: number | null;
  /** Prompts with a gold score (= count with a gold reward, else 0). */
  gold_count: number;
  /** KL(best-of-n ‖ policy) = log n − (n − 1)/n, nats (exact for distinct rewards). */
  kl_bon: number;
  /** Per prompt, the index of the chosen sample (0..n-1). */
  chosen: number[];
}

/**
 * "1,4,16" (or numbers) -> [1, 4, 16]: integers >= 1, sorted, without repeats. Anything else is one line.
 */
export function parseNs(v: string | readonly number[]): number[] {
  const parts = typeof v === 'string' ? v.split(',').map((s) => s.trim()) : v.map(String);
  const ns = parts.map((s) => Number(s));
  const bad = parts.findIndex((s, i) => s === '' || !Number.isInteger(ns[i]) || ns[i] < 1);
  if (ns.length === 0 || bad >= 0) {
    throw new RewardError(`--n ${typeof v === 'string' ? v : v.join(',')}: ${bad >= 0 ? `"${parts[bad]}" is not` : 'expected'} an integer >= 1; write the sample counts as a list, e.g. --n 1,4,16`);
  }
  return [...new Set(ns)].sort((a, b) => a - b);
}

/** Index of the largest of v[0..n), the first on ties. */
function argmaxFirst(v: readonly number[], n: number): number {
  let best = 0;
  for (let j = 1; j < n; j++) if (v[j] > v[best]) best = j;
  return best;
}

/**
 * rewards[i][j] = the reward of sample j of prompt i (every prompt with at least max(ns) samples); gold, when
 * given, the same shape. Example: bestOfN([[0, 2, 1]], [1, 3]) -> n 1 picks sample 0 (reward 0), n 3 sample 1 (2).
 */
export function bestOfN(rewards: readonly (readonly number[])[], ns: readonly number[], gold?: readonly (readonly number[])[]): BonPoint[] {
  const maxN = Math.max(...ns);
  if (rewards.length === 0) throw new RewardError('best-of-n needs at least one prompt; the prompts file gave none');
  rewards.forEach((row, i) => {
    if (row.length < maxN) throw new RewardError(`best-of-n: prompt ${i} has ${row.length} samples, fewer than n = ${maxN}`);
    const j = row.findIndex((x) => !Number.isFinite(x));
    if (j >= 0) throw new RewardError(`best-of-n: the reward of prompt ${i}, sample ${j} is ${row[j]}; expected a finite number`);
    if (gold && (gold[i]?.length ?? 0) < maxN) throw new RewardError(`best-of-n: prompt ${i} has ${gold[i]?.length ?? 0} gold scores, fewer than n = ${maxN}`);
  });
  if (gold && gold.length !== rewards.length) throw new RewardError(`best-of-n: gold scores for ${gold.length} prompts, rewards for ${rewards.length}`);
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  return ns.map((n) => {
    const chosen = rewards.map((row) => argmaxFirst(row, n));
    return {
      n,
      count: rewards.length,
      reward_mean: mean(chosen.map((j, i) => rewards[i][j])),
      gold_mean: gold ? mean(chosen.map((j, i) => gold[i][j])) : null,
      gold_count: gold ? rewards.length : 0,
      kl_bon: Math.log(n) - (n - 1) / n,
      chosen,
    };
  });
}
