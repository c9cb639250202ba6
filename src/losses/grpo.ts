/**
 * The online losses on sampled completions, with TRL 1.13's formulas and metric names: GRPO's clipped
 * per-token objective with its four aggregations (grpo, dr_grpo, dapo, bnpo), RLOO's sequence-level
 * clipped objective, and the advantages both start from (host arithmetic on the rewards, float64).
 * Online DPO's labelling (which of two samples is chosen) is here too; its loss is dpo.ts's.
 *
 * Does: per-token log-probs (policy, old, reference) + advantages + completion mask -> scalar loss and metrics.
 * Does NOT: run models, sample, score rewards or decide batch sizes (train/ does).
 *
 * Notation (TRL's): coef_1 = exp(log πθ − log πold) (the importance ratio), coef_2 = clip(coef_1, 1 − ε_low, 1 + ε_high),
 * per-token loss = −min(coef_1·A, coef_2·A) [+ β·k3]. With one iteration per batch πold is πθ detached, so
 * coef_1 = 1 in value and its gradient is that of log πθ.
 */
import * as tf from '@tensorflow/tfjs';
import { LossInputError } from './errors';
import type { GrpoLossConfig, GrpoLossType, ScaleRewards } from './grpo-config';
import { stopGradient } from './numerics';

export interface GrpoLossInput {
  /** log πθ(o_t | q, o_<t) of each completion token, [B, T] (0 where mask is 0). */
  perTokenLogps: tf.Tensor2D;
  /** log πold at sampling time, [B, T]; absent = perTokenLogps detached (num_iterations 1, as TRL). */
  oldPerTokenLogps?: tf.Tensor2D;
  /** log πref, [B, T]; needed when beta > 0. */
  refPerTokenLogps?: tf.Tensor2D;
  /** One advantage per completion, [B]. */
  advantages: tf.Tensor1D;
  /** 1 on tokens in the loss (completion tokens; 0 for padding and, with mask_truncated_completions, truncated rows), [B, T]. */
  mask: tf.Tensor2D;
  /** dr_grpo's constant: max_new_tokens (TRL's max_completion_length). */
  maxCompletionLength: number;
  /** dapo's normaliser: active tokens of the whole generation batch (TRL's num_items_in_batch). @default Σ mask */
  numItemsInBatch?: number;
}

export interface OnlineLossOutput {
  loss: tf.Scalar;
  /** TRL's names: kl (when β > 0), clip_ratio/low_mean|low_min|high_mean|high_max|region_mean. */
  metrics: Record<string, tf.Scalar>;
}

/** TRL's k3 estimator of KL(πθ ‖ πref) per token (Schulman 2020): exp(r) − r − 1 with r = log πref − log πθ; >= 0. */
export function perTokenKl(perTokenLogps: tf.Tensor, refPerTokenLogps: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const r = refPerTokenLogps.sub(perTokenLogps);
    return tf.exp(r).sub(r).sub(1);
  });
}

/** Σ x·mask / max(Σ mask, 1): TRL's global_masked_mean (a scalar). */
function maskedMean(x: tf.Tensor, mask: tf.Tensor): tf.Scalar {
  return x.mul(mask).sum().div(mask.sum().maximum(1)) as tf.Scalar;
}

/**
 * The per-completion masked mean [B] with rows of no active token left out of an extreme (TRL's nanmin / nanmax
 * of masked_seq_mean); NaN when every row is empty.
 */
function rowExtreme(x: tf.Tensor, mask: tf.Tensor, which: 'min' | 'max'): tf.Scalar {
  const count = mask.sum(1);
  const perRow = x.mul(mask).sum(1).div(count.maximum(1));
  const has = count.greater(0);
  const fill = which === 'min' ? Infinity : -Infinity;
  const e = which === 'min' ? tf.where(has, perRow, tf.fill(perRow.shape, fill)).min() : tf.where(has, perRow, tf.fill(perRow.shape, fill)).max();
  return tf.where(has.any(), e, tf.scalar(NaN)) as tf.Scalar;
}

/**
 * The clipped surrogate per token (PPO, Schulman et al. 2017, Eq. 7; GRPO, Shao et al. 2024, Eq. 3):
 * −min(coef_1·A, clip(coef_1, 1 − ε_low, 1 + ε_high)·A), plus β·k3 when β > 0. Returns it with coef_1.
 */
