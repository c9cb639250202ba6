/**
 * The registry of model families: config.json's model_type -> the family that reads it (family.ts says what a
 * family provides). A new family is its folder plus one entry in FAMILIES; its presets, class names and weight
 * table are found through it from then on (io/ loads, saves and names checkpoints through these functions).
 *
 * Does: look families up, and the few things every caller would otherwise derive the same way (a preset's
 * config for a tokenizer, config.json with its architectures, the full weight table with a head).
 * Does NOT: read files (io/), or build models (language-model.ts).
 */
import type { FusedOp } from '../../backend/ops';
import { ConfigError, type ModelConfig, type PresetConfig } from '../config';
import type { ModelFamily } from '../family';
import { withHead, type ModelHead, type WeightHead, type WeightSpec } from '../weights';
import { gpt2Family } from './gpt2';
import { llamaFamily } from './llama';

/** Every family this toolkit implements. */
export const FAMILIES: readonly ModelFamily[] = [llamaFamily, gpt2Family];

/** model_type values, in registry order: 'llama', 'qwen2', 'gpt2'. */
export function supportedModelTypes(): string[] {
  return FAMILIES.flatMap((f) => [...f.modelTypes]);
}

/** The family for a model_type (a config.json without one is read as Llama's, as this toolkit always has). */
export function familyForModelType(modelType: unknown, source = 'config.json'): ModelFamily {
  const type = modelType ?? 'llama';
  const family = FAMILIES.find((f) => f.modelTypes.includes(type as string));
  if (!family) {
    throw new ConfigError(`${source}: model_type ${JSON.stringify(type)} is not supported; expected one of ${supportedModelTypes().map((t) => `"${t}"`).join(', ')}`);
  }
  return family;
}

/** The family a parsed config belongs to. */
export function familyOf(config: ModelConfig): ModelFamily {
  return familyForModelType(config.model_type, `config (model_type ${JSON.stringify(config.model_type)})`);
}

/** Parses a config.json object with the family its model_type names. */
export function parseModelConfig(raw: unknown, source = 'config.json'): ModelConfig {
  const type = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>).model_type : undefined;
  return familyForModelType(type, source).parseConfig(raw as Record<string, unknown>, source);
}

/** Every family's presets by name (`config:tiny`, `config:15m`, `config:gpt2-tiny`); a name two families use is a bug. */
export const PRESETS: Readonly<Record<string, PresetConfig>> = Object.freeze(FAMILIES.reduce<Record<string, PresetConfig>>((all, f) => {
  for (const [name, preset] of Object.entries(f.presets)) {
    if (name in all) throw new Error(`preset "${name}" is defined by two model families; rename one (model/families/${f.name})`);
    all[name] = preset;
  }
  return all;
}, {}));

/** What a tokenizer decides in a preset's config: its vocabulary size and special ids. */
export type PresetVocabulary = Pick<ModelConfig, 'vocab_size' | 'bos_token_id' | 'eos_token_id' | 'pad_token_id'>;

/** The config of preset `name` for a vocabulary, e.g. ('tiny', {vocab_size: 259, ...}) -> a LlamaConfig. */
export function presetConfig(name: string, vocab: PresetVocabulary): ModelConfig {
  if (!Object.prototype.hasOwnProperty.call(PRESETS, name)) {
    throw new ConfigError(`no preset named "${name}"; available: ${Object.keys(PRESETS).map((n) => `config:${n}`).join(', ')}`);
  }
  return { ...PRESETS[name], ...vocab } as ModelConfig;
}

/** HF's class name for a config with this head, e.g. GPT2LMHeadModel, LlamaForSequenceClassification. */
export function architectureOf(config: ModelConfig, head: ModelHead): string {
  const names = familyOf(config).architectures(config);
  return head === 'sequence_classification' ? names.sequenceClassification : names.causalLM;
}

/** The config.json object a Hugging Face user expects: `architectures` first, then the family's fields. */
export function hfConfigJson(config: ModelConfig, head: ModelHead = 'causal_lm'): Record<string, unknown> {
  return { architectures: [architectureOf(config, head)], ...familyOf(config).toHfConfig(config) };
}

/** Every weight a model with this config and head has (HF names and shapes, HF's order). */
export function weightSpecs(config: ModelConfig, head: WeightHead, numLabels = 1): WeightSpec[] {
  return withHead(familyOf(config).backboneWeights(config), config, head, numLabels);
}

/** The same as a map, name -> shape: what a complete checkpoint must hold (io/ checks folders against it). */
export function weightShapes(config: ModelConfig, head: WeightHead = 'causal_lm', numLabels = 1): Map<string, number[]> {
  return new Map(weightSpecs(config, head, numLabels).map((s) => [s.name, s.shape]));
}

/**
 * Which fused kernels each family's runs use where the kernels load, and the line `rlhf env` prints for it,
 * e.g. "llama: causal_attention, rms_norm, silu_mul, log_softmax_pick, sum_squares, adamw; gpt2: causal_attention, log_softmax_pick, sum_squares, adamw".
 */
export function fusedOpsByFamily(): { byFamily: Record<string, FusedOp[]>; text: string } {
  const byFamily = Object.fromEntries(FAMILIES.map((f) => [f.name, [...f.fusedOps]]));
  return { byFamily, text: FAMILIES.map((f) => `${f.name}: ${f.fusedOps.join(', ')}`).join('; ') };
}
