/**
 * Import of a Hugging Face model folder: `config.json` + `model.safetensors`, or a sharded
 * `model.safetensors.index.json` + its shards. Any family of the registry (model/families: config.json's
 * model_type picks it): causal LMs (LlamaForCausalLM, Qwen2ForCausalLM, GPT2LMHeadModel) and sequence
 * classifiers (…ForSequenceClassification, `score.weight` [num_labels, H]) used as reward models.
 *
 * Does: validate the config (through its family, which refuses what it does not implement), the index (shard
 * names must be plain files inside the folder) and every safetensors header, check each expected weight's
 * presence and shape BEFORE reading any tensor data, and convert F16/BF16/F64 weights to float32. Does NOT: load
 * the tokenizer (see tokenizer/), read pickle files (`pytorch_model.bin` can execute code; it is refused), or
 * rename anything beyond the spellings a family declares the same (GPT-2's unprefixed `h.0....` names).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { ConfigError, type ModelConfig } from '../model/config';
import type { ModelFamily } from '../model/family';
import { familyForModelType, weightShapes } from '../model/families';
import type { WeightBundle } from '../model/types';
import { LM_HEAD_WEIGHT, SCORE_WEIGHT, type ModelHead } from '../model/weights';
import { IoError } from '../util/errors';
import { describeValue, isPlainFileName, readJsonObject } from '../util/json';
import { readSafetensors, readSafetensorsHeader, rawToTensor, type HeaderEntry } from './safetensors';

export type { ModelHead } from '../model/weights';

export class HfModelError extends IoError {
  constructor(readonly where: string, detail: string) {
    super(`${where}: ${detail}`);
  }
}

/** A Hugging Face folder's files (io/checkpoint.ts names its CONFIG_FILE and WEIGHTS_FILE after these). */
export const HF_CONFIG_FILE = 'config.json';
export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';

export interface LoadedModel {
  /** config + HF-named float32 tensors; the model that receives them owns (disposes) them. */
  bundle: WeightBundle;
  head: ModelHead;
  /** Rows of score.weight for a sequence classifier; 0 for a causal LM. */
  numLabels: number;
  /** architectures[0] of config.json, or the one inferred from the tensors. */
  architecture: string;
  /** Things that were present but deliberately not loaded, one sentence each. */
  warnings: string[];
  /** config.json as parsed (for fields this toolkit does not model, e.g. id2label). */
  rawConfig: Record<string, unknown>;
}

/** What a folder holds, validated from headers only (no tensor data read). */
export interface HfFolderPlan {
  dir: string;
  config: ModelConfig;
  family: ModelFamily;
  rawConfig: Record<string, unknown>;
  head: ModelHead;
  numLabels: number;
  architecture: string;
  /** expected name -> shard file (absolute path) and the name the shard stores it under */
  sources: Map<string, { file: string; stored: string }>;
  warnings: string[];
}

const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16', 'F64']);

