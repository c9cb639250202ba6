/**
 * Autoregressive generation of one sequence: a batch of one for the batched sampler (sample-batch.ts, whose
 * decoders keep a KV cache: the prompt goes through the model once, then each new token costs one
 * single-position forward), or, with useCache: false, a full recomputation per token (slow; an independent
 * check on the cached paths).
 *
 * Does: greedy or sampled (sampling.ts), stop tokens, a length cap, a per-token callback for streaming.
 * Does NOT: batch several prompts (sample-batch.ts does), decode text (tokenizer/).
 */
import * as tf from '@tensorflow/tfjs';
import type { LanguageModel } from './language-model';
import { ModelError } from './errors';
import type { Decoder, DecoderChoice } from './decoder';
import { Rng } from './rng';
import { sampleBatch } from './sample-batch';
import { SamplingOptions, checkSamplingOptions, sampleLogits } from './sampling';

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
  /** Which decoder runs the cached path (decoder.ts). @default 'auto' */
  decoder?: DecoderChoice | Decoder;
}

export interface GenerateResult {
  /** The new tokens (without the prompt and without the stop token). */
  tokens: number[];
  /** log softmax(logits)[token] at temperature 1 per new token (sampling.ts SampledToken.logprob). */
  logprobs: number[];
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
  const stopTokenIds = opts.stopTokenIds ?? (cfg.eos_token_id === null ? [] : [cfg.eos_token_id]);
  if (opts.useCache ?? true) {
    const [row] = await sampleBatch(model, [{ ids: promptIds, seeds: [opts.seed ?? 0] }], {
      ...opts, n: 1, stopTokenIds, onToken: opts.onToken && ((_row, id, index) => opts.onToken!(id, index)),
    });
    return { tokens: row.tokens, logprobs: row.logprobs, finishReason: row.finishReason };
  }
  return recompute(model, promptIds, opts, new Set(stopTokenIds));
}

/** The uncached loop: the whole sequence through model.logits for every new token. */
async function recompute(model: LanguageModel, promptIds: number[], opts: GenerateOptions, stops: Set<number>): Promise<GenerateResult> {
  const rng = new Rng(opts.seed ?? 0);
  const seq = [...promptIds];
  const tokens: number[] = [];
  const logprobs: number[] = [];
  for (;;) {
    if (tokens.length >= opts.maxNewTokens) return { tokens, logprobs, finishReason: 'max_new_tokens' };
    if (seq.length >= model.config.max_position_embeddings) return { tokens, logprobs, finishReason: 'max_length' };
    const s = sampleLogits(await lastLogits(model, seq), opts, rng);
    if (stops.has(s.id)) return { tokens, logprobs, finishReason: 'stop' };
    tokens.push(s.id);
    logprobs.push(s.logprob);
    seq.push(s.id);
    opts.onToken?.(s.id, tokens.length - 1);
  }
}

/** Logits of the last position of `ids` as a Float32Array [V]. */
async function lastLogits(model: LanguageModel, ids: number[]): Promise<Float32Array> {
  const last = tf.tidy(() => {
    const x = tf.tensor2d([ids], [1, ids.length], 'int32');
    const logits = model.logits(x); // [1, T, V]
    const [, T, V] = logits.shape;
    return logits.slice([0, T - 1, 0], [1, 1, V]).reshape([V]);
  });
  try {
    return (await last.data()) as Float32Array;
  } finally {
    last.dispose();
  }
}
