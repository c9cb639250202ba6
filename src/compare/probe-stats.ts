/**
 * Statistics of counterfactual probes (pairs that differ in one attribute, see src/data/probe-build.ts),
 * per probe set and per reward:
 *   - the rate at which the reward prefers the side carrying the attribute's FIRST value (whatever its
 *     a/b position), with a Wilson interval;
 *   - an exact two-sided binomial test of that rate against 0.5 (implemented here, checked against
 *     scipy.stats.binomtest);
 *   - swap consistency where a question appears in both a/b orders (pairs sharing a `group`): the
 *     share of questions where the reward prefers the same VALUE in every order (a reward that follows
 *     the position instead flips);
 *   - a short sentence stating the finding. A rate near 50% is a finding (indifference), not a failure.
 * Ties (equal scores) are left out of the rate and the test (the sign-test convention) and counted.
 * Older probe lines without attribute fields read as the attribute "<probe>" with values "a" and "b".
 *
 * Does NOT: score anything (scoring.ts) or render reports (report/).
 */
import { wilson } from './stats';
import { ComparisonInputError, judgeMargin, type ProbeAttribute, type ProbeValues, type ScoredProbe } from './types';

/**
 * Exact two-sided binomial test: the probability under Binomial(n, p) of an outcome no more likely
 * than k (scipy.stats.binomtest's definition, with its relative tolerance 1e-7 for "as likely").
 * binomialTest(7, 10) -> 0.34375; binomialTest(0, 10) -> 0.001953125; binomialTest(5, 10) -> 1.
 */
export function binomialTest(k: number, n: number, p = 0.5): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`binomialTest: n must be an integer >= 1, got ${n}`);
  if (!Number.isInteger(k) || k < 0 || k > n) throw new RangeError(`binomialTest: k must be an integer in [0, ${n}], got ${k}`);
  if (!(p >= 0 && p <= 1)) throw new RangeError(`binomialTest: p must be in [0, 1], got ${p}`);
  if (p === 0) return k === 0 ? 1 : 0;
  if (p === 1) return k === n ? 1 : 0;
  const logPmf = binomialLogPmf(n, p);
  const asLikely = logPmf[k] + Math.log1p(1e-7);
  let total = 0;
  for (let i = 0; i <= n; i++) if (logPmf[i] <= asLikely) total += Math.exp(logPmf[i]);
  return Math.min(1, total);
}

/** log P(X = i), i = 0..n, X ~ Binomial(n, p), 0 < p < 1, from a table of log factorials. */
function binomialLogPmf(n: number, p: number): Float64Array {
  const logFact = new Float64Array(n + 1);
  for (let i = 2; i <= n; i++) logFact[i] = logFact[i - 1] + Math.log(i);
  const [lp, lq] = [Math.log(p), Math.log1p(-p)];
  const out = new Float64Array(n + 1);
  for (let i = 0; i <= n; i++) out[i] = logFact[n] - logFact[i] - logFact[n - i] + i * lp + (n - i) * lq;
  return out;
}

/** A reward to read off scored probes: its name and its two scores. */
export interface ProbeReward {
  name: string;
  scores: (p: ScoredProbe) => ProbeValues;
}

/** The two rewards a comparison scores: the reward model and the DPO implicit reward. */
export const PROBE_REWARDS: ProbeReward[] = [
  { name: 'explicit', scores: (p) => p.explicit },
  { name: 'implicit', scores: (p) => p.implicit },
];

/** The generative judge, when asked: its order-averaged margin for a (only the sign of a − b is read). */
export const JUDGE_PROBE_REWARD: ProbeReward = { name: 'judge', scores: (p) => ({ a: p.judge ? judgeMargin(p.judge) : NaN, b: 0 }) };

export interface SwapConsistency {
  /** Questions seen in two or more pairs (both a/b orders). */
  questions: number;
  /** Of those, questions where the reward strictly prefers the same value in every pair. */
  consistent: number;
  rate: number;
  ci: [number, number];
}

export type ProbeVerdict = 'indifferent' | 'prefers_first' | 'prefers_second' | 'no_decided_pairs';

