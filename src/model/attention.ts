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
 * selfAttention is the core every family's block calls after its own projections: RoPE where the family has it,
 * the KV cache, and the choice (backend/ops.ts) between the fused kernel and the TF.js path above.
 *
 * Does: RoPE application, cache concatenation, scores, mask, softmax, weighted sum. Does NOT: projections (the
 * family's block does those) or RoPE tables (the model makes them once per forward).
 */
import * as tf from '@tensorflow/tfjs';
import { causalAttention, segmentAttention } from '../backend/ops';
import type { BlockContext, LayerKV } from './layers';
import { RotaryTables } from './rope';

/**
 * q [B, T, H, d], k and v [B, T, kvH, d] as projected (not rotated) -> out as rows [B·T, H·d] (the blocks work on
 * rows, so each fused path's output takes one reshape, not two), and the keys/values to
 * cache: past + new, rotated, [B, kvH, Tpast + T, d]. A whole causal forward with no padding before a real token
 * goes to ops.causalAttention (one fused kernel where it runs, RoPE inside; such a forward's keys and values are
 * never cached, so none are returned); a packed forward (ctx.packed, model/packed.ts) to ops.segmentAttention;
 * everything else (cached, left-padded) takes the TF.js path.
 */
export function selfAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, ctx: BlockContext, past?: LayerKV): { out: tf.Tensor2D; kv?: LayerKV } {
  return tf.tidy(() => {
    const [B, T, H, d] = q.shape;
    const scale = 1 / Math.sqrt(d);
    if (ctx.causal && !ctx.paddingMasked && !ctx.packed && !past) {
      const flat = ctx.rope && {
        cos: ctx.rope.cos.reshape([T, d / 2]) as tf.Tensor2D,
        sin: ctx.rope.sin.reshape([T, d / 2]) as tf.Tensor2D,
      };
      const out = causalAttention(q, k, v, scale, flat ?? null, () => unfusedAttention(q, k, v, ctx).out);
      return { out: out.reshape([B * T, H * d]) as tf.Tensor2D };
    }
    if (ctx.packed && !past) {
      const packed = ctx.packed;
      // The TF.js path: per-token RoPE tables (ctx.rope, gathered by position) and the layout's bias, which is
      // causal too (so its causal blocks stay exact).
      const tfjs = () => unfusedAttention(q, k, v, { ...ctx, bias: packed.bias(), causal: true }).out;
      const out = segmentAttention(q, k, v, scale, packed.rope ?? null, packed.layout, tfjs);
      return { out: out.reshape([B * T, H * d]) as tf.Tensor2D };
    }
    const { out, kv } = unfusedAttention(q, k, v, ctx, past);
    return { out: out.reshape([B * T, H * d]) as tf.Tensor2D, kv };
  });
}

/** RoPE (when the context has tables), heads first, past keys/values prepended, then groupedAttention. */
function unfusedAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, ctx: BlockContext, past?: LayerKV): { out: tf.Tensor3D; kv: LayerKV } {
  if (ctx.rope) {
    q = RotaryTables.apply(q, ctx.rope.cos, ctx.rope.sin);
    k = RotaryTables.apply(k, ctx.rope.cos, ctx.rope.sin);
  }
  let kh = k.transpose([0, 2, 1, 3]) as tf.Tensor4D; // [B, kvH, T, d]
  let vh = v.transpose([0, 2, 1, 3]) as tf.Tensor4D;
  if (past) {
    kh = tf.concat([past.k, kh], 2) as tf.Tensor4D; // [B, kvH, Tpast + T, d]
    vh = tf.concat([past.v, vh], 2) as tf.Tensor4D;
  }
  const out = groupedAttention(q, kh, vh, ctx.bias, ctx.causal === true && !past); // [B, T, H·d]
  return { out, kv: { k: kh, v: vh } };
}

/**
 * Query blocks for a causal forward of length T: 4 from T = 128 up, 2 from 64, else 1 (no gain below).
 * Always 1 on wasm: there the blocks measured no faster (15m DPO step, 4 alternating runs each: median
 * 3.24 s without, 3.30 s with), the extra per-block products and copies eating what they save.
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
    const bounds = Array.from({ length: nb + 1 }, (_, i) => Math.round((i * Tq) / nb));
    const out = attendBlocks(bias, bounds, nb > 1)(qg, k, v); // [B, kvH, g, Tq, d]
    return out.transpose([0, 3, 1, 2, 4]).reshape([B, Tq, H * d]) as tf.Tensor3D;
  });
}

type Attend = (qg: tf.Tensor5D, k: tf.Tensor4D, v: tf.Tensor4D) => tf.Tensor5D;

/**
 * softmax(q·kᵀ + bias)·v over query blocks [bounds[i], bounds[i+1]) as one op with a written-out gradient.
 * With `causalBlocks`, block i only sees keys 0..bounds[i+1]-1. qg [B, kvH, g, Tq, d] is already scaled.
 *
 * The backward is the one FlashAttention derives (Dao et al. 2022, appendix B), on materialised blocks:
 *   dP = dO·vᵀ,  dS = P ∘ (dP − D) with D = rowsum(dO ∘ O),  dq = dS·k,  dk = dSᵀ·q,  dv = Pᵀ·dO.
 * D is the softmax backward's Σ_j dP_ij·P_ij computed from [.., Tq, d] tensors, and dP − D comes out of one
 * product with one more column ([dO, −D]·[v, 1]ᵀ): autodiff's softmax gradient makes four passes over every
 * T×T block (two products, a sum, a difference), this makes one. The slices of q per block are one split
 * (autodiff: one pad per block). Same values as autodiff up to float rounding.
 * The bias is a constant (masks), so it is captured, not an input: no gradient is made for it.
 */
