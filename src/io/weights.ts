/**
 * The Hugging Face weight layout of the Llama family, as names and shapes for a config.
 * Example (tiny preset, 2 layers, tied): `model.embed_tokens.weight [V, 64]`,
 * `model.layers.0.self_attn.q_proj.weight [64, 64]`, `model.layers.0.self_attn.k_proj.weight [32, 64]`, ...,
 * `model.norm.weight [64]`; `lm_head.weight [V, 64]` only when untied; `score.weight [1, 64]` for a reward head.
 *
 * Does: list what a complete checkpoint must hold. Does NOT: read files or build tensors.
 */
import type { LlamaConfig } from '../model/config';

/** Which head sits on the backbone: next-token logits or a sequence-classification (reward) score. */
export type ModelHead = 'causal_lm' | 'sequence_classification';

export function llamaWeightShapes(cfg: LlamaConfig, head: ModelHead = 'causal_lm', numLabels = 1): Map<string, number[]> {
  const H = cfg.hidden_size;
  const q = cfg.num_attention_heads * cfg.head_dim;
  const kv = cfg.num_key_value_heads * cfg.head_dim;
  const I = cfg.intermediate_size;
  const m = new Map<string, number[]>();
  m.set('model.embed_tokens.weight', [cfg.vocab_size, H]);
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    const p = `model.layers.${i}.`;
    m.set(p + 'input_layernorm.weight', [H]);
    m.set(p + 'self_attn.q_proj.weight', [q, H]);
    m.set(p + 'self_attn.k_proj.weight', [kv, H]);
    m.set(p + 'self_attn.v_proj.weight', [kv, H]);
    if (cfg.attention_bias) {
      m.set(p + 'self_attn.q_proj.bias', [q]);
      m.set(p + 'self_attn.k_proj.bias', [kv]);
      m.set(p + 'self_attn.v_proj.bias', [kv]);
    }
    m.set(p + 'self_attn.o_proj.weight', [H, q]);
    m.set(p + 'post_attention_layernorm.weight', [H]);
    m.set(p + 'mlp.gate_proj.weight', [I, H]);
    m.set(p + 'mlp.up_proj.weight', [I, H]);
    m.set(p + 'mlp.down_proj.weight', [H, I]);
  }
  m.set('model.norm.weight', [H]);
  if (head === 'sequence_classification') m.set('score.weight', [numLabels, H]);
  else if (!cfg.tie_word_embeddings) m.set('lm_head.weight', [cfg.vocab_size, H]);
  return m;
}