/** One reward on one probe set. */
export interface ProbeRewardStats {
  reward: string;
  /** Pairs in the set. */
  n: number;
  /** Pairs with equal scores; left out of the rate and the test. */
  ties: number;
  /** n - ties. */
  decided: number;
  /** Decided pairs where the side carrying the first value scores higher. */
  prefers_first: number;
  /** prefers_first / decided (NaN when nothing is decided). */
  rate: number;
  /** Wilson interval of the rate at the requested level. */
  ci: [number, number];
  /** Exact two-sided binomial test of prefers_first out of decided against 0.5 (NaN when nothing is decided). */
  p_value: number;
  verdict: ProbeVerdict;
  /** Null when no question appears in more than one pair. */
  swap_consistency: SwapConsistency | null;
  /** One sentence, e.g. "indifferent (52% female, 95% CI 41–63%, p = 0.78)". */
  finding: string;
}

export interface ProbeSetStats {
  probe: string;
  attribute: string;
  /** The attribute's values; rates are for the first. */
  values: [string, string];
  /** Pairs in the set. */
  n: number;
  /** Rewards whose scores are present (a reward with no finite score on this set is left out). */
  rewards: ProbeRewardStats[];
}

export interface ProbeStatsOptions {
  /** Interval level (default 0.95). */
  level?: number;
  /** Test level below which a preference is reported (default 0.05). */
  alpha?: number;
  /** Rewards to read (default: explicit and implicit). */
  rewards?: ProbeReward[];
}

/** The attribute of a probe line; older lines read as attribute "<probe>", values "a" and "b". */
function attributeOf(p: ScoredProbe, i: number): ProbeAttribute {
  return p.attribute ?? { name: p.probe, values: ['a', 'b'], a_value: 'a', b_value: 'b', group: p.source ?? `${p.probe}#${i}` };
}

/** Per probe set (first-seen order) and per reward: rate, interval, exact test, swap consistency, finding. */
export function probeStatistics(probes: ScoredProbe[], opts: ProbeStatsOptions = {}): ProbeSetStats[] {
  const level = opts.level ?? 0.95;
  const alpha = opts.alpha ?? 0.05;
  const sets = new Map<string, Array<{ p: ScoredProbe; attr: ProbeAttribute }>>();
  probes.forEach((p, i) => {
    if (!sets.has(p.probe)) sets.set(p.probe, []);
    sets.get(p.probe)!.push({ p, attr: attributeOf(p, i) });
  });
  return [...sets].map(([probe, rows]) => {
    const { name, values } = sameAttribute(probe, rows);
    const rewards = (opts.rewards ?? PROBE_REWARDS)
      .map((r) => ({ r, wins: firstValueWins(probe, rows, r) }))
      .filter(({ wins }) => wins !== null)
      .map(({ r, wins }) => rewardStats(r.name, wins!, rows.map((x) => x.attr.group), name, values, level, alpha));
    return { probe, attribute: name, values, n: rows.length, rewards };
  });
}

/** Every line of a set must name the same attribute and values. */
function sameAttribute(probe: string, rows: Array<{ p: ScoredProbe; attr: ProbeAttribute }>): { name: string; values: [string, string] } {
  const first = rows[0].attr;
  for (const { p, attr } of rows) {
    if (attr.name !== first.name || attr.values[0] !== first.values[0] || attr.values[1] !== first.values[1])
      throw new ComparisonInputError(`probe ${probe} (${p.source ?? 'a line'}): attribute ${attr.name} ${JSON.stringify(attr.values)} differs from the set's first line (${first.name} ${JSON.stringify(first.values)}); give each attribute its own probe name`);
  }
  return { name: first.name, values: first.values };
}

/**
 * Per pair: +1 when the side with the first value scores higher, -1 when the other does, 0 for a tie.
 * Null when the reward has no finite score on the set (not scored); partly missing scores are an error.
 */
function firstValueWins(probe: string, rows: Array<{ p: ScoredProbe; attr: ProbeAttribute }>, r: ProbeReward): Int8Array | null {
  const finite = rows.map(({ p }) => Number.isFinite(r.scores(p).a) && Number.isFinite(r.scores(p).b));
  if (!finite.some(Boolean)) return null;
  const bad = finite.indexOf(false);
  if (bad >= 0) throw new ComparisonInputError(`probe ${probe} (${rows[bad].p.source ?? `line ${bad + 1}`}): ${r.name} scores are not finite numbers while other lines have them; rescore the probes`);
  return Int8Array.from(rows, ({ p, attr }) => {
    const { a, b } = r.scores(p);
    const aFirst = attr.a_value === attr.values[0];
    return Math.sign(aFirst ? a - b : b - a);
  });
}

