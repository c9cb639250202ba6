/**
 * The comparison's analyses built on ./stats: calibration, length bias, per-subset table,
 * top disagreements and probe preference rates.
 * Works on plain arrays of margins (score(chosen) - score(rejected)); does NOT compute intervals by
 * bootstrap (summary.ts does that, so that all statistics share one set of resamples) except the
 * Wilson intervals of simple proportions.
 */
import { agreement, mean, sd, sigmoid, spearman, wilson } from './stats';
import { judgeMargin, type ScoredPair, type ScoredProbe } from './types';

/** One calibration bucket: predicted probabilities in [lo, hi). */
export interface CalibrationBin {
  lo: number;
  hi: number;
  /** Points in the bucket (each pair contributes two points, see calibration()). */
  n: number;
  /** Mean predicted probability in the bucket (NaN when empty). */
  mean_predicted: number;
  /** Observed fraction of points whose response really was the better one (NaN when empty). */
  observed: number;
}

export interface Calibration {
  bins: CalibrationBin[];
  /** Expected calibration error: sum over buckets of (n_b / N) * |mean_predicted_b - observed_b|. */
  ece: number;
}

/**
 * Reliability of sigmoid(margin) read as P(chosen is better) (the Bradley-Terry probability).
 * Each pair gives two points, (sigmoid(m), y) and (sigmoid(-m), 1 - y), y = 1 when chosen is truly
 * better: the same pair seen in both presentation orders. Without this, data whose better answer is
 * always "chosen" would have an observed rate of 1 in every bucket; with it the diagram spans [0, 1]
 * and the ECE equals the usual confidence-vs-accuracy ECE of the preference.
 * Example: margins [0], y [1] -> both points at 0.5 in bucket [0.5, 0.6), observed 0.5, ece 0.
 */
export function calibration(margins: ArrayLike<number>, chosenBetter: ArrayLike<boolean>, bins = 10): Calibration {
  const n = new Array<number>(bins).fill(0);
  const sumP = new Array<number>(bins).fill(0);
  const sumY = new Array<number>(bins).fill(0);
  const add = (p: number, y: number) => {
    const b = Math.min(bins - 1, Math.floor(p * bins));
    n[b]++;
    sumP[b] += p;
    sumY[b] += y;
  };
  for (let i = 0; i < margins.length; i++) {
    const p = sigmoid(margins[i]);
    const y = chosenBetter[i] ? 1 : 0;
    add(p, y);
    add(1 - p, 1 - y);
  }
  const total = 2 * margins.length;
  let ece = 0;
  const out: CalibrationBin[] = [];
  for (let b = 0; b < bins; b++) {
    const meanP = n[b] ? sumP[b] / n[b] : NaN;
    const obs = n[b] ? sumY[b] / n[b] : NaN;
    if (n[b]) ece += (n[b] / total) * Math.abs(meanP - obs);
    out.push({ lo: b / bins, hi: (b + 1) / bins, n: n[b], mean_predicted: meanP, observed: obs });
  }
  return { bins: out, ece: total ? ece : NaN };
}

/** A proportion with its Wilson interval. */
export interface Rate {
  rate: number;
  ci: [number, number];
  n: number;
}

function rate(successes: number, n: number, level: number): Rate {
  const w = wilson(successes, n, level);
  return { rate: w.rate, ci: [w.lo, w.hi], n };
}

export interface LengthBias {
  /** Spearman of the margin (chosen - rejected) with the length difference (chars, chosen - rejected). */
  spearman: number;
  /** Accuracy on pairs where the truly better response is the longer one (Wilson interval). */
  longer_chosen: Rate;
  /** Accuracy on pairs where the truly better response is the shorter one (Wilson interval). */
  longer_rejected: Rate;
  /** Pairs whose two responses have the same length (in neither group). */
  n_equal_length: number;
}

/**
 * Length bias of one reward. `margins` are chosen - rejected; `better` says per pair whether
 * chosen is truly better; `lengths` are characters.
 * Example: a reward that simply scores length has accuracy 1 on longer_chosen and 0 on longer_rejected.
 */
