/**
 * Supervised fine-tuning loss: mean negative log-likelihood over completion tokens.
 *
 * Does: per-token log-probs [B, T] + a completion mask [B, T] -> scalar loss and metrics.
 * Does NOT: compute log-probs from logits, shift labels, or build the mask (model/ and data/ do).
 *
 * loss = −Σ_{b,t} m_{b,t}·log p(x_{b,t} | x_{b,<t}) / N
 * with N = Σ m (the batch's completion tokens) by default. This is the token-level mean that TRL 1.13's
 * SFTTrainer gets from transformers' causal-LM loss (sum over non-ignored labels / number of them), NOT a
 * mean of per-sequence means: long completions weigh more. Under gradient accumulation transformers divides
 * every micro-batch's sum by the token count of the whole accumulated batch (`num_items_in_batch`); pass
 * that as `numItemsInBatch` to get the same gradients (the training loop gets the same by weighting each
 * micro-batch's mean by its share of the step's tokens, see train/loop.ts). With no completion tokens at all,
 * N is clamped to 1 (loss 0), as TRL's chunked loss does.
 */
import * as tf from '@tensorflow/tfjs';
import { LossInputError } from './errors';
import { LossMetrics } from './metrics';

export interface SftLossOptions {
  /** Divide by this token count instead of this batch's own (gradient accumulation; TRL's num_items_in_batch). */
  numItemsInBatch?: number;
}

export interface SftMetrics extends LossMetrics {
  loss: tf.Scalar;
  /**
   * Completion tokens in this batch (Σ mask): the loss's denominator. Not TRL's num_tokens (every non-pad token
   * of the run so far, which the training loop logs), hence the other name.
   */
  completion_tokens: tf.Scalar;
}

/** A type alias, not an interface, so it fits tf.tidy's TensorContainer: tf.tidy(() => ...) works. */
export type SftLossOutput = {
  loss: tf.Scalar;
  metrics: SftMetrics;
};

/**
 * Example: tokenLogps [[-1, -2, -9]], mask [[1, 1, 0]] -> loss (1 + 2) / 2 = 1.5, completion_tokens 2.
 * Masked positions may hold anything, even -Inf or NaN (padding): they are selected away, not multiplied by 0.
 */
export function sftNllLoss(tokenLogps: tf.Tensor, mask: tf.Tensor, opts: SftLossOptions = {}): SftLossOutput {
  if (tokenLogps.rank !== 2 || mask.shape.join() !== tokenLogps.shape.join()) {
    throw new LossInputError(
      `sftNllLoss: tokenLogps and mask must both be [B, T]; got [${tokenLogps.shape.join(', ')}] and [${mask.shape.join(', ')}]`,
    );
  }
  const n = opts.numItemsInBatch;
  if (n !== undefined && !(Number.isFinite(n) && n > 0)) {
    throw new LossInputError(`sftNllLoss: numItemsInBatch must be a number > 0; got ${n}`);
  }
  return tf.tidy(() => {
    const keep = tf.greater(mask, 0);
    const picked = tf.where(keep, tokenLogps, tf.zerosLike(tokenLogps));
    const numTokens = tf.sum(keep.toFloat()) as tf.Scalar;
    const denom = n !== undefined ? tf.scalar(n) : tf.maximum(numTokens, 1);
    const loss = tf.div(tf.neg(tf.sum(picked)), denom) as tf.Scalar;
    return { loss, metrics: { loss: loss.clone(), completion_tokens: numTokens } };
  });
}

/**
 * The same loss from per-sequence sums (a layout that never holds [B, T] log-probs: model/logprobs.ts's
 * scoredLogProbs): −Σ_s logpSums[s] / max(Σ_s tokenCounts[s], 1). e.g. sums [-3, -1], counts [2, 2] -> 1.
 */
export function sftNllLossFromSums(logpSums: tf.Tensor1D, tokenCounts: tf.Tensor1D): tf.Scalar {
  if (logpSums.rank !== 1 || logpSums.shape[0] !== tokenCounts.shape[0]) {
    throw new LossInputError(`sftNllLossFromSums: logpSums and tokenCounts must both be [S]; got [${logpSums.shape.join(', ')}] and [${tokenCounts.shape.join(', ')}]`);
  }
  return tf.tidy(() => tf.div(tf.neg(tf.sum(logpSums)), tf.maximum(tf.sum(tokenCounts), 1)) as tf.Scalar);
}
