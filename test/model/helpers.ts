/** Shared bits for the model tests: tiny configs, the stories260K paths and the requirement that they exist. */
import type { LlamaConfig } from '../../src/model/families/llama';
import type { Requirement } from '../helpers/gates';
import { sharedFiles, sharedPath } from '../helpers/shared';

export function tinyConfig(over: Partial<LlamaConfig> = {}): LlamaConfig {
  return {
    model_type: 'llama', vocab_size: 37, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2,
    num_attention_heads: 4, num_key_value_heads: 4, head_dim: 4, max_position_embeddings: 64, rms_norm_eps: 1e-5,
    rope_theta: 10000, tie_word_embeddings: true, attention_bias: false, bos_token_id: 1, eos_token_id: 2,
    pad_token_id: 0, ...over,
  };
}

export const STORIES = sharedPath('models/stories260K');

/** stories260K (the llama2.c .bin and its HF folder) plus `more` files of its folder (e.g. 'golden-logits.json'). */
export function stories260K(...more: string[]): Requirement {
  return sharedFiles(...['stories260K.bin', 'hf/model.safetensors', ...more].map((f) => `models/stories260K/${f}`));
}
