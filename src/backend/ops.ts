/**
 * Backend-sensitive building blocks the model uses instead of raw TF.js ops, so that a backend's
 * slow paths can be routed around in one place (see BACKENDS.md: wasm only runs plain 2-D,
 * non-transposed matmuls fast).
 *
 * Does: dense projections in HF's [out, in] weight layout. Does NOT: pick or initialise backends.
 */
import * as tf from '@tensorflow/tfjs';

/** y = x · wᵀ (+ b) for x [..., in], w [out, in] (HF/PyTorch nn.Linear layout) -> [..., out]. */
export function linear(x: tf.Tensor, w: tf.Tensor, b?: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const inDim = x.shape[x.shape.length - 1];
    const outDim = w.shape[0];
    const x2 = x.reshape([-1, inDim]);
    let y = tf.matMul(x2, w, false, true);
    if (b) y = y.add(b);
    return y.reshape([...x.shape.slice(0, -1), outDim]);
  });
}
