/**
 * Numerically careful building blocks shared by the losses.
 *
 * Does: log-sigmoid that survives autodiff, a differentiable sort along the batch, safe means.
 * Does NOT: know about any particular loss.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * log σ(x) = -softplus(-x), finite for any finite x (log σ(-200) = -200, log σ(200) = 0).
 * Why not tf.logSigmoid: in TF.js 4.22 its gradient reads x without saving it and throws
 * ("Cannot read properties of undefined (reading 'backend')") when x is an intermediate tensor.
 * Softplus saves its input, so this form differentiates everywhere.
 */
export function logSigmoid(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.neg(tf.softplus(tf.neg(x))));
}

/**
 * x [B] sorted in descending order, differentiably: d(sorted)/dx routes each gradient back to the
 * element that landed in that slot. TF.js has no gradient for TopK, so topk only supplies the
 * order and a one-hot permutation matmul carries the values (and the gradient; B is a batch, small).
 * Example: [3, 1, 2] -> [3, 2, 1].
 */
export function sortDescending(x: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const n = x.shape[0];
    const { indices } = tf.topk(x, n, true);
    const perm = tf.oneHot(indices, n).toFloat(); // [B, B]: row i picks the i-th largest
    return tf.matMul(perm, x.reshape([n, 1])).reshape([n]) as tf.Tensor1D;
  });
}

/** Mean of a 1-D or scalar tensor as a scalar. */
export function meanScalar(x: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.mean(x) as tf.Scalar);
}

/** Token counts [B] as float32, clamped to >= 1 so an empty completion divides by 1, not 0 (as TRL's clamp(min=1)). */
export function safeCounts(counts: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => tf.maximum(counts.toFloat(), 1) as tf.Tensor1D);
}