/** Validates a folder without reading tensor data. */
export function planHfFolder(dir: string): HfFolderPlan {
  const st = statOrNull(dir);
  if (!st) throw new HfModelError(dir, 'folder does not exist');
  if (!st.isDirectory()) throw new HfModelError(dir, 'is not a folder; expected a Hugging Face model folder (config.json + model.safetensors)');
  const configFile = path.join(dir, HF_CONFIG_FILE);
  if (!statOrNull(configFile)) throw new HfModelError(dir, 'has no config.json; expected a Hugging Face model folder (config.json + model.safetensors)');
  const rawConfig = readJsonObject(configFile);
  let family: ModelFamily;
  let config: ModelConfig;
  try {
    family = familyForModelType(rawConfig.model_type, configFile);
    config = family.parseConfig(rawConfig, configFile);
  } catch (e) {
    if (e instanceof ConfigError) throw new HfModelError(configFile, e.message.replace(`${configFile}: `, ''));
    throw e;
  }
  const warnings: string[] = [];
  const headers = shardHeaders(dir, warnings);
  // Stored names in the family's canonical spelling (GPT-2: `h.0.attn...` is `transformer.h.0.attn...`).
  const all = new Map<string, { file: string; entry: HeaderEntry; stored: string }>();
  for (const [file, entries] of headers) {
    for (const [stored, entry] of entries) all.set(family.canonicalName?.(stored) ?? stored, { file, entry, stored });
  }

  const { head, architecture } = detectHead(rawConfig, family, config, all, configFile);
  const numLabels = head === 'sequence_classification' ? labelCount(rawConfig, all, configFile) : 0;
  const expected = weightShapes(config, head, numLabels);
  const sources = new Map<string, { file: string; stored: string }>();
  for (const [name, shape] of expected) {
    const found = all.get(name);
    if (!found) {
      const hint = name === LM_HEAD_WEIGHT ? ' (config.json says tie_word_embeddings is false; set it to true if the head shares the embedding)' : '';
      throw new HfModelError(dir, `weight "${name}" ${describeValue(shape)} is missing${hint}; config.json describes ${config.num_hidden_layers} layers, hidden_size ${config.hidden_size}`);
    }
    if (JSON.stringify(found.entry.shape) !== JSON.stringify(shape)) {
      throw new HfModelError(found.file, `weight "${name}" has shape ${describeValue(found.entry.shape)} but config.json implies ${describeValue(shape)}`);
    }
    if (!FLOAT_DTYPES.has(found.entry.dtype)) {
      throw new HfModelError(found.file, `weight "${name}" has dtype ${found.entry.dtype}; expected a floating-point dtype (F32, F16, BF16, F64)`);
    }
    sources.set(name, { file: found.file, stored: found.stored });
  }
  const unexpected: string[] = [];
  for (const [name, { stored }] of all) {
    if (expected.has(name)) continue;
    if (family.ignorable.some((re) => re.test(name))) warnings.push(`${stored}: a buffer the ${family.name} forward derives itself; not loaded`);
    else if (name === LM_HEAD_WEIGHT && head === 'sequence_classification') warnings.push(`${stored}: a sequence classifier has no LM head; ignored`);
    else if (name === LM_HEAD_WEIGHT) warnings.push(`${stored}: ignored because tie_word_embeddings is true (the head is the embedding, as transformers does)`);
    else unexpected.push(stored);
  }
  if (unexpected.length > 0) {
    const list = unexpected.slice(0, 5).map((n) => `"${n}"`).join(', ') + (unexpected.length > 5 ? ` and ${unexpected.length - 5} more` : '');
    throw new HfModelError(dir, `${unexpected.length} tensor(s) would be ignored: ${list}; config.json (${architecture}, ${config.num_hidden_layers} layers${describeOptions(config)}) does not use them. Fix config.json to describe these weights`);
  }
  return { dir, config, family, rawConfig, head, numLabels, architecture, sources, warnings };
}

/** ", attention_bias false" for a config that has that option (the one a stray bias tensor usually means). */
function describeOptions(config: ModelConfig): string {
  const bias = (config as unknown as Record<string, unknown>).attention_bias;
  return typeof bias === 'boolean' ? `, attention_bias ${bias}` : '';
}

/** Loads a Hugging Face folder as float32 tf tensors with HF names. */
export function loadHfFolder(dir: string): LoadedModel {
  const plan = planHfFolder(dir);
  const byFile = new Map<string, Map<string, string>>(); // file -> stored name -> our name
  for (const [name, { file, stored }] of plan.sources) byFile.set(file, (byFile.get(file) ?? new Map()).set(stored, name));
  const tensors = new Map<string, tf.Tensor>();
  try {
    for (const [file, names] of byFile) {
      for (const [stored, raw] of readSafetensors(file, { names: [...names.keys()] }).tensors) tensors.set(names.get(stored)!, rawToTensor(raw, stored, file));
    }
  } catch (e) {
    for (const t of tensors.values()) t.dispose();
    throw e;
  }
  return {
    bundle: { config: plan.config, tensors }, head: plan.head, numLabels: plan.numLabels,
    architecture: plan.architecture, warnings: plan.warnings, rawConfig: plan.rawConfig,
  };
}

function statOrNull(p: string): fs.Stats | null {
  try {
    return fs.statSync(p);
  } catch {
    return null;
  }
}

