/**
 * The stateless pieces every family's decoder shares: the interface a decoder block implements (a Llama
 * block and a GPT-2 block sit behind the same one), the context a forward hands its blocks, attention masks,
 * the SwiGLU MLP, and the gather of the rows a last block keeps.
 *
 * Does: pure tensor functions, each inside tf.tidy. Does NOT: own weights (the model does), or choose between a
 * fused kernel and TF.js ops (backend/ops.ts does, for norms, gates and attention alike).
 */
import * as tf from '@tensorflow/tfjs';
import { linear, siluMul } from '../backend/ops';

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
  /** Packed rows (model/packed.ts): attention follows the layout, not `bias`. */
  packed?: PackedAttention;
  /**
   * The only rows whose output is read (given to the last block alone): flat indices into B·T, int32, in the
   * order wanted, duplicates allowed. Attention still runs over every position (every key and value is needed);
   * the rest of the block (output projection, residual, MLP) runs on these rows only, and y is [1, N, D].
   */
  keepRows?: tf.Tensor1D;
}

/** What a packed forward hands its blocks' attention: the fused kernel's inputs, and the TF.js path's bias on demand. */
export interface PackedAttention {
  /** [R, T, 4] float32 layout (position, segment start, prefix start, prefix end). */
  layout: tf.Tensor3D;
  /**
   * The layout for the last block when only keepRows are read (packed.ts layoutTensor with `read`): the fused
   * kernel skips query blocks nobody reads there. Absent: the last block uses `layout`.
   */
  lastLayout?: tf.Tensor3D;
  /** RoPE tables for positions 0..T-1, [T, d/2] each (the kernel reads the row of each token's position); absent without RoPE. */
  rope?: { cos: tf.Tensor2D; sin: tf.Tensor2D };
  /** The bias [R, 1, 1, T, T] for the TF.js path, built on first call and kept until the forward ends. */
  bias(): tf.Tensor;
}

/** A transformer block: x [B, T, D] -> y [B, T, D] ([1, N, D] with ctx.keepRows), plus the keys/values to cache. */
export interface DecoderBlock {
  /** kv is left out where nothing can reuse it (the fused causal path of a full forward). */
  forward(x: tf.Tensor3D, ctx: BlockContext, past?: LayerKV): { y: tf.Tensor3D; kv?: LayerKV };
}

/** Large negative instead of -Infinity so a fully masked row gives a uniform softmax, not NaN. */
export const MASKED = -1e9;

/** SwiGLU MLP: down(silu(gate(x)) ⊙ up(x)).  x [..., D] -> [..., D] (the Llama block passes rows [B·T, D]). */
export function swiglu(x: tf.Tensor, gate: tf.Tensor, up: tf.Tensor, down: tf.Tensor): tf.Tensor {
  return tf.tidy(() => linear(siluMul(linear(x, gate), linear(x, up)), down)); // x's shape
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