function attendBlocks(bias: tf.Tensor | null, bounds: number[], causalBlocks: boolean): Attend {
  const nb = bounds.length - 1;
  const sizes = bounds.slice(1).map((b, i) => b - bounds[i]);
  const split = <T extends tf.Tensor>(t: T): T[] => (nb === 1 ? [t] : (tf.split(t, sizes, 3) as T[]));
  /** Block i's keys or values: the first bounds[i+1] positions when causal, else all. */
  const prefix = (t: tf.Tensor4D, i: number): tf.Tensor4D => {
    const [B, kvH, Tk, d] = t.shape;
    const keys = causalBlocks ? bounds[i + 1] : Tk;
    return keys === Tk ? t : t.slice([0, 0, 0, 0], [B, kvH, keys, d]);
  };
  const f = (qg: tf.Tensor5D, k: tf.Tensor4D, v: tf.Tensor4D, save: tf.GradSaveFunc) => {
    const [B, kvH, g, , d] = qg.shape;
    const qbs = split(qg);
    const probs: tf.Tensor4D[] = [];
    const outs: tf.Tensor[] = [];
    const kbs: tf.Tensor4D[] = [];
    const vbs: tf.Tensor4D[] = [];
    for (let i = 0; i < nb; i++) {
      const n = sizes[i];
      const kb = prefix(k, i);
      const vb = prefix(v, i);
      kbs.push(kb);
      vbs.push(vb);
      const keys = kb.shape[2];
      let scores = tf.matMul(qbs[i].reshape([B, kvH, g * n, d]), kb, false, true).reshape([B, kvH, g, n, keys]);
      if (bias) scores = scores.add(sliceLastTwo(bias, bounds[i], n, keys));
      // Softmax on a rank-3 view: tfjs-node's kernel takes ~2x longer on the rank-5 layout (same values).
      const p = tf.softmax(scores.reshape([B * kvH, g * n, keys])).reshape([B, kvH, g * n, keys]) as tf.Tensor4D;
      probs.push(p);
      outs.push(tf.matMul(p, vb).reshape([B, kvH, g, n, d]));
    }
    const out = (nb === 1 ? outs[0] : tf.concat(outs, 3)) as tf.Tensor5D;
    save([qg, out, ...probs, ...kbs, ...vbs]);
    const gradFunc = (dy: tf.Tensor5D, saved: tf.Tensor[]): tf.Tensor[] => {
      const [qs, os] = saved as [tf.Tensor5D, tf.Tensor5D];
      const ps = saved.slice(2, 2 + nb) as tf.Tensor4D[];
      const ks = saved.slice(2 + nb, 2 + 2 * nb) as tf.Tensor4D[];
      const vs = saved.slice(2 + 2 * nb) as tf.Tensor4D[];
      const Tk = ks[nb - 1].shape[2];
      const qbs2 = split(qs);
      const dys = split(dy);
      const Ds = split(dy.mul(os).sum(-1, true).neg() as tf.Tensor5D); // −D: [B, kvH, g, n, 1] per block
      const dqs: tf.Tensor[] = [];
      let dk: tf.Tensor | null = null;
      let dv: tf.Tensor | null = null;
      for (let i = 0; i < nb; i++) {
        const n = sizes[i];
        const kb = ks[i];
        const keys = kb.shape[2];
        const dO = dys[i].reshape([B, kvH, g * n, d]);
        const p = ps[i];
        // dP − D as one product: [dO | −D]·[v | 1]ᵀ (the broadcast subtraction over the T×T block is a slow
        // kernel natively; one more column in a d-wide product is not).
        const dOaug = tf.concat([dO, Ds[i].reshape([B, kvH, g * n, 1])], 3);
        const vaug = tf.concat([vs[i], tf.ones([B, kvH, keys, 1])], 3);
        const dS = p.mul(tf.matMul(dOaug, vaug, false, true));
        dqs.push(tf.matMul(dS, kb).reshape([B, kvH, g, n, d]));
        // Keys past this block's end got no weight: their gradient rows are zero (pad).
        const full = (t: tf.Tensor) => (keys === Tk ? t : t.pad([[0, 0], [0, 0], [0, Tk - keys], [0, 0]]));
        const dkb = full(tf.matMul(dS, qbs2[i].reshape([B, kvH, g * n, d]), true, false));
        const dvb = full(tf.matMul(p, dO, true, false));
        dk = dk === null ? dkb : dk.add(dkb);
        dv = dv === null ? dvb : dv.add(dvb);
      }
      return [nb === 1 ? dqs[0] : tf.concat(dqs, 3), dk!, dv!];
    };
    return { value: out, gradFunc };
  };
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as Attend;
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
