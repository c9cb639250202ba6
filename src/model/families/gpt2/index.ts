/**
 * The GPT-2 family as one value for the registry (families/index.ts): GPT2LMHeadModel and
 * GPT2ForSequenceClassification checkpoints. Of the fused kernels, attention (without RoPE), the gradient norm
 * and AdamW apply; RMSNorm and the SwiGLU gate do not exist in GPT-2 (its LayerNorm and GELU are TF.js ops).
 */
import type { ModelFamily } from '../../family';
import { GPT2_PRESETS, gpt2HfConfig, parseGPT2Config, type GPT2Config } from './config';
import { buildGPT2 } from './model';
import { GPT2_EMBEDDING, GPT2_IGNORABLE, canonicalGPT2Name, gpt2BackboneWeights } from './weights';

export const gpt2Family: ModelFamily<GPT2Config> = {
  name: 'gpt2',
  modelTypes: ['gpt2'],
  parseConfig: parseGPT2Config,
  toHfConfig: gpt2HfConfig,
  architectures: () => ({ causalLM: 'GPT2LMHeadModel', sequenceClassification: 'GPT2ForSequenceClassification' }),
  backboneWeights: gpt2BackboneWeights,
  embeddingWeight: GPT2_EMBEDDING,
  ignorable: GPT2_IGNORABLE,
  canonicalName: canonicalGPT2Name,
  build: buildGPT2,
  fusedOps: ['causal_attention', 'segment_attention', 'log_softmax_pick', 'sum_squares', 'adamw'],
  presets: GPT2_PRESETS,
};

export { parseGPT2Config, GPT2_PRESETS } from './config';
export type { GPT2Config } from './config';
