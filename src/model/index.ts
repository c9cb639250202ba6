/** The model layer's public surface (re-exports only). */
export * from './config';
export * from './types';
export { ModelError } from './errors';
export { Rng } from './rng';
export { LlamaModel, ownAsVariable } from './llama';
export type { ModelOptions } from './llama';
export { KVCache } from './kv-cache';
export { RewardModel, SCORE_WEIGHT } from './reward';
export type { RewardInitOptions } from './reward';
export { tokenLogProbs, sequenceLogProbs, pairLogProbs, maskedSums } from './logprobs';
export type { SequenceLogProbs, PairLogProbs } from './logprobs';
export { generate } from './generate';
export type { GenerateOptions, GenerateResult } from './generate';
export { sampleToken, argmax, checkSamplingOptions } from './sampling';
export type { SamplingOptions } from './sampling';
export { llamaWeightSpecs } from './llama-weights';
export type { WeightSpec } from './llama-weights';
export type { DecoderBlock, BlockContext, LayerKV } from './layers';
