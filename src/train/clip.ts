/**
 * Global-norm gradient clipping (as torch.nn.utils.clip_grad_norm_): the norm over all gradients is
 * reported as grad_norm; when it exceeds maxNorm every gradient is scaled by maxNorm / (norm + 1e-6).
 */
import * as tf from '@tensorflow/tfjs';
import { sumSquares } from '../backend/ops';

/** Returns the clipped gradients (new tensors) and the pre-clip global norm as a scalar tensor. */
export function clipByGlobalNorm(
  grads: Map<string, tf.Tensor>,
  maxNorm: number | null,
): { grads: Map<string, tf.Tensor>; norm: tf.Scalar } {
  const names = [...grads.keys()];
  const out = tf.tidy(() => {
    const all = names.map((n) => grads.get(n)!);
    // Σ g² over every gradient: one native kernel where it runs (backend/ops.ts), two TF.js ops per gradient otherwise.
    const norm = sumSquares(all).sqrt() as tf.Scalar;
    if (maxNorm === null || maxNorm <= 0) {
      return { clipped: names.map((n) => grads.get(n)!.clone()), norm };
    }
    // torch: clip_coef = max_norm / (total_norm + 1e-6), applied only when < 1.
    const coef = tf.minimum(tf.scalar(maxNorm).div(norm.add(1e-6)), 1);
    return { clipped: names.map((n) => grads.get(n)!.mul(coef)), norm };
  });
  const clippedMap = new Map<string, tf.Tensor>();
  names.forEach((n, i) => clippedMap.set(n, out.clipped[i]));
  return { grads: clippedMap, norm: out.norm };
}