function clippedPerTokenLoss(x: GrpoLossInput, c: GrpoLossConfig): { perTokenLoss: tf.Tensor2D; coef1: tf.Tensor2D; kl: tf.Tensor2D | null } {
  const epsLow = c.epsilon;
  const epsHigh = c.epsilon_high ?? c.epsilon;
  const old = x.oldPerTokenLogps ?? stopGradient(x.perTokenLogps);
  const coef1 = tf.exp(x.perTokenLogps.sub(old)) as tf.Tensor2D; // [B, T]
  const coef2 = tf.clipByValue(coef1, 1 - epsLow, 1 + epsHigh);
  const A = x.advantages.reshape([-1, 1]); // [B, 1]
  let perTokenLoss = tf.neg(tf.minimum(coef1.mul(A), coef2.mul(A))) as tf.Tensor2D;
  let kl: tf.Tensor2D | null = null;
  if (c.beta !== 0) {
    if (!x.refPerTokenLogps) throw new LossInputError('grpo loss: beta > 0 needs refPerTokenLogps (the reference model\'s per-token log-probs)');
    kl = perTokenKl(x.perTokenLogps, x.refPerTokenLogps) as tf.Tensor2D;
    perTokenLoss = perTokenLoss.add(kl.mul(c.beta)) as tf.Tensor2D;
  }
  return { perTokenLoss, coef1, kl };
}

/** grpo: each completion's token mean, then the mean over completions (GRPO, Shao et al. 2024, Eq. 3's 1/|o_i|). */
function aggregateGrpo(l: tf.Tensor2D, mask: tf.Tensor2D): tf.Scalar {
  return l.mul(mask).sum(1).div(mask.sum(1).maximum(1)).mean() as tf.Scalar;
}

/** bnpo: the token mean over the (micro-)batch: Σ l·mask / Σ mask. */
function aggregateBnpo(l: tf.Tensor2D, mask: tf.Tensor2D): tf.Scalar {
  return l.mul(mask).sum().div(mask.sum().maximum(1)) as tf.Scalar;
}

/** dr_grpo: Σ l·mask / (B · max_completion_length), a constant normaliser (Dr. GRPO, Liu et al. 2025, Eq. 2). */
function aggregateDrGrpo(l: tf.Tensor2D, mask: tf.Tensor2D, maxCompletionLength: number): tf.Scalar {
  return l.mul(mask).sum().div(l.shape[0] * maxCompletionLength) as tf.Scalar;
}

/** dapo: Σ l·mask / active tokens of the generation batch (DAPO, Yu et al. 2025, Eq. 8's token-level sum). */
function aggregateDapo(l: tf.Tensor2D, mask: tf.Tensor2D, numItemsInBatch: number | undefined): tf.Scalar {
  const n = numItemsInBatch === undefined ? mask.sum().maximum(1) : tf.scalar(Math.max(numItemsInBatch, 1));
  return l.mul(mask).sum().div(n) as tf.Scalar;
}

const AGGREGATE: Record<GrpoLossType, (l: tf.Tensor2D, x: GrpoLossInput) => tf.Scalar> = {
  grpo: (l, x) => aggregateGrpo(l, x.mask),
  bnpo: (l, x) => aggregateBnpo(l, x.mask),
  dr_grpo: (l, x) => aggregateDrGrpo(l, x.mask, x.maxCompletionLength),
  dapo: (l, x) => aggregateDapo(l, x.mask, x.numItemsInBatch),
};

/**
 * GRPO's loss as TRL 1.13 GRPOTrainer._compute_loss (token-level importance sampling, no entropy bonus) with
 * its metrics: kl (masked token mean of k3), clip_ratio/low_mean|high_mean|region_mean (masked token means of
 * the clipped indicators) and low_min / high_max (extremes of the per-completion means).
 */
