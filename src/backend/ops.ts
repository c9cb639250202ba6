/**
 * The tensor ops model families and the trainer are written in, each deciding here, and only here, how it is
 * computed: by a fused native kernel (native-ops.ts, native/rlhf_ops.cc) when one exists for it and can run now
 * (tensorflow backend, addon loaded and enabled), else by TF.js ops. Nothing else asks fusedOpsAvailable().
 *
 *   op               fused kernel                               TF.js
 *   linear           -                                          one 2-D product ([out, in] weights)
 *   rmsNorm          RlhfRmsNorm                                written-out gradient (autodiff on wasm)
 *   siluMul          RlhfSiluMul                                written-out gradient
 *   causalAttention  RlhfCausalAttention (RoPE, or none)        the caller's path (model/attention.ts)
 *   segmentAttention RlhfSegmentAttention (packed rows)         the caller's path (a bias mask, model/packed.ts)
 *   sumSquares       RlhfSumSquares                             Σ g² per tensor, summed
 *   adamW            RlhfAdamW                                  per-parameter ops, the same bits
 *   logSoftmaxPick   RlhfLogSoftmaxPick(+Grad)                  logSumExp and a gather; softmax − one-hot backward
 *
 * An op without a kernel (GPT-2's LayerNorm and GELU) lives with the family that uses it; it moves here when a
 * kernel for it is added, so that the choice stays in this one place.
 *
 * Every fused call is recorded (fusedOpsUsed): a stage's summary.json says which kernels computed its run, as
 * observed rather than assumed (a GPT-2 run uses no RMSNorm kernel; a left-padded batch no attention kernel).
 *
 * Does: pick and run. Does NOT: load the addon (native-ops.ts) or decide which family uses which op (model/).
 */
import * as tf from '@tensorflow/tfjs';
import {
  fusedAdamW,
  fusedCausalAttention,
  fusedLogSoftmaxPick,
  fusedLogSoftmaxPickGrad,
  fusedOpsAvailable,
  fusedRmsNorm,
  fusedSegmentAttention,
  fusedSiluMul,
  fusedSumSquares,
} from './native-ops';

/** The fused kernels by the names summary.json and `rlhf env` use, in a fixed order. */
export const FUSED_OPS = ['causal_attention', 'segment_attention', 'rms_norm', 'silu_mul', 'log_softmax_pick', 'sum_squares', 'adamw'] as const;
export type FusedOp = (typeof FUSED_OPS)[number];

const used = new Set<FusedOp>();

/** The fused kernels that ran since the last resetFusedOpsUsed(), in FUSED_OPS order. */
export function fusedOpsUsed(): FusedOp[] {
  return FUSED_OPS.filter((op) => used.has(op));
}

/** Starts a new record (a stage calls it before training). */
export function resetFusedOpsUsed(): void {
  used.clear();
}

/** Whether `op`'s fused kernel runs now; records it when it does. */
function fused(op: FusedOp): boolean {
  if (!fusedOpsAvailable()) return false;
  used.add(op);
  return true;
}

/** y = x · wᵀ (+ b) for x [..., in], w [out, in] (HF/PyTorch nn.Linear layout) -> [..., out], as one 2-D product. */
export function linear(x: tf.Tensor, w: tf.Tensor, b?: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const inDim = x.shape[x.shape.length - 1];
    const outDim = w.shape[0];
    // A 2-D x goes straight in: every reshape is a kernel call forward and another backward (~15-45 us each on
    // tensorflow), and a Llama block, which works on [B·T, D] rows, makes seven linears per layer.
    let y = tf.matMul(x.rank === 2 ? x : x.reshape([-1, inDim]), w, false, true);
    if (b) y = y.add(b);
    return x.rank === 2 ? y : y.reshape([...x.shape.slice(0, -1), outDim]);
  });
}

/**
 * RMSNorm, float32: x / sqrt(mean(x²) + eps) · w.  x [..., D], w [D].
 * Fused: one kernel each way. Otherwise, off wasm, the gradient is written out (rmsNormWrittenGrad); wasm keeps
 * autodiff's, which measured faster there.
 */
