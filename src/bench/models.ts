/**
 * The benchmark's models, written once as HF-layout checkpoint folders that both sides load, so TF.js
 * and PyTorch train exactly the same weights:
 *   15m          PRESETS['15m'] (dim 288, 6 layers, 6 heads, MLP 768) with vocab 512, random init (seed)
 *   tiny         PRESETS['tiny'] with vocab 512 (tests)
 *   stories260K  the llama2.c TinyStories 260K model from its HF folder (skipped when absent)
 * Each gets a policy folder (LlamaForCausalLM) and a reward folder (LlamaForSequenceClassification: the
 * policy's backbone plus a seeded score head).
 *
 * Does: build and save. Does NOT: time anything.
 */
import * as fs from 'fs';
import * as path from 'path';
import { saveCheckpoint } from '../io/checkpoint';
import { LLAMA_PRESETS, type LlamaConfig } from '../model/families/llama';
import { LanguageModel } from '../model/language-model';
import { loadPolicy } from '../io/load-model';
import { RewardModel } from '../model/reward';
import { ByteTokenizer } from '../tokenizer/byte';
import type { Tokenizer } from '../tokenizer/types';
import type { ModelDirs } from './steps';

export const BENCH_MODELS = ['stories260K', '15m', 'tiny'] as const;

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
  } else if (name in LLAMA_PRESETS) {
    tokenizer = new ByteTokenizer();
    const config: LlamaConfig = { ...LLAMA_PRESETS[name], vocab_size: 512, bos_token_id: tokenizer.bosId, eos_token_id: tokenizer.eosId, pad_token_id: tokenizer.padId };
    policy = LanguageModel.random(config, o.seed);
    source = `config:${name} (vocab 512, random init, seed ${o.seed})`;
  } else {
    throw new ModelUnavailable(`model "${name}" is not one of ${BENCH_MODELS.join(', ')}`);
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