export function lengthBias(
  margins: ArrayLike<number>,
  lengthDiff: ArrayLike<number>,
  chosenBetter: ArrayLike<boolean>,
  level = 0.95,
): LengthBias {
  let nL = 0;
  let kL = 0;
  let nS = 0;
  let kS = 0;
  let nEq = 0;
  for (let i = 0; i < margins.length; i++) {
    const sign = chosenBetter[i] ? 1 : -1; // orient to "truly better minus worse"
    const betterLonger = sign * lengthDiff[i];
    const right = sign * margins[i] > 0;
    if (betterLonger > 0) {
      nL++;
      if (right) kL++;
    } else if (betterLonger < 0) {
      nS++;
      if (right) kS++;
    } else nEq++;
  }
  return {
    spearman: spearman(margins, lengthDiff),
    longer_chosen: rate(kL, nL, level),
    longer_rejected: rate(kS, nS, level),
    n_equal_length: nEq,
  };
}

/** One row of the per-subset table. */
export interface SubsetRow {
  subset: string;
  n: number;
  explicit_accuracy: Rate;
  explicit_ties: number;
  implicit_accuracy: Rate;
  implicit_ties: number;
  /** Fraction of the subset's pairs where both rewards prefer the same response. */
  agreement: number;
  /** Spearman of the two margins within the subset (NaN when undefined). */
  spearman: number;
  /** The generative judge's accuracy and ties (present when pairs were judged). */
  judge_accuracy?: Rate;
  judge_ties?: number;
}

/** The label pairs without a subset get in the per-subset table. */
export const NO_SUBSET = '(all)';

/**
 * Per-subset accuracies (Wilson intervals), agreement and margin correlation, in first-seen order.
 * `explicitM` / `implicitM` are chosen - rejected, `chosenBetter` the ground truth.
 */
export function subsetTable(
  subsets: ArrayLike<string | undefined>,
  explicitM: ArrayLike<number>,
  implicitM: ArrayLike<number>,
  chosenBetter: ArrayLike<boolean>,
  level = 0.95,
  judgeM?: ArrayLike<number>,
): SubsetRow[] {
  const groups = new Map<string, number[]>();
  for (let i = 0; i < subsets.length; i++) {
    const key = subsets[i] ?? NO_SUBSET;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(i);
  }
  return [...groups].map(([subset, idx]) => {
    const e = idx.map((i) => explicitM[i]);
    const m = idx.map((i) => implicitM[i]);
    const oe = idx.map((i, k) => (chosenBetter[i] ? e[k] : -e[k]));
    const om = idx.map((i, k) => (chosenBetter[i] ? m[k] : -m[k]));
    return {
      subset,
      n: idx.length,
      explicit_accuracy: rate(oe.filter((v) => v > 0).length, idx.length, level),
      explicit_ties: oe.filter((v) => v === 0).length,
      implicit_accuracy: rate(om.filter((v) => v > 0).length, idx.length, level),
      implicit_ties: om.filter((v) => v === 0).length,
      agreement: agreement(e, m),
      spearman: idx.length >= 3 ? spearman(e, m) : NaN,
      ...(judgeM ? judgeColumns(idx.map((i) => (chosenBetter[i] ? judgeM[i] : -judgeM[i])), level) : {}),
    };
  });
}

function judgeColumns(oriented: number[], level: number): Pick<SubsetRow, 'judge_accuracy' | 'judge_ties'> {
  return { judge_accuracy: rate(oriented.filter((v) => v > 0).length, oriented.length, level), judge_ties: oriented.filter((v) => v === 0).length };
}

/** A pair where the two rewards disagree, with its text. */
export interface Disagreement {
  id: string;
  subset: string | null;
  source: string;
  prompt: string;
  chosen: string;
  rejected: string;
  /** Which response is truly better. */
  ground_truth: 'chosen' | 'rejected';
  explicit_margin: number;
  implicit_margin: number;
  /** Margins standardised over all pairs: (m - mean) / sd. */
  explicit_z: number;
  implicit_z: number;
  /** |explicit_z - implicit_z| (with a judge: the largest z minus the smallest of the three), the ranking key. */
  gap: number;
  explicit_prefers: 'chosen' | 'rejected' | 'tie';
  implicit_prefers: 'chosen' | 'rejected' | 'tie';
  /** The generative judge's margin, its z and its preference (present when pairs were judged). */
  judge_margin?: number;
  judge_z?: number;
  judge_prefers?: 'chosen' | 'rejected' | 'tie';
}

