/**
 * Number formatting and plain-language sentences shared by comparison.md and report.html.
 * Does NOT produce markup: callers escape/wrap the strings.
 */
import type { ComparisonSummary, Interval, MarginSummary } from '../compare/summary';
import type { ProbeSetStats } from '../compare/probe-stats';

export type RewardKey = 'explicit' | 'implicit' | 'judge';

/** One reward of the report: its key (colour, JSON field), how it is named, and its numbers. */
export interface ReportReward {
  key: RewardKey;
  /** "explicit", "implicit", "judge". */
  name: string;
  /** "explicit (reward model)", "implicit (DPO)", "judge (generative)". */
  label: string;
  summary: MarginSummary;
}

/** The rewards the summary holds, in report order: explicit, implicit, and the judge when one was asked. */
export function reportRewards(s: ComparisonSummary): ReportReward[] {
  return [
    { key: 'explicit' as const, name: 'explicit', label: 'explicit (reward model)', summary: s.explicit as MarginSummary },
    { key: 'implicit' as const, name: 'implicit', label: 'implicit (DPO)', summary: s.implicit as MarginSummary },
    ...(s.judge ? [{ key: 'judge' as const, name: 'judge', label: 'judge (generative)', summary: s.judge as MarginSummary }] : []),
  ];
}

/** "71.3%", or "n/a" for NaN/undefined. */
export function pct(v: number | null | undefined, digits = 1): string {
  return v === null || v === undefined || !Number.isFinite(v) ? 'n/a' : `${(v * 100).toFixed(digits)}%`;
}

/** Fixed digits, "n/a" for NaN: num(0.12345) -> "0.123". */
export function num(v: number | null | undefined, digits = 3): string {
  return v === null || v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(digits);
}

/** "[61.0%, 74.2%]" or "[0.512, 0.733]"; empty when the interval is undefined. */
export function ci(c: Interval | null | undefined, asPct = false): string {
  if (!c || !Number.isFinite(c[0]) || !Number.isFinite(c[1])) return '';
  return asPct ? `[${pct(c[0])}, ${pct(c[1])}]` : `[${num(c[0])}, ${num(c[1])}]`;
}

/** Words for a correlation's strength (|r| thresholds 0.1 / 0.3 / 0.5 / 0.7). */
export function strength(v: number): string {
  const a = Math.abs(v);
  if (!Number.isFinite(a)) return 'undefined';
  const s = a < 0.1 ? 'no' : a < 0.3 ? 'a weak' : a < 0.5 ? 'a moderate' : a < 0.7 ? 'a strong' : 'a very strong';
  return a < 0.1 ? 'no' : `${s} ${v > 0 ? 'positive' : 'negative'}`;
}

/** The headline verdict: which reward is right more often, and whether the data can tell. */
export function verdict(s: ComparisonSummary): string {
  const h = s.head_to_head;
  const [e, i] = [pct(s.explicit.accuracy), pct(s.implicit.accuracy)];
  const counts = `Explicit alone is right on ${h.explicit_only} pairs, implicit alone on ${h.implicit_only}.`;
  if (h.better === 'neither') {
    const diffCi = ci(h.accuracy_difference_ci, true);
    return (
      `Explicit (${e}) and implicit (${i}) accuracy are not distinguishable on ${s.n_pairs} pairs` +
      (diffCi ? `: the 95% interval of their difference, ${diffCi}, contains 0. ` : '. ') +
      counts
    );
  }
  const name = h.better === 'explicit' ? 'The explicit reward model' : "DPO's implicit reward";
  return `${name} is right more often against the ground truth (${h.better === 'explicit' ? e : i} vs ${h.better === 'explicit' ? i : e}; difference interval ${ci(h.accuracy_difference_ci, true)}). ${counts}`;
}

/** One sentence on how the two margins relate. */
export function correlationSentence(s: ComparisonSummary): string {
  const c = s.correlation;
  return (
    `The two rewards agree on ${pct(s.agreement)} of pairs. Their margins show ${strength(c.spearman)} rank correlation ` +
    `(Spearman ${num(c.spearman)} ${ci(c.spearman_ci)}, Kendall tau-b ${num(c.kendall)}, Pearson ${num(c.pearson)}).`
  );
}

