/**
 * The Llama family's forward pieces (Llama; Qwen2 with q/k/v biases): token embedding, N pre-norm blocks
 * `x = x + attn(rmsnorm(x)); x = x + mlp(rmsnorm(x))` with RoPE, grouped-query attention and a SwiGLU MLP, and
 * a final RMSNorm. The model around them (heads, caches, batched forwards) is language-model.ts's. A block given
 * keepRows (layers.ts) runs o_proj, the residual and the MLP on those rows only.
 *
 * Does: the block and the embed/norm/RoPE pieces over the model's weights. Does NOT: own weights, choose fused
 * kernels (backend/ops.ts), or implement the attention core (attention.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { linear, rmsNorm } from '../../../backend/ops';
import { selfAttention } from '../../attention';
import type { FamilyNet, Positions } from '../../family';
import { BlockContext, DecoderBlock, LayerKV, swiglu } from '../../layers';
import { RotaryTables } from '../../rope';
import type { LlamaConfig } from './config';
import { LLAMA_EMBEDDING, layerPrefix } from './weights';

type Weight = (name: string) => tf.Variable;

/** One Llama decoder layer; reads its weights by HF name. */
class LlamaBlock implements DecoderBlock {
  private readonly w: (suffix: string) => tf.Variable;
  private readonly b: (suffix: string) => tf.Variable | undefined;

  constructor(weight: Weight, index: number, private readonly cfg: LlamaConfig) {
    const p = layerPrefix(index);
    this.w = (s) => weight(`${p}.${s}`);
    this.b = (s) => (cfg.attention_bias ? weight(`${p}.${s}`) : undefined);
  }

  forward(x: tf.Tensor3D, ctx: BlockContext, past?: LayerKV): { y: tf.Tensor3D; kv?: LayerKV } {
    return tf.tidy(() => {
      // The block works on rows [B·T, D]: one reshape in and one out, instead of two around each of the seven
      // projections (backend/ops.ts linear), each a kernel call forward and another backward.
      const [B, T, D] = x.shape;
      const rows = x.reshape([B * T, D]) as tf.Tensor2D;
      const { kv, heads } = this.attention(rmsNorm(rows, this.w('input_layernorm.weight'), this.cfg.rms_norm_eps) as tf.Tensor2D, B, T, ctx, past);
      // Past the attention core every row is on its own: with keepRows, only the rows read go on.
      const [xs, hs] = ctx.keepRows ? [tf.gather(rows, ctx.keepRows), tf.gather(heads, ctx.keepRows)] : [rows, heads];
      const h = xs.add(linear(hs, this.w('self_attn.o_proj.weight'))); // [B·T, D], or [N, D] kept
      const m = swiglu(rmsNorm(h, this.w('post_attention_layernorm.weight'), this.cfg.rms_norm_eps),
        this.w('mlp.gate_proj.weight'), this.w('mlp.up_proj.weight'), this.w('mlp.down_proj.weight'));
      const y = h.add(m).reshape(ctx.keepRows ? [1, h.shape[0], D] : [B, T, D]) as tf.Tensor3D;
      return { y, kv }; // [B, T, D], or [1, N, D] kept
    });
  }

  /**
   * x [B·T, D] (normed rows) -> the heads' outputs [B·T, H·d] before o_proj, and the full (past + new) rotated keys
   * and values (not on the fused path).
   */
  private attention(x: tf.Tensor2D, B: number, T: number, ctx: BlockContext, past?: LayerKV): { heads: tf.Tensor2D; kv?: LayerKV } {
    const { num_attention_heads: H, num_key_value_heads: kvH, head_dim: d } = this.cfg;
    const proj = (name: 'q' | 'k' | 'v', heads: number) =>
      linear(x, this.w(`self_attn.${name}_proj.weight`), this.b(`self_attn.${name}_proj.bias`)).reshape([B, T, heads, d]) as tf.Tensor4D;
    const { out, kv } = selfAttention(proj('q', H), proj('k', kvH), proj('v', kvH), ctx, past); // [B·T, H·d]
    return { heads: out, kv };
  }
}

/** Embedding, blocks, final RMSNorm and the RoPE tables (grown on demand, freed by dispose). */
export function buildLlama(config: LlamaConfig, weight: Weight): FamilyNet {
  const rope = new RotaryTables(config.head_dim, config.rope_theta, Math.min(256, config.max_position_embeddings));
  const embedding = weight(LLAMA_EMBEDDING);
  const norm = weight('model.norm.weight');
  return {
    blocks: Array.from({ length: config.num_hidden_layers }, (_, i) => new LlamaBlock(weight, i, config)),
    embed: (ids) => tf.gather(embedding, ids) as tf.Tensor3D, // [B, T, D]; positions enter through RoPE
    positional: (at: Positions) => ({ rope: 'rows' in at ? rope.gather(at.rows, at.B, at.T) : rope.slice(at.offset, at.T) }),
    finalNorm: (x) => rmsNorm(x, norm, config.rms_norm_eps) as tf.Tensor3D,
    dispose: () => rope.dispose(),
  };
}