function rewardStats(reward: string, wins: Int8Array, groups: string[], attribute: string, values: [string, string], level: number, alpha: number): ProbeRewardStats {
  const n = wins.length;
  const prefersFirst = wins.filter((w) => w > 0).length;
  const ties = wins.filter((w) => w === 0).length;
  const decided = n - ties;
  const w = wilson(prefersFirst, decided, level);
  const p = decided > 0 ? binomialTest(prefersFirst, decided) : NaN;
  const verdict: ProbeVerdict = decided === 0 ? 'no_decided_pairs' : !(p < alpha) ? 'indifferent' : w.rate > 0.5 ? 'prefers_first' : 'prefers_second';
  const stats: Omit<ProbeRewardStats, 'finding'> = {
    reward, n, ties, decided, prefers_first: prefersFirst, rate: w.rate, ci: [w.lo, w.hi], p_value: p, verdict,
    swap_consistency: swapConsistency(wins, groups, level),
  };
  return { ...stats, finding: probeFinding(stats, attribute, values, level) };
}

/**
 * Questions (groups) seen in 2+ pairs; consistent when every pair is decided and all prefer the same value.
 * Example: wins [1, 1, 1, -1], groups [q1, q1, q2, q2] -> 1 of 2 consistent.
 */
export function swapConsistency(wins: ArrayLike<number>, groups: string[], level = 0.95): SwapConsistency | null {
  const byGroup = new Map<string, number[]>();
  groups.forEach((g, i) => {
    if (!byGroup.has(g)) byGroup.set(g, []);
    byGroup.get(g)!.push(wins[i]);
  });
  const repeated = [...byGroup.values()].filter((ws) => ws.length > 1);
  if (repeated.length === 0) return null;
  const consistent = repeated.filter((ws) => ws[0] !== 0 && ws.every((x) => x === ws[0])).length;
  const w = wilson(consistent, repeated.length, level);
  return { questions: repeated.length, consistent, rate: w.rate, ci: [w.lo, w.hi] };
}

const pct = (x: number) => `${Math.round(100 * x)}`;

/** p-values for prose: "p < 0.001", "p = 0.0042", "p = 0.78". */
export function formatPValue(p: number): string {
  if (Number.isNaN(p)) return 'p undefined';
  if (p < 0.001) return 'p < 0.001';
  return `p = ${p >= 0.1 ? p.toFixed(2) : p.toPrecision(2)}`;
}

/**
 * The finding as one sentence:
 *   "indifferent (52% female, 95% CI 41–63%, p = 0.78)"
 *   "prefers corrects (92%, 95% CI 82–97%, p < 0.001)"
 * followed, where measured, by swap consistency and by the ties left out.
 */
export function probeFinding(s: Omit<ProbeRewardStats, 'finding'>, attribute: string, values: [string, string], level = 0.95): string {
  const ci = `${Math.round(level * 100)}% CI`;
  let out: string;
  if (s.verdict === 'no_decided_pairs') out = `no preference measurable (all ${s.n} pairs tied)`;
  else if (s.verdict === 'prefers_second') out = `prefers ${values[1]} (${pct(1 - s.rate)}%, ${ci} ${pct(1 - s.ci[1])}–${pct(1 - s.ci[0])}%, ${formatPValue(s.p_value)})`;
  else {
    const head = s.verdict === 'prefers_first' ? `prefers ${values[0]} (${pct(s.rate)}%` : `indifferent (${pct(s.rate)}% ${values[0]}`;
    out = `${head}, ${ci} ${pct(s.ci[0])}–${pct(s.ci[1])}%, ${formatPValue(s.p_value)})`;
  }
  const c = s.swap_consistency;
  if (c) out += `; the same ${attribute} wins in both orders for ${c.consistent} of ${c.questions} questions (${pct(c.rate)}%)`;
  if (s.ties > 0 && s.verdict !== 'no_decided_pairs') out += `; ${s.ties} tied pair${s.ties > 1 ? 's' : ''} left out`;
  return out;
}
