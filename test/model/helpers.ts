/** Shared bits for the model tests: tiny configs, the stories260K paths and the requirement that they exist. */
import type { PairExample } from '../../src/data';
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

const record = { prompt: 'p', chosen: 'c', rejected: 'r', id: 'x', source: 't:1' };

/** A pair of token-id sequences whose completions start at `completionStart` (the packing and keep-rows tests). */
export const pair = (chosen: number[], rejected: number[], completionStart: number): PairExample => ({
  record, chosen: { ids: chosen, completionStart }, rejected: { ids: rejected, completionStart },
});

/** Four pairs: shared prompts of 1-5 tokens, a common start past the prompt, an identical pair, unequal lengths. */
export const PACKING_PAIRS: PairExample[] = [
  pair([1, 5, 6, 7, 8, 9, 10], [1, 5, 6, 11, 12], 3),
  pair([1, 12, 13], [1, 12, 14, 15, 16, 17, 18, 19], 2),
  pair([1, 3, 4, 20, 21], [1, 3, 4, 20, 21], 1),
  pair([1, 7, 7, 7, 7, 22, 23], [1, 7, 7, 7, 7, 24], 5),
];