export function grpoLoss(x: GrpoLossInput, c: GrpoLossConfig): OnlineLossOutput {
  checkShapes(x);
  return tf.tidy(() => {
    const mask = x.mask.toFloat() as tf.Tensor2D;
    const xm = { ...x, mask };
    const { perTokenLoss, coef1, kl } = clippedPerTokenLoss(xm, c);
    const loss = AGGREGATE[c.loss_type](perTokenLoss, xm);
    const A = x.advantages.reshape([-1, 1]);
    const epsHigh = c.epsilon_high ?? c.epsilon;
    const low = coef1.less(1 - c.epsilon).logicalAnd(A.less(0)).toFloat();
    const high = coef1.greater(1 + epsHigh).logicalAnd(A.greater(0)).toFloat();
    const region = low.add(high).minimum(1);
    const metrics: Record<string, tf.Scalar> = {
      'clip_ratio/low_mean': maskedMean(low, mask),
      'clip_ratio/low_min': rowExtreme(low, mask, 'min'),
      'clip_ratio/high_mean': maskedMean(high, mask),
      'clip_ratio/high_max': rowExtreme(high, mask, 'max'),
      'clip_ratio/region_mean': maskedMean(region, mask),
    };
    if (kl) metrics.kl = maskedMean(kl, mask);
    return { loss, metrics };
  });
}

/**
 * RLOO's loss as TRL 1.13 RLOOTrainer._compute_loss: a sequence-level ratio exp(Σ log πθ − Σ log πold), clipped,
 * −min(coef_1·A, coef_2·A) averaged over completions. The KL is not here: RLOO puts it in the reward
 * (rlooAdvantages). Metrics: clip_ratio/* over completions (TRL's names).
 */
export function rlooLoss(x: Omit<GrpoLossInput, 'refPerTokenLogps' | 'maxCompletionLength' | 'numItemsInBatch'>, c: Pick<GrpoLossConfig, 'epsilon' | 'epsilon_high'>): OnlineLossOutput {
  checkShapes({ ...x, maxCompletionLength: 1 });
  return tf.tidy(() => {
    const mask = x.mask.toFloat();
    const logps = x.perTokenLogps.mul(mask).sum(1); // [B]
    const oldLogps = x.oldPerTokenLogps ? x.oldPerTokenLogps.mul(mask).sum(1) : stopGradient(logps);
    const coef1 = tf.exp(logps.sub(oldLogps));
    const epsHigh = c.epsilon_high ?? c.epsilon;
    const coef2 = tf.clipByValue(coef1, 1 - c.epsilon, 1 + epsHigh);
    const A = x.advantages;
    const loss = tf.neg(tf.minimum(coef1.mul(A), coef2.mul(A))).mean() as tf.Scalar;
    const low = coef1.less(1 - c.epsilon).logicalAnd(A.less(0)).toFloat();
    const high = coef1.greater(1 + epsHigh).logicalAnd(A.greater(0)).toFloat();
    const metrics: Record<string, tf.Scalar> = {
      'clip_ratio/low_mean': low.mean() as tf.Scalar,
      'clip_ratio/low_min': low.min() as tf.Scalar,
      'clip_ratio/high_mean': high.mean() as tf.Scalar,
      'clip_ratio/high_max': high.max() as tf.Scalar,
      'clip_ratio/region_mean': low.add(high).minimum(1).mean() as tf.Scalar,
    };
    return { loss, metrics };
  });
}

function checkShapes(x: GrpoLossInput): void {
  const [B, T] = x.perTokenLogps.shape;
  const same = (t: tf.Tensor | undefined, name: string) => {
    if (t && (t.shape[0] !== B || t.shape[1] !== T)) throw new LossInputError(`grpo loss: ${name} is [${t.shape}]; expected [${B}, ${T}] like perTokenLogps`);
  };
  same(x.oldPerTokenLogps, 'oldPerTokenLogps');
  same(x.refPerTokenLogps, 'refPerTokenLogps');
  same(x.mask, 'mask');
  if (x.advantages.shape[0] !== B) throw new LossInputError(`grpo loss: ${x.advantages.shape[0]} advantages for ${B} completions`);
}

// ---------------------------------------------------------------------------------------------------------------
// Advantages (host arithmetic, float64): rewards of a generation batch laid out prompt-major, G per prompt.

/** Mean and unbiased std (TRL's nanstd: Bessel-corrected) of xs. Example: [1, 3] -> {mean 2, std √2}. */
export function meanStd(xs: readonly number[]): { mean: number; std: number } {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const ss = xs.reduce((a, b) => a + (b - mean) * (b - mean), 0);
  return { mean, std: n > 1 ? Math.sqrt(ss / (n - 1)) : NaN };
}

