/**
 * The Llama family's weight table: every backbone tensor of a Hugging Face LlamaModel / Qwen2Model with its
 * shape and initialiser, in HF's order (the heads, lm_head and score, are the same in every family: weights.ts).
 * Linear weights are [out, in], as nn.Linear stores them; the names are HF's, so a checkpoint is HF safetensors
 * verbatim. Example (tiny preset, 2 layers): model.embed_tokens.weight [V, 64],
 * model.layers.0.input_layernorm.weight [64], model.layers.0.self_attn.q_proj.weight [64, 64],
 * model.layers.0.self_attn.k_proj.weight [32, 64], ..., model.norm.weight [64].
 *
 * Does: list names and shapes. Does NOT: read files (io/), check or initialise tensors (weights.ts).
 */
import type { WeightSpec } from '../../weights';
import type { LlamaConfig } from './config';

export const LLAMA_EMBEDDING = 'model.embed_tokens.weight';

/** HF layer prefix: `layerPrefix(3)` -> `model.layers.3`. */
export const layerPrefix = (i: number): string => `model.layers.${i}`;

/** The bare LlamaModel's weights (what LlamaForCausalLM and LlamaForSequenceClassification wrap). */
export function llamaBackboneWeights(cfg: LlamaConfig): WeightSpec[] {
  const D = cfg.hidden_size;
  const qDim = cfg.num_attention_heads * cfg.head_dim;
  const kvDim = cfg.num_key_value_heads * cfg.head_dim;
  const F = cfg.intermediate_size;
  const specs: WeightSpec[] = [{ name: LLAMA_EMBEDDING, shape: [cfg.vocab_size, D], init: 'normal' }];
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    const p = layerPrefix(i);
    specs.push({ name: `${p}.input_layernorm.weight`, shape: [D], init: 'ones' });
    for (const [proj, out] of [['q', qDim], ['k', kvDim], ['v', kvDim]] as const) {
      specs.push({ name: `${p}.self_attn.${proj}_proj.weight`, shape: [out, D], init: 'normal' });
      if (cfg.attention_bias) specs.push({ name: `${p}.self_attn.${proj}_proj.bias`, shape: [out], init: 'zeros' });
    }
    specs.push({ name: `${p}.self_attn.o_proj.weight`, shape: [D, qDim], init: 'normal' });
    specs.push({ name: `${p}.post_attention_layernorm.weight`, shape: [D], init: 'ones' });
    specs.push({ name: `${p}.mlp.gate_proj.weight`, shape: [F, D], init: 'normal' });
    specs.push({ name: `${p}.mlp.up_proj.weight`, shape: [F, D], init: 'normal' });
    specs.push({ name: `${p}.mlp.down_proj.weight`, shape: [D, F], init: 'normal' });
  }
  specs.push({ name: 'model.norm.weight', shape: [D], init: 'ones' });
  return specs;
}

/** Names Llama checkpoints may carry that hold nothing for us: the RoPE inverse-frequency buffers. */
export const LLAMA_IGNORABLE = [/(^|\.)rotary_emb\.inv_freq$/];
