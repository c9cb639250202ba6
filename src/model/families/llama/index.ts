/**
 * The Llama family as one value for the registry (families/index.ts): Llama and Qwen2 checkpoints
 * (LlamaForCausalLM / Qwen2ForCausalLM, …ForSequenceClassification). Every fused kernel applies to it:
 * attention with RoPE, RMSNorm, the SwiGLU gate, and the trainer's gradient norm and AdamW.
 */
import type { ModelFamily } from '../../family';
import { LLAMA_PRESETS, llamaHfConfig, parseLlamaConfig, type LlamaConfig } from './config';
import { buildLlama } from './model';
import { LLAMA_EMBEDDING, LLAMA_IGNORABLE, llamaBackboneWeights } from './weights';

export const llamaFamily: ModelFamily<LlamaConfig> = {
  name: 'llama',
  modelTypes: ['llama', 'qwen2'],
  parseConfig: parseLlamaConfig,
  toHfConfig: llamaHfConfig,
  architectures: (c) => {
    const prefix = c.model_type === 'qwen2' ? 'Qwen2' : 'Llama';
    return { causalLM: `${prefix}ForCausalLM`, sequenceClassification: `${prefix}ForSequenceClassification` };
  },
  backboneWeights: llamaBackboneWeights,
  embeddingWeight: LLAMA_EMBEDDING,
  ignorable: LLAMA_IGNORABLE,
  build: buildLlama,
  fusedOps: ['causal_attention', 'segment_attention', 'rms_norm', 'silu_mul', 'log_softmax_pick', 'sum_squares', 'adamw'],
  presets: LLAMA_PRESETS,
};

export { parseLlamaConfig, LLAMA_PRESETS } from './config';
export type { LlamaConfig } from './config';
export { layerPrefix, llamaBackboneWeights } from './weights';