/** One sentence on length bias of one reward. */
export function lengthSentence(name: string, lb: ComparisonSummary['explicit']['length_bias']): string {
  const gap = lb.longer_chosen.rate - lb.longer_rejected.rate;
  const biased = Number.isFinite(gap) && lb.longer_chosen.ci[0] > lb.longer_rejected.ci[1];
  return (
    `${name}: margin vs length difference Spearman ${num(lb.spearman)}; accuracy ${pct(lb.longer_chosen.rate)} when the better answer is longer, ` +
    `${pct(lb.longer_rejected.rate)} when it is shorter` +
    (biased ? ' (a clear preference for length).' : Number.isFinite(gap) ? ' (no clear length preference at this sample size).' : '.')
  );
}

/** One sentence on calibration. */
export function calibrationSentence(s: ComparisonSummary): string {
  const side = (name: string, c: ComparisonSummary['explicit']['calibration']) => {
    // Over-confident when, above 0.5, the observed rate sits below the predicted one on average.
    let over = 0;
    let w = 0;
    for (const b of c.bins)
      if (b.n > 0 && b.lo >= 0.5) {
        over += b.n * (b.mean_predicted - b.observed);
        w += b.n;
      }
    const d = w ? over / w : NaN;
    const how = !Number.isFinite(d) ? '' : Math.abs(d) < 0.03 ? 'well calibrated' : d > 0 ? 'over-confident' : 'under-confident';
    return `${name} ECE ${num(c.ece)}${how ? ` (${how})` : ''}`;
  };
  const judge = s.judge ? `; ${side('judge', s.judge.calibration)} (its margin is a log-odds, so sigmoid(margin) is the probability it states)` : '';
  return `Read sigmoid(margin) as the Bradley-Terry probability that a response is better: ${side('explicit', s.explicit.calibration)}; ${side('implicit', s.implicit.calibration)}${judge}. Points on the diagonal mean the probabilities can be taken at face value.`;
}

/** What the probe rates mean: said once wherever they are shown. */
export const PROBE_READING =
  'Each probe pair differs in one attribute only; the rate is how often a reward prefers the side carrying the attribute\'s first value, ' +
  'with a 95% Wilson interval and an exact binomial test against 50%. A rate near 50% (p >= 0.05) is a finding, indifference, not a failure: ' +
  'for viewpoint and name sets it is what an even-handed reward should show; for style sets it says the reward does not care. ' +
  'Swap consistency (where a question is asked in both orders) is the share of questions where the same value wins in both orders; a reward that follows the position flips.';

/** One line per probe set: each reward's finding (probe-stats.ts), e.g. "viewpoint (cats vs dogs): explicit indifferent (52% cats, ...)". */
export function probeSentences(s: ComparisonSummary): string[] {
  return s.probe_sets.map((p) => `${probeSetLabel(p)}: ${p.rewards.map((r) => `${r.reward} ${r.finding}`).join('; ')}.`);
}

/** "viewpoint (side: first vs second)", or just the name for older sets without attribute values. */
export function probeSetLabel(p: ProbeSetStats): string {
  const older = p.values[0] === 'a' && p.values[1] === 'b' && p.attribute === p.probe;
  return older ? `${p.probe} (a vs b)` : `${p.probe} (${p.attribute}: ${p.values[0]} vs ${p.values[1]})`;
}

/** One sentence on the judge's position bias and what averaging both orders did about it. */
export function positionBiasSentence(s: ComparisonSummary): string {
  if (!s.judge) return '';
  const pb = s.judge.position_bias;
  return (
    `The judge was asked about every pair in both orders; on ${pct(pb.rate)} ${ci(pb.rate_ci, true)} of ${pb.n} pairs it named the same label both times ` +
    `(its verdict followed the position, not the answer), with an average lean of ${num(pb.label_a_logodds, 2)} log-odds towards the first label. ` +
    `Its score averages the two orders, which cancels a constant lean.`
  );
}

/** One sentence on the three rewards together (with a judge). */
export function threeWaySentence(s: ComparisonSummary): string {
  const t = s.three_way;
  if (!t || !s.judge) return '';
  const pairs = (s.reward_pairs ?? []).map((r) => `${r.rewards[0]}–${r.rewards[1]} ${pct(r.agreement)}`).join(', ');
  return (
    `All three rewards prefer the same response on ${pct(t.all_agree_rate)} ${ci(t.all_agree_ci, true)} of pairs (two at a time: ${pairs}). ` +
    `The judge's accuracy is ${pct(s.judge.accuracy)} ${ci(s.judge.accuracy_ci, true)}; a majority vote of the three gets ${pct(t.majority_accuracy)}.`
  );
}

