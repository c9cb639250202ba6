/**
 * Scaled dot-product attention with grouped key/value heads (GQA/MQA; plain MHA when groups = 1).
 *
 * Instead of copying each kv head g times (HF's repeat_kv), the g query heads that share a kv head
 * are folded into the query-length axis: q [B, kvH, g·Tq, d] · kᵀ [B, kvH, d, Tk]. Same numbers,
 * no repeated k/v tensors in the forward or backward pass. HF's head order (query head h uses kv head
 * h / g) is what the reshape gives.
 *
 * Causal blocks: when the bias is causal over the same positions (a training or scoring forward), the
 * queries are taken in blocks and block i only scores the keys up to its own end: the key columns past
 * it are masked for every query of the block (their softmax weight is exactly 0), so leaving them out
 * changes no value, and the T×T scores, their mask, softmax and backward shrink by (nb − 1) / (2·nb)
 * (37.5% for 4 blocks).
 *
 * Does: scores, mask, softmax, weighted sum. Does NOT: projections or RoPE (the block does those).
 */
import * as tf from '@tensorflow/tfjs';
import { batchMatMul as bmm } from '../backend/ops'; // per-backend fast paths (wasm: sliced 2-D products)

/**
 * Query blocks for a causal forward of length T: 4 from T = 128 up, 2 from 64, else 1 (no gain below).
 * Always 1 on wasm: its Slice kernel copies the whole input for a non-contiguous slice, which costs more
 * than the blocks save (15m DPO step 5.9 -> 14 s there).
 */
export function causalBlockCount(T: number): number {
  if (tf.getBackend() === 'wasm') return 1;
  return T >= 128 ? 4 : T >= 64 ? 2 : 1;
}

/**
 * q [B, Tq, H, d] (rotated), k/v [B, kvH, Tk, d] (rotated k), bias broadcastable to [B, 1, 1, Tq, Tk]
 * -> [B, Tq, H·d]. `causal`: the bias masks every key after its query (offset 0, Tq = Tk), which
 * allows the block split above.
 */
export function groupedAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, bias: tf.Tensor | null, causal = false): tf.Tensor3D {
  return tf.tidy(() => {
    const [B, Tq, H, d] = q.shape;
    const [, kvH, Tk] = k.shape;
    const g = H / kvH;
    const qg = q.reshape([B, Tq, kvH, g, d]).transpose([0, 2, 3, 1, 4]).mul(1 / Math.sqrt(d)) as tf.Tensor5D; // [B, kvH, g, Tq, d]
    const nb = causal && Tq === Tk ? causalBlockCount(Tq) : 1;
    const outs: tf.Tensor[] = [];
    for (let i = 0; i < nb; i++) {
      const q0 = Math.round((i * Tq) / nb);
      const q1 = Math.round(((i + 1) * Tq) / nb);
      const keys = nb === 1 ? Tk : q1; // causal: block i sees keys 0..q1-1 only
      outs.push(attendBlock(qg, k, v, bias, q0, q1, keys));
    }
    const out = outs.length === 1 ? outs[0] : tf.concat(outs, 3); // [B, kvH, g, Tq, d]
    return out.transpose([0, 3, 1, 2, 4]).reshape([B, Tq, H * d]) as tf.Tensor3D;
  });
}

/** Queries q0..q1-1 of qg [B, kvH, g, Tq, d] over keys 0..keys-1 -> [B, kvH, g, q1 − q0, d]. */
function attendBlock(qg: tf.Tensor5D, k: tf.Tensor4D, v: tf.Tensor4D, bias: tf.Tensor | null, q0: number, q1: number, keys: number): tf.Tensor {
  const [B, kvH, g, Tq, d] = qg.shape;
  const Tk = k.shape[2];
  const n = q1 - q0;
  const qb = (n === Tq ? qg : qg.slice([0, 0, 0, q0, 0], [B, kvH, g, n, d])).reshape([B, kvH, g * n, d]);
  const kb = keys === Tk ? k : k.slice([0, 0, 0, 0], [B, kvH, keys, d]);
  const vb = keys === Tk ? v : v.slice([0, 0, 0, 0], [B, kvH, keys, d]);
  let scores = bmm(qb, kb, false, true).reshape([B, kvH, g, n, keys]); // [B, kvH, g, n, keys]
  if (bias) scores = scores.add(sliceLastTwo(bias, q0, n, keys));
  // Softmax on a rank-3 view: tfjs-node's kernel takes ~2x longer on the rank-5 layout (same values).
  const probs = tf.softmax(scores.reshape([B * kvH, g * n, keys])).reshape([B, kvH, g * n, keys]);
  return bmm(probs, vb).reshape([B, kvH, g, n, d]);
}

/** bias [..., Tq, Tk] -> [..., rows q0..q0+n-1, columns 0..keys-1] (a no-op when that is all of it). */
function sliceLastTwo(bias: tf.Tensor, q0: number, n: number, keys: number): tf.Tensor {
  const s = bias.shape;
  const r = s.length;
  if (q0 === 0 && n === s[r - 2] && keys === s[r - 1]) return bias;
  const begin = s.map((_, i) => (i === r - 2 ? q0 : 0));
  const size = s.map((x, i) => (i === r - 2 ? n : i === r - 1 ? keys : x));
  return bias.slice(begin, size);
}
