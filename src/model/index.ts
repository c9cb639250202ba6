/** The model layer's public surface (re-exports only). */
export * from './config';
export * from './types';
export { ModelError } from './errors';
export { Rng } from './rng';
export { LanguageModel, LanguageModel as LlamaModel, ownAsVariable } from './language-model';
export type { ModelOptions } from './language-model';
export type { ModelFamily, FamilyNet, Positions } from './family';
export {
  FAMILIES, familyOf, familyForModelType, parseModelConfig, supportedModelTypes, PRESETS, presetConfig,
  architectureOf, hfConfigJson, weightSpecs, weightShapes, fusedOpsByFamily,
} from './families';
export type { PresetVocabulary } from './families';
export { llamaFamily, parseLlamaConfig, LLAMA_PRESETS, layerPrefix } from './families/llama';
export type { LlamaConfig } from './families/llama';
export { gpt2Family, parseGPT2Config, GPT2_PRESETS } from './families/gpt2';
export type { GPT2Config } from './families/gpt2';
export { KVCache } from './kv-cache';
export { RewardModel, SCORE_WEIGHT } from './reward';
export type { RewardInitOptions } from './reward';
export { withPadToken, EMBEDDING_WEIGHT } from './vocab';
export { tokenLogProbs, sequenceLogProbs, pairLogProbs, maskedSums } from './logprobs';
export type { SequenceLogProbs, PairLogProbs } from './logprobs';
export { generate } from './generate';
export type { GenerateOptions, GenerateResult } from './generate';
export { sampleToken, argmax, checkSamplingOptions } from './sampling';
export type { SamplingOptions } from './sampling';
export { checkWeights, randomTensors, withHead, LM_HEAD_WEIGHT } from './weights';
export type { WeightSpec, WeightHead, ModelHead } from './weights';
export type { DecoderBlock, BlockContext, LayerKV } from './layers';
