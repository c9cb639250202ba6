/**
 * What the generative judge (judge.ts) defines without a model, for modules that must stay light (the comparison's
 * statistics, the recipe schema): the default pairwise template, its placeholders and labels, and position bias.
 *   position-biased pair: sign d(x, y1, y2) = sign d(x, y2, y1) ≠ 0, where d = log P(label_a) − log P(label_b) with
 *     the first response shown as answer a: the judge picks the same LABEL in both orders, so its verdict followed
 *     the position, not the answer;
 *   label_a_logodds: mean of ½ [ d(x, y1, y2) + d(x, y2, y1) ], the average lean towards the first label.
 *
 * Does NOT: load models or read texts (judge.ts).
 */

/** The placeholders a judge template may use; {a} and {b} are required. */
export const JUDGE_PLACEHOLDERS = ['prompt', 'a', 'b', 'label_a', 'label_b'] as const;

/**
 * The pairwise prompt (the judge reads the token after its last word). {label_a}/{label_b} are the answer labels.
 * The last line is what the judge's reply starts with when a chat template applies.
 */
export const DEFAULT_JUDGE_TEMPLATE =
  'Which answer to the question is better?\n\nQuestion: {prompt}\n\nAnswer {label_a}: {a}\n\nAnswer {label_b}: {b}\n\nThe better answer is';

export const DEFAULT_JUDGE_LABELS: [string, string] = ['A', 'B'];

export interface PositionBias {
  /** Pairs with both orders decided (d ≠ 0 in each). */
  n: number;
  /** Of those, pairs where the judge picks the same label in both orders. */
  same_label: number;
  /** same_label / n (NaN when n is 0). */
  rate: number;
  /** Mean of ½ (ab + ba): the lean towards the first label, in log-odds. */
  label_a_logodds: number;
}

/** Position bias of verdicts in both orders (definitions in the module comment). */
export function positionBias(ab: ArrayLike<number>, ba: ArrayLike<number>): PositionBias {
  let n = 0;
  let same = 0;
  let lean = 0;
  for (let k = 0; k < ab.length; k++) {
    lean += (ab[k] + ba[k]) / 2;
    if (ab[k] === 0 || ba[k] === 0) continue;
    n++;
    if (Math.sign(ab[k]) === Math.sign(ba[k])) same++;
  }
  return { n, same_label: same, rate: n ? same / n : NaN, label_a_logodds: ab.length ? lean / ab.length : NaN };
}
