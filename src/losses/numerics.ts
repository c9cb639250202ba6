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
 * x [B] sorted in descending order, differentiably: the gradient of slot k flows back to the element
 * that landed there (dx = Pᵀ·dy for the permutation matrix P). TF.js 4.22 has no gradient for TopK and
 * the tape would try to differentiate through the sort order, so a customGrad hides the sort from the
 * tape and supplies the permutation's gradient itself. Example: [3, 1, 2] -> [3, 2, 1].
 */
export function sortDescending(x: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => sortDescendingOp(x));
}

const sortDescendingOp = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = args[0] as tf.Tensor1D;
  const save = args[1] as tf.GradSaveFunc;
  const n = x.shape[0];
  const { values, indices } = tf.topk(x, n, true);
  const perm = tf.oneHot(indices, n).toFloat(); // [B, B]: row k is one-hot at the index of the k-th largest
  save([perm]);
  return {
    value: values as tf.Tensor1D,
    gradFunc: (dy: tf.Tensor1D, saved: tf.Tensor[]) => tf.matMul(saved[0], dy.reshape([n, 1]), true, false).reshape([n]),
  };
});

/** Token counts [B] as float32, clamped to >= 1 so an empty completion divides by 1, not 0 (as TRL's clamp(min=1)). */
export function safeCounts(counts: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => tf.maximum(counts.toFloat(), 1) as tf.Tensor1D);
}

/**
 * x with no gradient (torch's detach): the value passes, the gradient is zero. TF.js 4.22 has no stopGradient
 * op, so a customGrad supplies the zero. Example: d/dx exp(x − stopGradient(x)) = 1 at every x.
 */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => stopGradientOp(x) as T);
}

const stopGradientOp = tf.customGrad(((x: tf.Tensor) => ({
  value: x.clone(),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as unknown as Parameters<typeof tf.customGrad>[0]);
