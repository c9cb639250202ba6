/**
 * The GPT-2 family's forward pieces: token plus learned position embeddings, N pre-norm blocks
 * `x = x + attn(ln_1(x)); x = x + mlp(ln_2(x))` (LayerNorm with bias, multi-head attention without RoPE, a
 * GELU-tanh MLP), and a final LayerNorm. Projections are Conv1D: y = x·W + b with W stored [in, out].
 * The model around them (heads, caches, batched forwards) is language-model.ts's. A block given keepRows
 * (layers.ts) runs c_proj, the residual and the MLP on those rows only.
 *
 * Fused kernels: the attention core goes through backend/ops.ts's causalAttention like every family's (its
 * kernel runs with identity RoPE tables). LayerNorm and GELU have no kernel: they are TF.js ops, here (should a
 * kernel for them be written, they move to backend/ops.ts, where the fused-or-TF.js choice is made).
 *
 * Does: the block and the embed/norm pieces over the model's weights. Does NOT: own weights, or implement the
 * attention core (attention.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { selfAttention } from '../../attention';
import { ModelError } from '../../errors';
import type { FamilyNet, Positions } from '../../family';
import type { BlockContext, DecoderBlock, LayerKV } from '../../layers';
import type { GPT2Config } from './config';
import { GPT2_EMBEDDING, GPT2_POSITIONS, gpt2LayerPrefix } from './weights';

type Weight = (name: string) => tf.Variable;

/**
 * LayerNorm as torch.nn.LayerNorm: (x − mean) / sqrt(var + eps) · w + b over the last axis, with the biased
 * variance. x [..., D], w and b [D].
 */
export function layerNorm(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, eps: number): tf.Tensor {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, -1, true); // [..., 1] each
    return x.sub(mean).mul(variance.add(eps).rsqrt()).mul(w).add(b);
  });
}

const GELU_C = Math.sqrt(2 / Math.PI);

/**
 * GELU, tanh approximation (Hendrycks & Gimpel 2016; transformers' "gelu_new", "gelu_pytorch_tanh" and
 * "gelu_fast" are this function): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). e.g. 1 -> 0.8412, -1 -> -0.1588.
 */
export function geluTanh(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => x.mul(0.5).mul(tf.tanh(x.add(x.square().mul(x).mul(0.044715)).mul(GELU_C)).add(1)));
}

/** HF's Conv1D: y = x·W + b for x [..., in], W [in, out], b [out] -> [..., out], as one 2-D product. */
export function conv1d(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [inDim, outDim] = w.shape;
    if (x.rank === 2) return tf.matMul(x, w).add(b); // rows already: no reshape kernels either way (ops.ts linear)
    return tf.matMul(x.reshape([-1, inDim]), w).add(b).reshape([...x.shape.slice(0, -1), outDim]);
  });
}

/** One GPT-2 block; reads its weights by HF name. */
class GPT2Block implements DecoderBlock {
  private readonly w: (suffix: string) => tf.Variable;

  constructor(weight: Weight, index: number, private readonly cfg: GPT2Config) {
    const p = gpt2LayerPrefix(index);
    this.w = (s) => weight(`${p}.${s}`);
  }

  forward(x: tf.Tensor3D, ctx: BlockContext, past?: LayerKV): { y: tf.Tensor3D; kv?: LayerKV } {
    return tf.tidy(() => {
      // Rows [B·T, D] inside the block, as the Llama block: one reshape in, one out, none around each projection.
      const [B, T, D] = x.shape;
      const rows = x.reshape([B * T, D]);
      const { heads, kv } = this.attention(this.norm('ln_1', rows), B, T, ctx, past);
      // Past the attention core every row is on its own: with keepRows, only the rows read go on.
      const [xs, hs] = ctx.keepRows ? [tf.gather(rows, ctx.keepRows), tf.gather(heads, ctx.keepRows)] : [rows, heads];
      const h = xs.add(this.proj('attn.c_proj', hs)); // [B·T, D], or [N, D] kept; c_proj mixes the heads
      const m = this.proj('mlp.c_proj', geluTanh(this.proj('mlp.c_fc', this.norm('ln_2', h))));
      return { y: h.add(m).reshape(ctx.keepRows ? [1, h.shape[0], D] : [B, T, D]) as tf.Tensor3D, kv }; // [B, T, D], or [1, N, D] kept
    });
  }

  /** x [B·T, D] (normed rows) -> the heads' outputs [B·T, D] before c_proj: c_attn gives q, k, v side by side. */
  private attention(x: tf.Tensor, B: number, T: number, ctx: BlockContext, past?: LayerKV): { heads: tf.Tensor2D; kv?: LayerKV } {
    const { num_attention_heads: H, hidden_size: D } = this.cfg;
    const [q, k, v] = tf.split(this.proj('attn.c_attn', x), 3, 1).map((t) => t.reshape([B, T, H, D / H]) as tf.Tensor4D); // [B, T, H, d] each
    const { out, kv } = selfAttention(q, k, v, ctx, past); // [B·T, D]
    return { heads: out, kv };
  }

  private norm(name: string, x: tf.Tensor): tf.Tensor {
    return layerNorm(x, this.w(`${name}.weight`), this.w(`${name}.bias`), this.cfg.layer_norm_epsilon);
  }

  private proj(name: string, x: tf.Tensor): tf.Tensor {
    return conv1d(x, this.w(`${name}.weight`), this.w(`${name}.bias`));
  }
}

/** Embeddings (tokens + learned positions), blocks, final LayerNorm; no RoPE. */
export function buildGPT2(config: GPT2Config, weight: Weight): FamilyNet {
  const wte = weight(GPT2_EMBEDDING);
  const wpe = weight(GPT2_POSITIONS);
  const lnF = [weight('transformer.ln_f.weight'), weight('transformer.ln_f.bias')];
  return {
    blocks: Array.from({ length: config.num_hidden_layers }, (_, i) => new GPT2Block(weight, i, config)),
    embed: (ids, at) => tf.tidy(() => tf.gather(wte, ids).add(positionEmbeddings(wpe, at, config)) as tf.Tensor3D),
    positional: () => ({}),
    finalNorm: (x) => layerNorm(x, lnF[0], lnF[1], config.layer_norm_epsilon) as tf.Tensor3D,
    dispose: () => {},
  };
}

/**
 * wpe rows for the positions: [T, D] for offset..offset+T-1 (a slice, whose gradient needs no scatter: every
 * backend trains it), or [B, T, D] gathered per token: a left-padded batch (sampling) or packed rows, whose positions restart per
 * sequence (model/packed.ts; trained through gather's gradient, which wasm gets from backend/wasm-patches.ts).
 */
function positionEmbeddings(wpe: tf.Tensor, at: Positions, config: GPT2Config): tf.Tensor {
  const D = config.hidden_size;
  const last = 'rows' in at ? at.rows.reduce((m, p) => Math.max(m, p), 0) : at.offset + at.T - 1;
  if (last >= config.max_position_embeddings) {
    throw new ModelError(`position ${last} is past GPT-2's learned positions (n_positions ${config.max_position_embeddings}); shorten the sequence (max_length) or use a model with more positions`);
  }
  if ('rows' in at) return tf.gather(wpe, tf.tensor1d(at.rows, 'int32')).reshape([at.B, at.T, D]);
  return wpe.slice([at.offset, 0], [at.T, D]);
}
