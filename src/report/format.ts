/**
 * Number formatting and plain-language sentences shared by comparison.md and report.html.
 * Does NOT produce markup: callers escape/wrap the strings.
 */
import type { ComparisonSummary, Interval } from '../compare/summary';

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
  return `Read sigmoid(margin) as the Bradley-Terry probability that a response is better: ${side('explicit', s.explicit.calibration)}; ${side('implicit', s.implicit.calibration)}. Points on the diagonal mean the probabilities can be taken at face value.`;
}

/** One sentence per probe group where a reward clearly prefers one side. */
export function probeSentences(s: ComparisonSummary): string[] {
  return s.probes.map((g) => {
    const side = (name: string, r: ComparisonSummary['probes'][0]['explicit']) => {
      const [lo, hi] = r.prefers_a.ci;
      const lean = lo > 0.5 ? 'prefers a' : hi < 0.5 ? 'prefers b' : 'shows no clear preference';
      return `${name} ${lean} (${pct(r.prefers_a.rate)} a)`;
    };
    return `${g.probe}: ${side('explicit', g.explicit)}, ${side('implicit', g.implicit)}; they agree on ${pct(g.agreement)} of ${g.n}.`;
  });
}
