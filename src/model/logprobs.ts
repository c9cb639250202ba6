/**
 * Per-token log-probabilities of the tokens a sequence actually contains, and their sums over a
 * completion mask: what SFT, DPO and the explicit/implicit comparison consume.
 *
 *   out[b, t] = log p(ids[b, t] | ids[b, <t]) = logits[b, t-1, ids[b, t]] − logsumexp(logits[b, t-1, :]),
 *   out[b, 0] = 0 (the first token has no context).
 *
 * The target logit is read with a 1-D gather on the flattened logits (index (b·T + t)·V + id; no
 * batchDims gather, which crashes wasm), and the gradient is written out (softmax − one-hot), so no
 * scatter kernel is needed in the backward pass.
 *
 * Does: log-prob arithmetic on logits and a model forward. Does NOT: collate or pad batches (data/).
 */
import * as tf from '@tensorflow/tfjs';
import type { CausalLM } from './types';

/**
 * logits [B, T, V], ids [B, T] -> [B, T] with out[:, 0] = 0.
 * e.g. V 2, logits[0,0] = [0, 0], ids[0] = [x, 1] -> out[0] = [0, log 0.5].
 */
export function tokenLogProbs(logits: tf.Tensor3D, ids: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const [B, T, V] = logits.shape;
    if (T < 2) return tf.zeros([B, T]) as tf.Tensor2D;
    // Targets for positions 0..T-2 are ids[:, 1..T-1]; position T-1 predicts nothing (dummy id 0, sliced off).
    const targets = tf.concat([ids.slice([0, 1], [B, T - 1]).toInt(), tf.zeros([B, 1], 'int32')], 1).reshape([B * T]);
    const lp = targetLogProbs(logits.reshape([B * T, V]) as tf.Tensor2D, targets as tf.Tensor1D).reshape([B, T]);
    return tf.concat([tf.zeros([B, 1]), lp.slice([0, 0], [B, T - 1])], 1) as tf.Tensor2D; // [B, T]
  });
}

/**
 * rows [N, V], targets [N] -> log softmax(rows)[n, targets[n]], [N], with a hand-written gradient
 * d/d rows = dy · (onehot(target) − softmax(rows)). Autodiff of gather − logsumexp would give the same
 * numbers through a scatter (UnsortedSegmentSum) over N·V slots and logsumexp's max-mask; this keeps the
 * backward to one softmax and one one-hot, on every backend.
 */
function targetLogProbs(rows: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
  const [N, V] = rows.shape;
  const f = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
    save([x, targets]); // targets too: the caller's tidy frees them before backprop runs
    const flatIndex = tf.range(0, N * V, V, 'int32').add(targets); // n·V + target[n]
    const picked = tf.gather(x.reshape([N * V]), flatIndex); // [N]
    return {
      value: picked.sub(tf.logSumExp(x, 1)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.oneHot(saved[1] as tf.Tensor1D, V).toFloat().sub(tf.softmax(saved[0])).mul(dy.reshape([N, 1])),
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(rows) as tf.Tensor1D;
}

export type SequenceLogProbs = {
  /** Σ_t completionMask[b, t] · log p(ids[b, t] | ids[b, <t]), [B]. */
  sum: tf.Tensor1D;
  /** Number of completion tokens per row, [B] (for length-normalised variants). */
  count: tf.Tensor1D;
};

/**
 * One forward pass: sums of token log-probs where completionMask is 1 (aligned with ids; prompt and
 * padding are 0). Stack chosen and rejected rows into one batch to score both with one forward.
 */
export function sequenceLogProbs(
  model: CausalLM,
  ids: tf.Tensor2D,
  attentionMask: tf.Tensor2D,
  completionMask: tf.Tensor2D,
): SequenceLogProbs {
  return tf.tidy(() => maskedSums(tokenLogProbs(model.logits(ids, attentionMask), ids), completionMask));
}

/** Row sums of tokenLogps [B, T] under mask [B, T] -> {sum [B], count [B]}. */
export function maskedSums(tokenLogps: tf.Tensor2D, mask: tf.Tensor2D): SequenceLogProbs {
  return tf.tidy(() => {
    const m = mask.toFloat();
    return { sum: tokenLogps.mul(m).sum(1) as tf.Tensor1D, count: m.sum(1) as tf.Tensor1D };
  });
}

export type PairLogProbs = {
  chosen: SequenceLogProbs;
  rejected: SequenceLogProbs;
};

/**
 * DPO's concatenated forward: chosen rows and rejected rows (each [B, T], same T, right padded) are
 * stacked into [2B, T], run through the model once, and split back.
 */
export function pairLogProbs(
  model: CausalLM,
  chosen: { ids: tf.Tensor2D; attentionMask: tf.Tensor2D; completionMask: tf.Tensor2D },
  rejected: { ids: tf.Tensor2D; attentionMask: tf.Tensor2D; completionMask: tf.Tensor2D },
): PairLogProbs {
  return tf.tidy(() => {
    const B = chosen.ids.shape[0];
    const cat = (a: tf.Tensor2D, b: tf.Tensor2D) => tf.concat([a, b], 0) as tf.Tensor2D;
    const { sum, count } = sequenceLogProbs(
      model,
      cat(chosen.ids.toInt(), rejected.ids.toInt()),
      cat(chosen.attentionMask.toFloat(), rejected.attentionMask.toFloat()),
      cat(chosen.completionMask.toFloat(), rejected.completionMask.toFloat()),
    );
    const half = (t: tf.Tensor1D, start: number) => t.slice([start], [B]) as tf.Tensor1D;
    return {
      chosen: { sum: half(sum, 0), count: half(count, 0) },
      rejected: { sum: half(sum, B), count: half(count, B) },
    };
  });
}
