/**
 * The stateless building blocks of a decoder: RMSNorm, SwiGLU MLP, attention masks, and the
 * interface every decoder block implements (so a GPT-2 block can sit beside the Llama one).
 *
 * Does: pure tensor functions, each inside tf.tidy. Does NOT: own weights (the model does).
 */
import * as tf from '@tensorflow/tfjs';
import { fusedOpsAvailable, fusedRmsNorm, fusedSiluMul } from '../backend/native-ops';
import { linear } from '../backend/ops';

/** One layer's cached keys and values, [B, kvHeads, Tpast, headDim] each (pre-repeat, post-RoPE). */
export type LayerKV = {
  k: tf.Tensor4D;
  v: tf.Tensor4D;
};

/** What a block needs besides its input: position info and the additive attention bias. */
export interface BlockContext {
  /** Index of the first query position (the KV cache length; 0 without a cache). */
  offset: number;
  /** Additive bias broadcastable to [B, 1, 1, Tq, Tk]: 0 where allowed, large negative where masked. */
  bias: tf.Tensor | null;
  /**
   * RoPE tables for positions offset..offset+Tq-1, [Tq, 1, d/2], or per row [B, Tq, 1, d/2] for a left-padded
   * batch (absent for learned-position models).
   */
  rope?: { cos: tf.Tensor3D | tf.Tensor4D; sin: tf.Tensor3D | tf.Tensor4D };
  /** true when `bias` includes the causal mask over the same query and key positions (offset 0, no cache). */
  causal?: boolean;
  /** true when `bias` also masks padded keys (left or inner padding): then the fused causal kernel cannot be used. */
  paddingMasked?: boolean;
}

/** A transformer block: x [B, T, D] -> y [B, T, D], plus the keys/values to cache. */
export interface DecoderBlock {
  /** kv is left out where nothing can reuse it (the fused causal path of a full forward). */
  forward(x: tf.Tensor3D, ctx: BlockContext, past?: LayerKV): { y: tf.Tensor3D; kv?: LayerKV };
}

/** Large negative instead of -Infinity so a fully masked row gives a uniform softmax, not NaN. */
export const MASKED = -1e9;

/**
 * RMSNorm, float32: x / sqrt(mean(x²) + eps) · w.  x [..., D], w [D].
 * With the native kernels: one kernel each way. Otherwise, off wasm, the gradient is written out
 * (rmsNormWrittenGrad); wasm keeps autodiff's, which measured faster there.
 */
export function rmsNorm(x: tf.Tensor, w: tf.Tensor, eps: number): tf.Tensor {
  return tf.tidy(() => {
    const xf = x.dtype === 'float32' ? x : x.toFloat();
    if (fusedOpsAvailable()) return fusedRmsNorm(xf, w, eps); // one native kernel each way (backend/native-ops.ts)
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

/** SwiGLU MLP: down(silu(gate(x)) ⊙ up(x)).  x [B, T, D] -> [B, T, D]. */
export function swiglu(x: tf.Tensor, gate: tf.Tensor, up: tf.Tensor, down: tf.Tensor): tf.Tensor {
  const gated = fusedOpsAvailable() ? fusedSiluMul : siluGate; // native: one kernel each way (backend/native-ops.ts)
  return tf.tidy(() => linear(gated(linear(x, gate), linear(x, up)), down)); // [B, T, D]
}

/**
 * Causal bias [Tq, Tk] for queries at positions offset..offset+Tq-1 over keys 0..Tk-1:
 * 0 where key <= query position, MASKED after.  e.g. (Tq 2, Tk 3, offset 1) -> [[0,0,M],[0,0,0]].
 */
export function causalBias(Tq: number, Tk: number, offset: number): tf.Tensor2D {
  const data = new Float32Array(Tq * Tk);
  for (let i = 0; i < Tq; i++) for (let j = offset + i + 1; j < Tk; j++) data[i * Tk + j] = MASKED;
  return tf.tensor2d(data, [Tq, Tk]);
}

/** Key-padding bias [B, 1, 1, 1, Tk] from attentionMask [B, Tk] (1 = real, 0 = pad). */
export function paddingBias(attentionMask: tf.Tensor2D): tf.Tensor {
  return tf.tidy(() => {
    const [B, Tk] = attentionMask.shape;
    return tf.scalar(1).sub(attentionMask.toFloat()).mul(MASKED).reshape([B, 1, 1, 1, Tk]);
  });
}
