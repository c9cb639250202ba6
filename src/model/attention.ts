/**
 * Scaled dot-product attention with grouped key/value heads (GQA/MQA; plain MHA when groups = 1).
 *
 * Instead of copying each kv head g times (HF's repeat_kv), the g query heads that share a kv head
 * are folded into the query-length axis: q [B, kvH, g·Tq, d] · kᵀ [B, kvH, d, Tk]. Same numbers,
 * no repeated k/v tensors in the forward or backward pass. HF's head order (query head h uses kv head
 * h / g) is what the reshape gives.
 *
 * Does: scores, mask, softmax, weighted sum. Does NOT: projections or RoPE (the block does those).
 */
import * as tf from '@tensorflow/tfjs';
import { batchMatMul as bmm } from '../backend/ops'; // per-backend fast paths (wasm: sliced 2-D products)

/**
 * q [B, Tq, H, d] (rotated), k/v [B, kvH, Tk, d] (rotated k), bias broadcastable to [B, 1, 1, Tq, Tk]
 * -> [B, Tq, H·d].
 */
export function groupedAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, bias: tf.Tensor | null): tf.Tensor3D {
  return tf.tidy(() => {
    const [B, Tq, H, d] = q.shape;
    const [, kvH, Tk] = k.shape;
    const g = H / kvH;
    const qg = q.reshape([B, Tq, kvH, g, d]).transpose([0, 2, 3, 1, 4]) // [B, kvH, g, Tq, d]
      .reshape([B, kvH, g * Tq, d]).mul(1 / Math.sqrt(d));
    let scores = bmm(qg, k, false, true).reshape([B, kvH, g, Tq, Tk]); // [B, kvH, g, Tq, Tk]
    if (bias) scores = scores.add(bias);
    // Softmax on a rank-3 view: tfjs-node's kernel takes ~2x longer on the rank-5 layout (same values).
    const probs = tf.softmax(scores.reshape([B * kvH, g * Tq, Tk])).reshape([B, kvH, g * Tq, Tk]);
    const out = bmm(probs, v); // [B, kvH, g·Tq, d]
    return out.reshape([B, kvH, g, Tq, d]).transpose([0, 3, 1, 2, 4]).reshape([B, Tq, H * d]) as tf.Tensor3D;
  });
}