/** Every shard's validated header: file (absolute) -> entries. */
function shardHeaders(dir: string, warnings: string[]): Map<string, Map<string, HeaderEntry>> {
  const single = path.join(dir, SINGLE_FILE);
  const index = path.join(dir, INDEX_FILE);
  if (statOrNull(single)) return new Map([[single, readSafetensorsHeader(single).entries]]);
  if (!statOrNull(index)) {
    const pickles = ['pytorch_model.bin', 'pytorch_model.bin.index.json', 'model.pt', 'model.pth'].filter((f) => statOrNull(path.join(dir, f)));
    const why = pickles.length > 0
      ? `holds only ${pickles.join(', ')} (pickle, which can run code when loaded, so it is not read); convert it with transformers: model.save_pretrained(dir, safe_serialization=True)`
      : `has neither ${SINGLE_FILE} nor ${INDEX_FILE}`;
    throw new HfModelError(dir, why);
  }
  const raw = readJsonObject(index);
  const map = raw.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) throw new HfModelError(index, 'field "weight_map" must be an object {tensor name: shard file}');
  const wanted = new Map<string, string[]>();
  for (const [name, file] of Object.entries(map as Record<string, unknown>)) {
    if (typeof file !== 'string' || !isPlainFileName(file)) {
      throw new HfModelError(index, `weight_map["${name}"] is ${describeValue(file)}; expected a file name inside the folder (no directories, no "..")`);
    }
    wanted.set(file, [...(wanted.get(file) ?? []), name]);
  }
  if (wanted.size === 0) throw new HfModelError(index, 'weight_map is empty');
  const out = new Map<string, Map<string, HeaderEntry>>();
  for (const [file, names] of wanted) {
    const abs = path.join(dir, file);
    if (!statOrNull(abs)) throw new HfModelError(index, `shard "${file}" listed in weight_map does not exist in ${dir}`);
    const entries = readSafetensorsHeader(abs).entries;
    const kept = new Map<string, HeaderEntry>();
    for (const name of names) {
      const e = entries.get(name);
      if (!e) throw new HfModelError(abs, `weight_map places tensor "${name}" in this shard but it is not there`);
      kept.set(name, e);
    }
    // Tensors a shard holds but the index does not list are not loaded (as transformers does), but said.
    for (const name of entries.keys()) if (!kept.has(name)) warnings.push(`${name}: in ${file} but not in ${INDEX_FILE}'s weight_map; ignored`);
    out.set(abs, kept);
  }
  return out;
}

/** The head from config.json's architectures[0] (one of the family's class names), or from the tensors when absent. */
function detectHead(raw: Record<string, unknown>, family: ModelFamily, config: ModelConfig, all: Map<string, unknown>, configFile: string): { head: ModelHead; architecture: string } {
  const archs = raw.architectures;
  if (archs !== undefined && (!Array.isArray(archs) || archs.length === 0 || typeof archs[0] !== 'string')) {
    throw new HfModelError(configFile, `field "architectures" must be a non-empty list of strings; got ${describeValue(archs)}`);
  }
  const names = family.architectures(config);
  if (archs === undefined) {
    return all.has(SCORE_WEIGHT)
      ? { head: 'sequence_classification', architecture: names.sequenceClassification }
      : { head: 'causal_lm', architecture: names.causalLM };
  }
  const arch = archs[0] as string;
  if (arch === names.causalLM) return { head: 'causal_lm', architecture: arch };
  if (arch === names.sequenceClassification) return { head: 'sequence_classification', architecture: arch };
  throw new HfModelError(configFile, `architecture "${arch}" is not supported for model_type "${config.model_type}"; expected ${names.causalLM} or ${names.sequenceClassification}`);
}

function labelCount(raw: Record<string, unknown>, all: Map<string, { entry: HeaderEntry }>, configFile: string): number {
  let n: unknown = raw.num_labels;
  if (n === undefined && typeof raw.id2label === 'object' && raw.id2label !== null) n = Object.keys(raw.id2label).length;
  if (n === undefined) n = all.get(SCORE_WEIGHT)?.entry.shape[0] ?? 2; // transformers' default is 2
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 1 << 16) {
    throw new HfModelError(configFile, `num_labels must be a positive integer; got ${describeValue(n)}`);
  }
  return n;
}
