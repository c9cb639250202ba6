/** The model layer's public surface (re-exports only). */
export * from './config';
export * from './types';
export { ModelError } from './errors';
export { Rng, rowSeed } from './rng';
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
export { sampleToken, sampleLogits, samplingDistribution, argmax, checkSamplingOptions } from './sampling';
export type { SamplingOptions, SampledToken } from './sampling';
export { sampleBatch } from './sample-batch';
export type { SampleBatchOptions, SampledRow, PromptRequest, FinishReason } from './sample-batch';
export { pickDecoder, decoderStatus, TfjsDecoder } from './decoder';
export type { Decoder, DecoderChoice, DecoderName } from './decoder';
export { NativeDecoder, nativeFamily } from './native-decoder';
export { checkWeights, randomTensors, withHead, LM_HEAD_WEIGHT } from './weights';
export type { WeightSpec, WeightHead, ModelHead } from './weights';
export type { DecoderBlock, BlockContext, LayerKV } from './layers';
