/**
 * Autoregressive generation with a KV cache: the prompt goes through the model once, then each new
 * token costs one single-position forward over the cached keys/values.
 *
 * Does: one sequence at a time, greedy or sampled (sampling.ts), stop tokens, a length cap, a
 * per-token callback for streaming. Does NOT: batch several prompts, decode text (tokenizer/).
 */
import * as tf from '@tensorflow/tfjs';
import type { LanguageModel } from './language-model';
import { ModelError } from './errors';
import { KVCache } from './kv-cache';
import { Rng } from './rng';
import { SamplingOptions, checkSamplingOptions, sampleToken } from './sampling';

export interface GenerateOptions extends SamplingOptions {
  /** How many tokens to add at most. */
  maxNewTokens: number;
  /** Seed of the sampling PRNG (ignored when greedy). @default 0 */
  seed?: number;
  /** Generation ends when one of these is produced (it is not returned). @default [config.eos_token_id] */
  stopTokenIds?: number[];
  /** Called with each new token as soon as it is chosen (index 0 = first new token). */
  onToken?: (id: number, index: number) => void;
  /** false recomputes the whole sequence each step (slow; a check on the cache). @default true */
  useCache?: boolean;
}

export interface GenerateResult {
  /** The new tokens (without the prompt and without the stop token). */
  tokens: number[];
  /** Why it ended: a stop token, maxNewTokens, or the model's max_position_embeddings. */
  finishReason: 'stop' | 'max_new_tokens' | 'max_length';
}

/** Generates a continuation of promptIds (non-empty; e.g. [bos]). */
export async function generate(model: LanguageModel, promptIds: number[], opts: GenerateOptions): Promise<GenerateResult> {
  checkSamplingOptions(opts);
  const cfg = model.config;
  if (!Number.isInteger(opts.maxNewTokens) || opts.maxNewTokens < 0) {
    throw new ModelError(`maxNewTokens must be an integer >= 0; got ${opts.maxNewTokens}`);
  }
  if (promptIds.length === 0) throw new ModelError('the prompt is empty; start it with the BOS token (e.g. [1])');
  const bad = promptIds.find((id) => !Number.isInteger(id) || id < 0 || id >= cfg.vocab_size);
  if (bad !== undefined) throw new ModelError(`prompt token id ${bad} is outside the vocabulary [0, ${cfg.vocab_size})`);
  if (promptIds.length > cfg.max_position_embeddings) {
    throw new ModelError(`the prompt has ${promptIds.length} tokens; the model takes at most max_position_embeddings = ${cfg.max_position_embeddings}`);
  }
  const stops = new Set(opts.stopTokenIds ?? (cfg.eos_token_id === null ? [] : [cfg.eos_token_id]));
  const rng = new Rng(opts.seed ?? 0);
  const useCache = opts.useCache ?? true;
  const cache = new KVCache();
  const seq = [...promptIds];
  const tokens: number[] = [];
  try {
    let pending = promptIds; // tokens not yet seen by the model
    for (;;) {
      if (tokens.length >= opts.maxNewTokens) return { tokens, finishReason: 'max_new_tokens' };
      if (seq.length >= cfg.max_position_embeddings) return { tokens, finishReason: 'max_length' };
      const row = await lastLogits(model, useCache ? pending : seq, useCache ? cache : null);
      const next = sampleToken(row, opts, rng);
      if (stops.has(next)) return { tokens, finishReason: 'stop' };
      tokens.push(next);
      seq.push(next);
      pending = [next];
      opts.onToken?.(next, tokens.length - 1);
    }
  } finally {
    cache.dispose();
  }
}

/** Logits of the last position as a Float32Array [V]. With a cache, `ids` are only the new tokens. */
async function lastLogits(model: LanguageModel, ids: number[], cache: KVCache | null): Promise<Float32Array> {
  const last = tf.tidy(() => {
    const x = tf.tensor2d([ids], [1, ids.length], 'int32');
    const logits = cache ? model.forwardCached(x, cache) : model.logits(x); // [1, T, V]
    const [, T, V] = logits.shape;
    return logits.slice([0, T - 1, 0], [1, 1, V]).reshape([V]);
  });
  try {
    return (await last.data()) as Float32Array;
  } finally {
    last.dispose();
  }
}
