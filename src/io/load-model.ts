/**
 * From a `--model` / `--tokenizer` argument to a ready model and tokenizer, for any model family: checkpoint
 * folders, run folders (their `final/`), HF folders, llama2.c `.bin` files, or `config:NAME` presets (random
 * init, vocabulary from the tokenizer). The tokenizer defaults to the one saved with the model.
 *
 * It lives in io/ (not model/): it reads files and builds models, and the arrows go io -> model only.
 *
 * Does NOT: train or score; it only builds objects the trainers and compare use.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { ModelConfig } from '../model/config';
import { presetConfig as familyPresetConfig } from '../model/families';
import { LanguageModel } from '../model/language-model';
import { RewardModel } from '../model/reward';
import { withPadToken } from '../model/vocab';
import { loadTokenizer } from '../tokenizer/load';
import { ByteTokenizer } from '../tokenizer/byte';
import { withOwnPad } from '../tokenizer/pad';
import type { Tokenizer } from '../tokenizer/types';
import { FINAL_DIR, META_FILE } from './checkpoint';
import { loadModelWeights, resolveModelSource, ModelSource, ModelSourceError } from './source';

export interface LoadedPolicy {
  model: LanguageModel;
  tokenizer: Tokenizer;
  /** Absolute path (or config:NAME) the weights came from, recorded as the parent of new checkpoints. */
  source: string;
  kind: ModelSource['kind'];
}

export interface LoadModelOptions {
  tokenizer?: string;
  trainable?: boolean;
  /** Seed for config:NAME initialisation. */
  seed?: number;
}

/** A run folder written by `rlhf sft|reward|dpo` holds its model in final/: accept the run folder too. */
export function resolveModelPath(spec: string): string {
  if (spec.startsWith('config:')) return spec;
  const finalDir = path.join(spec, FINAL_DIR);
  if (!fs.existsSync(path.join(spec, META_FILE)) && fs.existsSync(path.join(finalDir, META_FILE))) return finalDir;
  return spec;
}

function tokenizerFor(source: ModelSource, spec: string | undefined, vocabSize?: number): Tokenizer {
  if (spec) return loadTokenizer(spec, { vocabSize });
  if (source.kind === 'config') return new ByteTokenizer();
  if (source.kind === 'llama2c') {
    const guess = path.join(path.dirname(source.path), 'tok512.bin');
    const candidates = fs.readdirSync(path.dirname(source.path)).filter((n) => /^tok.*\.bin$|^tokenizer\.bin$/.test(n));
    if (candidates.length === 1) return loadTokenizer(path.join(path.dirname(source.path), candidates[0]), { vocabSize });
    throw new ModelSourceError(
      `--model ${source.path} is a llama2.c checkpoint with no tokenizer beside it; pass --tokenizer (e.g. --tokenizer ${guess})`,
    );
  }
  return loadTokenizer(source.path, { vocabSize });
}

/**
 * Builds the config of a preset for a tokenizer: vocabulary size and special ids come from it. pad_token_id
 * is the tokenizer's pad only when that is a token of its own: a borrowed one (EOS, for GPT-2) in config.json
 * would make transformers freeze that real token's embedding row (nn.Embedding padding_idx) when it trains.
 */
export function presetConfig(name: string, tok: Tokenizer): ModelConfig {
  return familyPresetConfig(name, { vocab_size: tok.vocabSize, bos_token_id: tok.bosId, eos_token_id: tok.eosId, pad_token_id: tok.hasOwnPad ? tok.padId : null });
}

/** Loads a causal LM (policy or reference) and its tokenizer. */
export function loadPolicy(spec: string, o: LoadModelOptions = {}): LoadedPolicy {
  const source = resolveModelSource(resolveModelPath(spec));
  if (source.kind === 'config') {
    const tokenizer = tokenizerFor(source, o.tokenizer);
    const model = LanguageModel.random(presetConfig(source.name, tokenizer), o.seed ?? 0, { trainable: o.trainable });
    return { model, tokenizer, source: `config:${source.name}`, kind: source.kind };
  }
  const loaded = loadModelWeights(source);
  if (loaded.head !== 'causal_lm') {
    for (const t of loaded.bundle.tensors.values()) t.dispose();
    throw new ModelSourceError(`--model ${spec}: this is a reward model (${loaded.architecture}); a policy needs a causal LM checkpoint`);
  }
  const tokenizer = disposeOnError(loaded.bundle.tensors, () => {
    const tok = tokenizerFor(source, o.tokenizer, loaded.bundle.config.vocab_size);
    checkVocab(loaded.bundle.config, tok, spec);
    return tok;
  });
  const model = LanguageModel.fromWeights(loaded.bundle, { trainable: o.trainable, source: source.path });
  return { model, tokenizer, source: source.path, kind: source.kind };
}

/**
 * Loads a reward model: a reward checkpoint, or a policy/preset with a fresh score head. Either way the
 * tokenizer has a pad token of its own and config.pad_token_id is that token (tokenizer/pad.ts adds one to a
 * tokenizer without, such as GPT-2's; model/vocab.ts grows the embedding to hold it), so the checkpoints it
 * leads to are read by transformers' sequence classifier at the same token as here, whatever the tokenizer.
 */
export function loadRewardModel(spec: string, o: LoadModelOptions = {}): { model: RewardModel; tokenizer: Tokenizer; source: string; fresh: boolean } {
  const source = resolveModelSource(resolveModelPath(spec));
  if (source.kind !== 'config') {
    const loaded = loadModelWeights(source);
    if (loaded.head === 'sequence_classification') {
      const tokenizer = disposeOnError(loaded.bundle.tensors, () => {
        const tok = tokenizerFor(source, o.tokenizer, loaded.bundle.config.vocab_size);
        checkVocab(loaded.bundle.config, tok, spec);
        // A tokenizer given with --tokenizer lacks the pad a checkpoint of ours added: it is added back at the same id.
        return withOwnPad(tok).tokenizer;
      });
      const bundle = loaded.bundle.config.pad_token_id === tokenizer.padId ? loaded.bundle : withPadToken(loaded.bundle, tokenizer.padId);
      return { model: RewardModel.fromWeights(bundle, { trainable: o.trainable, source: source.path }), tokenizer, source: source.path, fresh: false };
    }
    for (const t of loaded.bundle.tensors.values()) t.dispose();
  }
  const policy = loadPolicy(spec, o);
  let tokenizer: Tokenizer;
  try {
    tokenizer = withOwnPad(policy.tokenizer).tokenizer;
  } catch (e) {
    policy.model.dispose();
    throw e;
  }
  const model = RewardModel.fromPolicy(policy.model, o.seed ?? 0, { trainable: o.trainable, padTokenId: tokenizer.padId });
  policy.model.dispose();
  return { model, tokenizer, source: policy.source, fresh: true };
}

/** Runs fn; if it throws (a bad tokenizer, say), the already loaded weights are freed before rethrowing. */
function disposeOnError<T>(tensors: Map<string, { dispose(): void }>, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    for (const t of tensors.values()) t.dispose();
    throw e;
  }
}

function checkVocab(config: ModelConfig, tok: Tokenizer, spec: string): void {
  if (tok.vocabSize > config.vocab_size) {
    throw new ModelSourceError(
      `--model ${spec}: its vocabulary has ${config.vocab_size} entries but the tokenizer (${tok.kind}) has ${tok.vocabSize}; ` +
        'ids past the vocabulary would have no embedding. Pass the tokenizer the model was trained with (--tokenizer).',
    );
  }
}
