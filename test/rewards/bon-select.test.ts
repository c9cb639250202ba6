/**
 * Best-of-n selection against brute force: for random reward tables (with ties), every n's picks and means equal
 * an independent search over all first-n samples; picks nest, the n = 1 pick is sample 0, and bad input is one line.
 */
import { bestOfN, parseNs } from '../../src/rewards/bon-select';
import { RewardError } from '../../src/rewards';

/** A small seeded generator (not the project's: the test must not share code with what it checks). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** Brute force: for each prompt, the set of indices < n with the maximum; the first of them. */
function brute(rewards: number[][], n: number): number[] {
  return rewards.map((row) => {
    const first = row.slice(0, n);
    const max = Math.max(...first);
    return first.indexOf(max);
  });
}

test('random tables with ties: picks and means equal brute force for every n', () => {
  const rnd = lcg(7);
  for (let trial = 0; trial < 50; trial++) {
    const P = 1 + Math.floor(rnd() * 6);
    const N = 1 + Math.floor(rnd() * 17);
    const rewards = Array.from({ length: P }, () => Array.from({ length: N }, () => Math.floor(rnd() * 5) - 2)); // few values: many ties
    const gold = rewards.map((row) => row.map(() => rnd()));
    const ns = [...new Set([1, N, 1 + Math.floor(rnd() * N)])].sort((a, b) => a - b);
    const got = bestOfN(rewards, ns, gold);
    expect(got.map((g) => g.n)).toEqual(ns);
    for (const g of got) {
      const picks = brute(rewards, g.n);
      expect(g.chosen).toEqual(picks);
      expect(g.reward_mean).toBeCloseTo(picks.reduce((s, j, i) => s + rewards[i][j], 0) / P, 12);
      expect(g.gold_mean!).toBeCloseTo(picks.reduce((s, j, i) => s + gold[i][j], 0) / P, 12);
      expect([g.count, g.gold_count]).toEqual([P, P]);
      expect(g.kl_bon).toBeCloseTo(Math.log(g.n) - (g.n - 1) / g.n, 14);
    }
    expect(got[0].n).toBe(1);
    expect(got[0].chosen.every((j) => j === 0)).toBe(true);
    for (let k = 1; k < got.length; k++) expect(got[k].reward_mean).toBeGreaterThanOrEqual(got[k - 1].reward_mean);
  }
});

test('a worked example; no gold -> gold_mean null, gold_count 0', () => {
  const r = bestOfN([[0, 2, 1, 5], [3, 3, 1, 0]], [1, 2, 4]);
  expect(r.map((x) => [x.n, x.chosen, x.reward_mean, x.gold_mean, x.gold_count])).toEqual([
    [1, [0, 0], 1.5, null, 0],
    [2, [1, 0], 2.5, null, 0],
    [4, [3, 0], 4, null, 0],
  ]);
  expect(r[0].kl_bon).toBe(0);
});

test('parseNs: sorted unique integers >= 1, else one line', () => {
  expect(parseNs('16, 1,4,4')).toEqual([1, 4, 16]);
  expect(parseNs([2])).toEqual([2]);
  for (const bad of ['0', '1,-2', '1.5', 'a', '', '1,,2']) expect(() => parseNs(bad)).toThrow(RewardError);
  expect(() => parseNs('4,0')).toThrow('--n 4,0: "0" is not an integer >= 1; write the sample counts as a list, e.g. --n 1,4,16');
  expect(() => parseNs([])).toThrow('expected an integer >= 1');
});

test('bad tables: no prompts, too few samples, a non-finite reward, gold of another shape', () => {
  expect(() => bestOfN([], [1])).toThrow('at least one prompt');
  expect(() => bestOfN([[1, 2], [1]], [2])).toThrow('prompt 1 has 1 samples, fewer than n = 2');
  expect(() => bestOfN([[1, NaN]], [2])).toThrow('prompt 0, sample 1 is NaN');
  expect(() => bestOfN([[1, 2]], [2], [[1]])).toThrow('prompt 0 has 1 gold scores');
  expect(() => bestOfN([[1, 2]], [2], [[1, 2], [3, 4]])).toThrow('gold scores for 2 prompts, rewards for 1');
});
