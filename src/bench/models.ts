/**
 * The benchmark's models, written once as HF-layout checkpoint folders that both sides load, so TF.js
 * and PyTorch train exactly the same weights:
 *   15m           PRESETS['15m'] (dim 288, 6 layers, 6 heads, MLP 768) with vocab 512, random init (seed)
 *   smollm2-135m  SmolLM2-135M's configuration (Llama: 30 layers, hidden 576, 9 heads / 3 KV heads, MLP 1536,
 *                 vocab 49,152, tied head; 134.5M params), random init (seed): a real-size model. No tokenizer
 *                 of that size ships here, and none is needed: the workload's ids are drawn from the whole
 *                 vocabulary (workload.ts), the same ids on both sides
 *   tiny          PRESETS['tiny'] with vocab 512 (tests)
 *   stories260K   the llama2.c TinyStories 260K model from its HF folder (skipped when absent)
 * Each gets a policy folder (LlamaForCausalLM) and a reward folder (LlamaForSequenceClassification: the
 * policy's backbone plus a seeded score head).
 *
 * Does: build and save. Does NOT: time anything.
 */
import * as fs from 'fs';
import * as path from 'path';
import { saveCheckpoint } from '../io/checkpoint';
import { weightSpecs } from '../model/families';
import { LLAMA_PRESETS, parseLlamaConfig, type LlamaConfig } from '../model/families/llama';
import { LanguageModel } from '../model/language-model';
import { loadPolicy } from '../io/load-model';
import { RewardModel } from '../model/reward';
import { ByteTokenizer } from '../tokenizer/byte';
import type { Tokenizer } from '../tokenizer/types';
import type { ModelDirs } from './steps';

export const BENCH_MODELS = ['stories260K', '15m', 'smollm2-135m', 'tiny'] as const;

/**
 * SmolLM2-135M's config.json, as far as our Llama reads it (HuggingFaceTB/SmolLM2-135M: rope_theta 100000,
 * max_position_embeddings 8192, rms_norm_eps 1e-5, head_dim 576 / 9 = 64). Its tokenizer's special ids (0) are
 * replaced by the byte tokenizer's (pad 0, bos 1, eos 2), which the benchmark's ids never use.
 */
export const SMOLLM2_135M = {
  model_type: 'llama', hidden_size: 576, intermediate_size: 1536, num_hidden_layers: 30, num_attention_heads: 9,
  num_key_value_heads: 3, head_dim: 64, vocab_size: 49152, max_position_embeddings: 8192, rms_norm_eps: 1e-5,
  rope_theta: 100000, tie_word_embeddings: true, attention_bias: false,
} as const;

/** Config of a random-init bench model (no weights built). e.g. benchConfig('15m') -> PRESETS['15m'] with vocab 512. */
export function benchConfig(name: string): LlamaConfig {
  const tok = new ByteTokenizer();
  const special = { bos_token_id: tok.bosId, eos_token_id: tok.eosId, pad_token_id: tok.padId };
  if (name === 'smollm2-135m') return parseLlamaConfig({ ...SMOLLM2_135M, ...special }, 'smollm2-135m');
  if (name in LLAMA_PRESETS) return { ...LLAMA_PRESETS[name], vocab_size: 512, ...special } as LlamaConfig;
  throw new ModelUnavailable(`model "${name}" is not one of ${BENCH_MODELS.join(', ')}`);
}

/** Parameters of a causal LM with `config`, from its weights' shapes alone (nothing allocated). */
export function paramCount(config: LlamaConfig): number {
  return weightSpecs(config, 'causal_lm').reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
}

export interface PreparedModel {
  name: string;
  config: LlamaConfig;
  params: number;
  dirs: ModelDirs;
  source: string;
  specialIds: { pad: number; bos: number | null; eos: number };
}

/** Where stories260K's HF folder is expected: <repo>/../shared/models/stories260K/hf. */
export function defaultStoriesDir(): string {
  return path.resolve(__dirname, '..', '..', '..', 'shared', 'models', 'stories260K', 'hf');
}

export class ModelUnavailable extends Error {}

/** Writes `name`'s policy and reward folders under `root`. Throws ModelUnavailable when its source is absent. */
export function prepareModel(name: string, root: string, o: { storiesDir: string; seed: number }): PreparedModel {
  let policy: LanguageModel;
  let tokenizer: Tokenizer;
  let source: string;
  if (name === 'stories260K') {
    if (!fs.existsSync(path.join(o.storiesDir, 'config.json'))) {
      throw new ModelUnavailable(`stories260K skipped: no HF folder at ${o.storiesDir} (pass --stories DIR)`);
    }
    const loaded = loadPolicy(o.storiesDir);
    policy = loaded.model;
    tokenizer = loaded.tokenizer;
    source = o.storiesDir;
  } else {
    const config = benchConfig(name);
    tokenizer = new ByteTokenizer();
    policy = LanguageModel.random(config, o.seed);
    source = name === 'smollm2-135m'
      ? `SmolLM2-135M's configuration (vocab 49,152, random init, seed ${o.seed})`
      : `config:${name} (vocab 512, random init, seed ${o.seed})`;
  }
  const dirs = { policy: path.join(root, `${name}-policy`), reward: path.join(root, `${name}-reward`) };
  const config = policy.config as LlamaConfig; // every bench model is a Llama (its FLOP count is Llama's)
  const rm = RewardModel.fromPolicy(policy, o.seed + 1);
  try {
    saveCheckpoint(dirs.policy, { kind: 'policy', config, weights: policy.weights, tokenizer, step: 0, parent: source, overwrite: true });
    saveCheckpoint(dirs.reward, { kind: 'reward', config, weights: rm.weights, tokenizer, step: 0, parent: source, overwrite: true });
    return {
      name, config, params: policy.numParameters(), dirs, source,
      specialIds: { pad: config.pad_token_id ?? tokenizer.padId, bos: config.bos_token_id ?? tokenizer.bosId, eos: config.eos_token_id ?? tokenizer.eosId ?? 2 },
    };
  } finally {
    policy.dispose();
    rm.dispose();
  }
}
