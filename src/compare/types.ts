/**
 * Input contract of the comparison: per-pair and per-probe numbers, as the scorer produces them.
 * Everything in src/compare works from these plain numbers; it does NOT run models or touch tensors
 * (scoring the pairs is src/compare's caller's job).
 */

/** Pairs per forward pass when scoring, unless told otherwise (rlhf compare, rlhf score, the recipe's compare.batch_size). */
export const SCORING_BATCH_SIZE = 16;

/** Two numbers, one per response of a preference pair. */
export interface PairValues {
  chosen: number;
  rejected: number;
}

/** Two numbers, one per response of a probe pair. */
export interface ProbeValues {
  a: number;
  b: number;
}

/**
 * A pairwise judge's verdicts on one pair (rewards/judge.ts): log P(label_a) − log P(label_b) with the first response
 * (chosen, or a probe's a) shown as answer a (`ab`), and with the order swapped (`ba`). Its margin for the first
 * response is ½ (ab − ba).
 */
export interface JudgeValues {
  ab: number;
  ba: number;
}

/** The judge's order-averaged margin for the first response: ½ (ab − ba). */
export const judgeMargin = (j: JudgeValues): number => (j.ab - j.ba) / 2;

/** One held-out preference pair with every score the comparison needs. */
export interface ScoredPair {
  /** Stable id (the data record's id). */
  id: string;
  /** Subset / category label; pairs without one are grouped as "(all)" in the per-subset table. */
  subset?: string;
  /** Where the pair came from: `file:line`. */
  source: string;
  /** Texts, only for display (top disagreements). Chat lists should be rendered to text first. */
  prompt: string;
  chosen: string;
  rejected: string;
  /** Reward model scores r(x, y). */
  explicit: PairValues;
  /** DPO implicit rewards beta * (log pi_theta(y|x) - log pi_ref(y|x)), log-probs summed over completion tokens. */
  implicit: PairValues;
  /** Summed completion log-probs under the policy (the reference-free "sum" variant, RewardBench). */
  policyLogps: PairValues;
  /** Summed completion log-probs under the reference. */
  referenceLogps: PairValues;
  /** Completion token counts (the reference-free "mean" variant divides policyLogps by these). */
  tokenCounts: PairValues;
  /** Completion lengths in characters. */
  lengths: PairValues;
  /** Which response is truly better, when the data says so. Default: 'chosen'. */
  groundTruth?: 'chosen' | 'rejected';
  /** The generative judge's verdicts, chosen shown first in `ab`; absent when no judge was asked. */
  judge?: JudgeValues;
}

/**
 * What a counterfactual probe line says about its attribute (probe sets built from templates,
 * `rlhf probe build`): the attribute's two values, first value first, and which one each side carries.
 * Older probe sets ({probe, prompt, a, b}) have none; their implicit values are "a" and "b".
 */
export interface ProbeAttribute {
  name: string;
  values: [string, string];
  a_value: string;
  b_value: string;
  /** Question id; pairs that show one question in both a/b orders share it (swap consistency). */
  group: string;
}

/** One probe pair: two responses that differ in one attribute (e.g. polite vs curt). */
export interface ScoredProbe {
  /** Probe group name, e.g. "politeness". */
  probe: string;
  prompt: string;
  a: string;
  b: string;
  explicit: ProbeValues;
  implicit: ProbeValues;
  /** Optional `file:line` for error messages. */
  source?: string;
  /** The attribute the two sides differ in, when the probe line says (template-built sets). */
  attribute?: ProbeAttribute;
  /** The generative judge's verdicts, a shown first in `ab`; absent when no judge was asked. */
  judge?: JudgeValues;
}

/** A run's metrics log: one JSON object per line with TRL metric names (loss, eval_loss, rewards/accuracies, ...). */
export interface MetricsLog {
  /** Run name shown in the legend (e.g. "dpo", "reward"). */
  name: string;
  /** Rows as logged; `step` (else `global_step`, else the row's position) is the x axis. */
  rows: Array<Record<string, unknown>>;
}

/** Raised for inputs a person must fix; the CLI prints the message as one line. */
export class ComparisonInputError extends Error {
  override name = 'ComparisonInputError';
}