const prefers = (m: number): 'chosen' | 'rejected' | 'tie' => (m > 0 ? 'chosen' : m < 0 ? 'rejected' : 'tie');

/**
 * The k pairs where the rewards prefer different responses (a tie counts as its own preference),
 * ranked by the gap between their standardised margins, largest first; ties in the gap keep input order.
 * With the judge's margins too: the pairs where the three do not all prefer the same response, ranked by the
 * largest standardised margin minus the smallest.
 */
export function topDisagreements(pairs: ScoredPair[], explicitM: number[], implicitM: number[], k: number, judgeM?: number[]): Disagreement[] {
  // A constant margin has no spread: standardise it to 0 rather than dividing by 0.
  const standardise = (ms: number[]) => {
    const [m, s] = [mean(ms), sd(ms)];
    return (v: number) => (s > 0 ? (v - m) / s : 0);
  };
  const [ze, zi] = [standardise(explicitM), standardise(implicitM)];
  const zj = judgeM ? standardise(judgeM) : null;
  const rows: Disagreement[] = [];
  pairs.forEach((p, i) => {
    const [pe, pi] = [prefers(explicitM[i]), prefers(implicitM[i])];
    const pj = judgeM ? prefers(judgeM[i]) : pe;
    if (pe === pi && pj === pe) return;
    const [ez, iz] = [ze(explicitM[i]), zi(implicitM[i])];
    const zs = zj ? [ez, iz, zj(judgeM![i])] : [ez, iz];
    rows.push({
      id: p.id,
      subset: p.subset ?? null,
      source: p.source,
      prompt: p.prompt,
      chosen: p.chosen,
      rejected: p.rejected,
      ground_truth: p.groundTruth ?? 'chosen',
      explicit_margin: explicitM[i],
      implicit_margin: implicitM[i],
      explicit_z: ez,
      implicit_z: iz,
      gap: Math.max(...zs) - Math.min(...zs),
      explicit_prefers: pe,
      implicit_prefers: pi,
      ...(judgeM ? { judge_margin: judgeM[i], judge_z: zs[2], judge_prefers: pj } : {}),
    });
  });
  return rows.sort((a, b) => b.gap - a.gap).slice(0, k);
}

/** One reward's preferences on one probe group. */
export interface ProbeRate {
  /** Fraction of probe pairs where the reward scores a above b (ties are not "a"), Wilson interval. */
  prefers_a: Rate;
  ties: number;
  /** Mean of score(a) - score(b). */
  mean_margin: number;
}

export interface ProbeGroup {
  probe: string;
  n: number;
  explicit: ProbeRate;
  implicit: ProbeRate;
  /** The generative judge (order-averaged margin), when probes were judged. */
  judge?: ProbeRate;
  /** Fraction of the group's probe pairs where both rewards prefer the same response. */
  agreement: number;
}

/** Preference rates per probe group, in first-seen order. */
export function probeRates(probes: ScoredProbe[], level = 0.95): ProbeGroup[] {
  const groups = new Map<string, ScoredProbe[]>();
  for (const p of probes) {
    if (!groups.has(p.probe)) groups.set(p.probe, []);
    groups.get(p.probe)!.push(p);
  }
  const one = (ms: number[]): ProbeRate => ({
    prefers_a: rate(ms.filter((m) => m > 0).length, ms.length, level),
    ties: ms.filter((m) => m === 0).length,
    mean_margin: mean(ms),
  });
  return [...groups].map(([probe, ps]) => {
    const e = ps.map((p) => p.explicit.a - p.explicit.b);
    const m = ps.map((p) => p.implicit.a - p.implicit.b);
    const judged = ps.every((p) => p.judge) ? { judge: one(ps.map((p) => judgeMargin(p.judge!))) } : {};
    return { probe, n: ps.length, explicit: one(e), implicit: one(m), ...judged, agreement: agreement(e, m) };
  });
}