export function rmsNorm(x: tf.Tensor, w: tf.Tensor, eps: number): tf.Tensor {
  return tf.tidy(() => {
    const xf = x.dtype === 'float32' ? x : x.toFloat();
    if (fused('rms_norm')) return fusedRmsNorm(xf, w, eps);
    if (tf.getBackend() !== 'wasm') return rmsNormWrittenGrad(eps)(xf, w);
    const ms = xf.square().mean(-1, true); // [..., 1]
    return xf.mul(ms.add(eps).rsqrt()).mul(w);
  });
}

/**
 * y = (x·r)·w with r = rsqrt(mean(x²) + eps), and its gradient written out from the saved x·r:
 *   dw = Σ_rows dy·(x·r);   dx = r·(g − (x·r)·mean(g·(x·r))),  g = dy·w.
 * Six passes over x's size in the backward against autodiff's ten (the broadcast of mean's gradient, the
 * square's, and the sum of x's two gradient paths go). Same forward values; gradients equal up to rounding.
 */
function rmsNormWrittenGrad(eps: number): (x: tf.Tensor, w: tf.Tensor) => tf.Tensor {
  return tf.customGrad(((x: tf.Tensor, w: tf.Tensor, save: tf.GradSaveFunc) => {
    const r = x.square().mean(-1, true).add(eps).rsqrt(); // [..., 1]
    const xr = x.mul(r);
    save([xr, r, w]);
    return {
      value: xr.mul(w),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xrs, rs, ws] = saved;
        const g = dy.mul(ws);
        const dx = g.sub(xrs.mul(g.mul(xrs).mean(-1, true))).mul(rs);
        const dw = dy.mul(xrs).reshape([-1, ws.shape[0]]).sum(0);
        return [dx, dw];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor, w: tf.Tensor) => tf.Tensor;
}

/**
 * silu(g) ⊙ u with its gradient written out: du = dy·silu(g), dg = dy·u·s·(1 + g·(1 − s)), s = σ(g).
 * Autodiff of g·σ(g)·u takes ~11 passes over these [B, T, F] tensors in the backward, this takes 6
 * (fwd+bwd on [16, 256, 768]: 27 -> 18 ms native, 56 -> 24 ms wasm). Same forward values; gradients
 * equal up to float rounding (~1e-7 relative).
 */
const siluGate = tf.customGrad(((g: tf.Tensor, u: tf.Tensor, save: tf.GradSaveFunc) => {
  const s = tf.sigmoid(g);
  const gs = g.mul(s); // silu(g)
  save([u, s, gs]);
  return {
    value: gs.mul(u),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [us, ss, gss] = saved;
      const dSilu = ss.add(gss.mul(tf.scalar(1).sub(ss))); // σ(g)·(1 + g·(1 − σ(g)))
      return [dy.mul(us).mul(dSilu), dy.mul(gss)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (g: tf.Tensor, u: tf.Tensor) => tf.Tensor;

/** silu(g) ⊙ u, the SwiGLU gate. Fused: one kernel each way (σ recomputed in the backward, nothing else saved). */
export function siluMul(g: tf.Tensor, u: tf.Tensor): tf.Tensor {
  return fused('silu_mul') ? fusedSiluMul(g, u) : siluGate(g, u);
}

/**
 * Causal self-attention over whole sequences that have no padding before a real token (no KV cache):
 * q [B, T, H, d], k and v [B, T, kvH, d] as projected; rope: the [T, d/2] tables q and k are rotated by (HF's
 * rotate-half), or null for a family without RoPE. The fused kernel computes it in one op (no head transposes, no
 * T×T tensors): with identity tables (cos 1, sin 0) when there is no RoPE, which rotate nothing exactly
 * (x·1 − y·0 = x). Where it cannot run (or d is odd: the kernel's tables are [T, d/2]), `tfjs()` computes it.
 * Returns [B, T, H, d] fused, or whatever `tfjs()` returns.
 */
export function causalAttention(
  q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, scale: number,
  rope: { cos: tf.Tensor2D; sin: tf.Tensor2D } | null, tfjs: () => tf.Tensor,
): tf.Tensor {
  const [, T, , d] = q.shape;
  if (d % 2 !== 0 || !fused('causal_attention')) return tfjs();
  return tf.tidy(() => {
    const tables = rope ?? { cos: tf.ones([T, d / 2]) as tf.Tensor2D, sin: tf.zeros([T, d / 2]) as tf.Tensor2D };
    return fusedCausalAttention(q, k, v, tables.cos, tables.sin, scale);
  });
}

/**
 * Whether segmentAttention runs the fused kernel for heads of size d now (nothing is recorded). There a packed
 * row's work does not grow with its length: the kernel computes each run of items that attend only to themselves
 * on its own (native/rlhf_ops.cc SegSpans), so a whole batch can go in one row (data/packing.ts oneRow). The TF.js
 * path's [T, T] bias grows with the square of the row.
 */
export function segmentAttentionFused(d: number): boolean {
  return d % 2 === 0 && fusedOpsAvailable();
}

/**
 * Attention over packed rows (padding-free batches, shared prompts; model/packed.ts): q [B, T, H, d], k and v
 * [B, T, kvH, d] as projected; layout [B, T, 4] float32 per token (position, own segment start, prefix start, prefix
 * end): token t attends to keys [prefix start, prefix end) ∪ [segment start, t], rotated by the rope tables' row of
 * its position ([T, d/2]; null without RoPE: identity tables). The fused kernel never builds the [T, T] mask; where
 * it cannot run (or d is odd), `tfjs()` computes it (model/attention.ts with the layout's bias). A negative segment
 * start marks a query whose output nobody reads (model/packed.ts layoutTensor's `read`): the kernel may skip it and
 * leave zeros there; `tfjs()` computes it anyway.
 */
export function segmentAttention(
  q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, scale: number,
  rope: { cos: tf.Tensor2D; sin: tf.Tensor2D } | null, layout: tf.Tensor3D, tfjs: () => tf.Tensor,
): tf.Tensor {
  const [, T, , d] = q.shape;
  if (!segmentAttentionFused(d) || !fused('segment_attention')) return tfjs();
  return tf.tidy(() => {
    const tables = rope ?? { cos: tf.ones([T, d / 2]) as tf.Tensor2D, sin: tf.zeros([T, d / 2]) as tf.Tensor2D };
    return fusedSegmentAttention(q, k, v, tables.cos, tables.sin, layout, scale);
  });
}

/**
 * The LM head's log-softmax at each row's target: logits [N, V] and token ids targets (N of them) -> picked[n] =
 * log softmax(logits[n])[targets[n]] and lse[n] = log Σ_v exp(logits[n, v]), which logSoftmaxPickGrad takes back. No
 * gradient is recorded through it: the head (model/logprobs.ts headLogProbs) writes its own. Fused: one pass over a
 * row where TF.js takes a logSumExp (max, subtract, exp, sum, log) and a gather on the flattened logits.
 */
export function logSoftmaxPick(logits: tf.Tensor2D, targets: Int32Array): { picked: tf.Tensor1D; lse: tf.Tensor1D } {
  const [N, V] = logits.shape;
  if (targets.length !== N) throw new Error(`logSoftmaxPick: ${N} rows of logits but ${targets.length} targets`);
  if (fused('log_softmax_pick')) {
    const t = tf.tensor1d(Float32Array.from(targets)); // the kernel's inputs are all float32 (ids < 2^24 are exact)
    const out = fusedLogSoftmaxPick(logits, t);
    t.dispose();
    return out;
  }
  const lse = tf.logSumExp(logits, 1) as tf.Tensor1D;
  const picked = tf.tidy(() => {
    const flat = tf.tensor1d(Int32Array.from(targets, (t, n) => n * V + t), 'int32'); // 1-D gather: wasm has no batchDims gather
    return tf.gather(logits.reshape([N * V]), flat).sub(lse) as tf.Tensor1D;
  });
  return { picked, lse };
}

/**
 * logSoftmaxPick's gradient with respect to the logits, given dy [N] for picked: dy[n] · (onehot(targets[n]) −
 * exp(logits[n] − lse[n])) -> [N, V]. Fused: one pass; TF.js: one-hot, exp of the shifted logits, difference, product.
 */
export function logSoftmaxPickGrad(logits: tf.Tensor2D, lse: tf.Tensor1D, targets: Int32Array, dy: tf.Tensor1D): tf.Tensor2D {
  const [N, V] = logits.shape;
  if (targets.length !== N) throw new Error(`logSoftmaxPickGrad: ${N} rows of logits but ${targets.length} targets`);
  return tf.tidy(() => {
    if (fused('log_softmax_pick')) return fusedLogSoftmaxPickGrad(logits, lse, tf.tensor1d(Float32Array.from(targets)), dy);
    const p = tf.exp(logits.sub(lse.reshape([N, 1])));
    return tf.oneHot(tf.tensor1d(targets, 'int32'), V).toFloat().sub(p).mul(dy.reshape([N, 1])) as tf.Tensor2D;
  });
}

/** Σ x² over every element of every tensor (the global gradient norm², e.g. for clipping) -> scalar. Fused: one kernel. */
export function sumSquares(xs: tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => (fused('sum_squares') ? fusedSumSquares(xs) : (tf.addN(xs.map((g) => g.square().sum())) as tf.Scalar)));
}

/** One parameter's part in an AdamW step: the parameter, its moments, its gradient and its decay factor. */
export interface AdamWSlot {
  p: tf.Variable;
  m: tf.Variable;
  v: tf.Variable;
  g: tf.Tensor;
  /** 1 − lr·λ for a decayed parameter, exactly 1 otherwise. */
  decay: number;
}

/** The step's scalars: β1, β2, ε, √(1 − β2ᵗ) and the step size lr / (1 − β1ᵗ). */
export interface AdamWScalars {
  beta1: number;
  beta2: number;
  epsilon: number;
  bc2Sqrt: number;
  stepSize: number;
}

/**
 * One AdamW step (Loshchilov & Hutter 2019, torch.optim.AdamW's arithmetic), assigning p, m and v in place:
 *   p ← p · decay ;  m ← β1·m + (1 − β1)·g ;  v ← β2·v + (1 − β2)·g² ;  p ← p − stepSize · m / (√v / bc2Sqrt + ε)
 * Fused: every parameter in one kernel, multiplying by the same float32 scalars as the TF.js ops (identical bits).
 */
export function adamW(slots: AdamWSlot[], h: AdamWScalars): void {
  if (slots.length === 0) return;
  if (fused('adamw')) return adamWFused(slots, h);
  for (const s of slots) {
    tf.tidy(() => {
      const mNew = s.m.mul(h.beta1).add(s.g.mul(1 - h.beta1));
      const vNew = s.v.mul(h.beta2).add(s.g.square().mul(1 - h.beta2));
      s.m.assign(mNew);
      s.v.assign(vNew);
      const decayed = s.decay !== 1 ? s.p.mul(s.decay) : s.p;
      const denom = vNew.sqrt().div(h.bc2Sqrt).add(h.epsilon);
      s.p.assign(decayed.sub(mNew.div(denom).mul(h.stepSize)));
    });
  }
}

/** hyper = [β1, 1−β1, β2, 1−β2, √(1−β2ᵗ), ε, lr/(1−β1ᵗ)]: the float32 values the TF.js ops above multiply by. */
function adamWFused(slots: AdamWSlot[], h: AdamWScalars): void {
  const out = tf.tidy(() => {
    const hyper = tf.tensor1d([h.beta1, 1 - h.beta1, h.beta2, 1 - h.beta2, h.bc2Sqrt, h.epsilon, h.stepSize]);
    const decay = tf.tensor1d(slots.map((s) => s.decay));
    return fusedAdamW(slots.map((s) => s.p), slots.map((s) => s.m), slots.map((s) => s.v), slots.map((s) => s.g), hyper, decay);
  });
  slots.forEach((s, i) => {
    s.m.assign(out.m[i]);
    s.v.assign(out.v[i]);
    s.p.assign(out.p[i]);
  });
  tf.dispose([...out.p, ...out.m, ...out.v]);
}