/** torch.isclose(std, 0) with its default tolerances: |std| <= 1e-8. */
const isZeroStd = (s: number) => Math.abs(s) <= 1e-8;

export interface Advantages {
  advantages: number[];
  /** Share of completions whose (group or batch) std is zero: TRL's frac_reward_zero_std. */
  fracRewardZeroStd: number;
}

function groups(rewards: readonly number[], G: number): number[][] {
  if (!(Number.isInteger(G) && G >= 2) || rewards.length % G !== 0) {
    throw new LossInputError(`advantages: ${rewards.length} rewards do not form groups of num_generations = ${G} (an integer >= 2)`);
  }
  return Array.from({ length: rewards.length / G }, (_, i) => rewards.slice(i * G, (i + 1) * G));
}

/**
 * GRPO's advantages as TRL 1.13 (sum_then_normalize): A_i = r_i − mean(group of r_i), divided by (std + 1e-4) where
 * std is the group's (scale_rewards group), the batch's (batch) or not at all (none; the group std still feeds
 * frac_reward_zero_std). GRPO, Shao et al. 2024, §4.1.2; Dr. GRPO (none); PPO Lite (batch).
 * Example: rewards [1, 0, 2, 2], G 2, none -> [0.5, -0.5, 0, 0], frac 0.5.
 */
export function grpoAdvantages(rewards: readonly number[], G: number, scale: ScaleRewards): Advantages {
  const gs = groups(rewards, G);
  const stats = gs.map(meanStd);
  const batchStd = meanStd(rewards).std;
  const advantages: number[] = [];
  let zero = 0;
  gs.forEach((g, i) => {
    const std = scale === 'batch' ? batchStd : stats[i].std;
    for (const r of g) {
      const a = r - stats[i].mean;
      advantages.push(scale === 'none' ? a : a / (std + 1e-4));
      if (isZeroStd(std)) zero += 1;
    }
  });
  return { advantages, fracRewardZeroStd: zero / rewards.length };
}

/**
 * RLOO's advantages as TRL 1.13 RLOOTrainer: the reward minus β·(sequence KL, Σ_t log πold − log πref, the k1
 * estimate) when β > 0, then minus the mean of the other G − 1 rewards of its prompt (RLOO, Ahmadian et al. 2024,
 * Eq. 8; Kool et al. 2019); optionally standardised over the batch (normalize_advantages: (A − mean) / (std + 1e-4)).
 * frac_reward_zero_std uses the group std of the KL-adjusted rewards. Example: [1, 0, 2], G 3, β 0 -> [0, -1.5, 1.5].
 */
export function rlooAdvantages(
  rewards: readonly number[],
  G: number,
  o: { beta: number; sequenceKl?: readonly number[]; normalize: boolean },
): Advantages & { rewards: number[] } {
  let adjusted = [...rewards];
  if (o.beta !== 0) {
    if (!o.sequenceKl || o.sequenceKl.length !== rewards.length) throw new LossInputError(`rloo advantages: beta > 0 needs one sequence KL per reward (${rewards.length})`);
    adjusted = adjusted.map((r, i) => r - o.beta * o.sequenceKl![i]);
  }
  const gs = groups(adjusted, G);
  let advantages: number[] = [];
  let zero = 0;
  for (const g of gs) {
    const sum = g.reduce((a, b) => a + b, 0);
    for (const r of g) advantages.push(r - (sum - r) / (G - 1));
    if (isZeroStd(meanStd(g).std)) zero += G;
  }
  if (o.normalize) {
    const { mean, std } = meanStd(advantages);
    advantages = advantages.map((a) => (a - mean) / (std + 1e-4));
  }
  return { advantages, fracRewardZeroStd: zero / rewards.length, rewards: adjusted };
}

/**
 * Online DPO's labels as TRL 1.13 OnlineDPOTrainer.training_step: of a prompt's two samples, the first is chosen
 * when its reward is >= the second's (a tie goes to the first), else the second.
 * Example: first [1, 2, 3], second [0, 2, 4] -> chosenIsFirst [true, true, false].
 */
export function onlineDpoLabels(first: readonly number[], second: readonly number[]): { chosenIsFirst: boolean[] } {
  if (first.length !== second.length) throw new LossInputError(`online DPO labels: ${first.length} first samples and ${second.length} second samples`);
  return { chosenIsFirst: first.map((r, i) => r >= second[i]) };
}
