/**
 * Import of a Hugging Face model folder: `config.json` + `model.safetensors`, or a sharded
 * `model.safetensors.index.json` + its shards. Causal LMs (LlamaForCausalLM, Qwen2ForCausalLM) and
 * sequence classifiers (…ForSequenceClassification, `score.weight` [num_labels, H]) used as reward models.
 *
 * Does: validate the config, the index (shard names must be plain files inside the folder) and every
 * safetensors header, check each expected weight's presence and shape BEFORE reading any tensor data,
 * and convert F16/BF16/F64 weights to float32. Does NOT: load the tokenizer (see tokenizer/), read
 * pickle files (`pytorch_model.bin` can execute code; it is refused), or rename anything.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { ConfigError, parseLlamaConfig, type LlamaConfig } from '../model/config';
import type { WeightBundle } from '../model/types';
import { IoError } from '../util/errors';
import { describeValue, isPlainFileName, readJsonObject } from '../util/json';
import { readSafetensors, readSafetensorsHeader, rawToTensor, type HeaderEntry } from './safetensors';
import { llamaWeightShapes, type ModelHead } from './weights';

export class HfModelError extends IoError {
  constructor(readonly where: string, detail: string) {
    super(`${where}: ${detail}`);
  }
}

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
  config: LlamaConfig;
  rawConfig: Record<string, unknown>;
  head: ModelHead;
  numLabels: number;
  architecture: string;
  /** expected name -> shard file (absolute path) */
  sources: Map<string, string>;
  warnings: string[];
}

const CAUSAL = new Set(['LlamaForCausalLM', 'Qwen2ForCausalLM']);
const SEQCLS = new Set(['LlamaForSequenceClassification', 'Qwen2ForSequenceClassification']);
const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16', 'F64']);

/** Validates a folder without reading tensor data. */
export function planHfFolder(dir: string): HfFolderPlan {
  const st = statOrNull(dir);
  if (!st) throw new HfModelError(dir, 'folder does not exist');
  if (!st.isDirectory()) throw new HfModelError(dir, 'is not a folder; expected a Hugging Face model folder (config.json + model.safetensors)');
  const configFile = path.join(dir, 'config.json');
  if (!statOrNull(configFile)) throw new HfModelError(dir, 'has no config.json; expected a Hugging Face model folder (config.json + model.safetensors)');
  const rawConfig = readJsonObject(configFile);
  let config: LlamaConfig;
  try {
    config = parseLlamaConfig(normalizeHfConfig(rawConfig, configFile), configFile);
  } catch (e) {
    if (e instanceof ConfigError) throw new HfModelError(configFile, e.message.replace(`${configFile}: `, ''));
    throw e;
  }
  const warnings: string[] = [];
  const headers = shardHeaders(dir, warnings);
  const all = new Map<string, { file: string; entry: HeaderEntry }>();
  for (const [file, entries] of headers) for (const [name, entry] of entries) all.set(name, { file, entry });

  const { head, architecture } = detectHead(rawConfig, all, configFile);
  const numLabels = head === 'sequence_classification' ? labelCount(rawConfig, all, configFile) : 0;
  const expected = llamaWeightShapes(config, head, numLabels);
  const sources = new Map<string, string>();
  for (const [name, shape] of expected) {
    const found = all.get(name);
    if (!found) {
      const hint = name === 'lm_head.weight' ? ' (config.json says tie_word_embeddings is false; set it to true if the head shares the embedding)' : '';
      throw new HfModelError(dir, `weight "${name}" ${describeValue(shape)} is missing${hint}; config.json describes ${config.num_hidden_layers} layers, hidden_size ${config.hidden_size}`);
    }
    if (JSON.stringify(found.entry.shape) !== JSON.stringify(shape)) {
      throw new HfModelError(found.file, `weight "${name}" has shape ${describeValue(found.entry.shape)} but config.json implies ${describeValue(shape)}`);
    }
    if (!FLOAT_DTYPES.has(found.entry.dtype)) {
      throw new HfModelError(found.file, `weight "${name}" has dtype ${found.entry.dtype}; expected a floating-point dtype (F32, F16, BF16, F64)`);
    }
    sources.set(name, found.file);
  }
  const unexpected: string[] = [];
  for (const name of all.keys()) {
    if (expected.has(name)) continue;
    if (/\.rotary_emb\.inv_freq$/.test(name)) warnings.push(`${name}: derived RoPE table, recomputed from rope_theta`);
    else if (name === 'lm_head.weight' && head === 'sequence_classification') warnings.push(`${name}: a sequence classifier has no LM head; ignored`);
    else if (name === 'lm_head.weight') warnings.push(`${name}: ignored because tie_word_embeddings is true (the head is the embedding, as transformers does)`);
    else unexpected.push(name);
  }
  if (unexpected.length > 0) {
    const list = unexpected.slice(0, 5).map((n) => `"${n}"`).join(', ') + (unexpected.length > 5 ? ` and ${unexpected.length - 5} more` : '');
    throw new HfModelError(dir, `${unexpected.length} tensor(s) would be ignored: ${list}; config.json (${architecture}, ${config.num_hidden_layers} layers, attention_bias ${config.attention_bias}) does not use them. Fix config.json to describe these weights`);
  }
  return { dir, config, rawConfig, head, numLabels, architecture, sources, warnings };
}

/** Loads a Hugging Face folder as float32 tf tensors with HF names. */
export function loadHfFolder(dir: string): LoadedModel {
  const plan = planHfFolder(dir);
  const byFile = new Map<string, string[]>();
  for (const [name, file] of plan.sources) byFile.set(file, [...(byFile.get(file) ?? []), name]);
  const tensors = new Map<string, tf.Tensor>();
  try {
    for (const [file, names] of byFile) {
      for (const [name, raw] of readSafetensors(file, { names }).tensors) tensors.set(name, rawToTensor(raw, name, file));
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

/**
 * Maps config.json spellings that parseLlamaConfig does not read onto the ones it does, and refuses
 * settings our model does not implement (which would otherwise load and compute something else, silently).
 * Example: transformers 5 writes `rope_parameters: {rope_theta: 500000, rope_type: "default"}` instead of
 * `rope_theta`; -> `{..., rope_theta: 500000}`. A `rope_scaling` of type "llama3" -> error.
 */
export function normalizeHfConfig(raw: Record<string, unknown>, file: string): Record<string, unknown> {
  const out = { ...raw };
  const unsupported = (field: string, value: unknown, expected: string): never => {
    throw new HfModelError(file, `field "${field}" is ${describeValue(value)}; this toolkit implements only ${expected}`);
  };
  for (const key of ['rope_parameters', 'rope_scaling']) {
    const rp = raw[key];
    if (rp === undefined || rp === null) continue;
    if (typeof rp !== 'object' || Array.isArray(rp)) unsupported(key, rp, 'an object {rope_type: "default", rope_theta}');
    const o = rp as Record<string, unknown>;
    const type = o.rope_type ?? o.type ?? 'default';
    if (type !== 'default') unsupported(`${key}.rope_type`, type, '"default" RoPE (no scaling)');
    if (o.rope_theta !== undefined) {
      if (raw.rope_theta !== undefined && raw.rope_theta !== o.rope_theta) {
        throw new HfModelError(file, `rope_theta ${describeValue(raw.rope_theta)} disagrees with ${key}.rope_theta ${describeValue(o.rope_theta)}`);
      }
      out.rope_theta = o.rope_theta;
    }
  }
  if (raw.hidden_act !== undefined && raw.hidden_act !== 'silu') unsupported('hidden_act', raw.hidden_act, '"silu" (SwiGLU)');
  if (raw.mlp_bias !== undefined && raw.mlp_bias !== false) unsupported('mlp_bias', raw.mlp_bias, 'false');
  if (raw.use_sliding_window === true) unsupported('use_sliding_window', true, 'full attention (false)');
  return out;
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

function detectHead(raw: Record<string, unknown>, all: Map<string, unknown>, configFile: string): { head: ModelHead; architecture: string } {
  const archs = raw.architectures;
  if (archs !== undefined && (!Array.isArray(archs) || archs.length === 0 || typeof archs[0] !== 'string')) {
    throw new HfModelError(configFile, `field "architectures" must be a non-empty list of strings; got ${describeValue(archs)}`);
  }
  const family = raw.model_type === 'qwen2' ? 'Qwen2' : 'Llama';
  if (archs === undefined) {
    return all.has('score.weight')
      ? { head: 'sequence_classification', architecture: `${family}ForSequenceClassification` }
      : { head: 'causal_lm', architecture: `${family}ForCausalLM` };
  }
  const arch = archs[0] as string;
  if (CAUSAL.has(arch)) return { head: 'causal_lm', architecture: arch };
  if (SEQCLS.has(arch)) return { head: 'sequence_classification', architecture: arch };
  throw new HfModelError(configFile, `architecture "${arch}" is not supported; expected one of ${[...CAUSAL, ...SEQCLS].join(', ')}`);
}

function labelCount(raw: Record<string, unknown>, all: Map<string, { entry: HeaderEntry }>, configFile: string): number {
  let n: unknown = raw.num_labels;
  if (n === undefined && typeof raw.id2label === 'object' && raw.id2label !== null) n = Object.keys(raw.id2label).length;
  if (n === undefined) n = all.get('score.weight')?.entry.shape[0] ?? 2; // transformers' default is 2
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 1 << 16) {
    throw new HfModelError(configFile, `num_labels must be a positive integer; got ${describeValue(n)}`);
  }
  return n;
}
