/**
 * Batched sampling: many prompts × n samples each in one batch with a KV cache (decoder.ts), every row with
 * its own stop tokens, length limit and random stream, returning everything a trainer needs in one pass:
 * token ids, per-token log-probs (two kinds, sampling.ts SampledToken) and why each row ended.
 *
 * Rows are prompt-major: row i·n + j is sample j of prompt i (TRL's repeat_interleave order). Row (i, j)
 * draws from Rng(rowSeed(seed, i, j)) (rng.ts) unless the prompt gives its seeds, so its tokens do not
 * depend on the batch: generate(model, prompt_i, {seed: rowSeed(seed, i, j)}) makes the same tokens, and
 * greedy rows equal generate's greedy output (up to float rounding, which could only matter at exact ties).
 *
 * A row ends, checked in this order before each token: `max_new_tokens` (its limit reached), `max_length`
 * (prompt + new tokens = max_position_embeddings), or `stop` (it drew a stop token, which is not returned).
 * Does NOT: decode text (tokenizer/), score or train.
 */
import { ModelError } from './errors';
import { pickDecoder, type Decoder, type DecoderChoice } from './decoder';
import type { LanguageModel } from './language-model';
import { Rng, rowSeed } from './rng';
import { checkSamplingOptions, sampleLogits, type SamplingOptions } from './sampling';

export type FinishReason = 'stop' | 'max_new_tokens' | 'max_length';

/** One prompt and what differs for its rows. */
export interface PromptRequest {
  /** Token ids (non-empty; e.g. [bos, ...]). */
  ids: number[];
  /** Overrides the batch's maxNewTokens for this prompt's rows. */
  maxNewTokens?: number;
  /** Overrides the batch's stopTokenIds for this prompt's rows. */
  stopTokenIds?: number[];
  /** The prompt's index for seeding and in the result. @default its position in the list */
  index?: number;
  /** Explicit seeds of its n rows (instead of rowSeed(seed, index, j)). */
  seeds?: number[];
}

export interface SampleBatchOptions extends SamplingOptions {
  /** Samples per prompt. @default 1 */
  n?: number;
  /** New tokens per row at most. */
  maxNewTokens: number;
  /** A row ends when it draws one of these (not returned). @default [config.eos_token_id] */
  stopTokenIds?: number[];
  /** Base seed of the per-row streams. @default 0 */
  seed?: number;
  /** 'auto' (native where it runs, else TF.js), 'native', 'tfjs', or a decoder to reuse (its owner disposes it). @default 'auto' */
  decoder?: DecoderChoice | Decoder;
  /** Called with each new token as soon as it is chosen. */
  onToken?: (row: number, id: number, index: number) => void;
}

export interface SampledRow {
  promptIndex: number;
  sampleIndex: number;
  /** The seed of this row's Rng. */
  seed: number;
  /** New tokens (no prompt, no stop token). */
  tokens: number[];
  /** log softmax(logits)[token] at temperature 1, full vocabulary, per new token (GRPO's old_logps). */
  logprobs: number[];
  /** Log-prob under the distribution actually sampled from (vLLM's processed_logprobs), per new token. */
  samplingLogprobs: number[];
  finishReason: FinishReason;
}

interface Row {
  prompt: number[];
  maxNew: number;
  stops: Set<number>;
  rng: Rng;
  out: SampledRow;
}

/** Samples n continuations of every prompt in one batch. Example: sampleBatch(m, [[1, 5], [1]], {n: 2, maxNewTokens: 8}) -> 4 rows. */
export async function sampleBatch(model: LanguageModel, prompts: (number[] | PromptRequest)[], opts: SampleBatchOptions): Promise<SampledRow[]> {
  const rows = buildRows(model, prompts, opts);
  if (rows.length === 0) return [];
  const maxPos = model.config.max_position_embeddings;
  const own = typeof opts.decoder !== 'object';
  const decoder = typeof opts.decoder === 'object' ? opts.decoder : pickDecoder(model, opts.decoder);
  const B = rows.length;
  const active = new Uint8Array(B).fill(1);
  const next = new Int32Array(B);
  const V = model.config.vocab_size;
  try {
    let logits: Float32Array | null = null;
    for (;;) {
      let live = 0;
      rows.forEach((r, b) => {
        if (!active[b]) return;
        const n = r.out.tokens.length;
        if (n >= r.maxNew) finish(b, 'max_new_tokens');
        else if (r.prompt.length + n >= maxPos) finish(b, 'max_length');
        else live++;
      });
      if (live === 0) return rows.map((r) => r.out);
      logits = logits === null
        ? await decoder.prefill(rows.map((r) => r.prompt), rows.map((r) => Math.min(maxPos, r.prompt.length + r.maxNew)))
        : await decoder.step(next, active);
      rows.forEach((r, b) => {
        if (!active[b]) return;
        const s = sampleLogits(logits!.subarray(b * V, (b + 1) * V), opts, r.rng);
        if (r.stops.has(s.id)) return finish(b, 'stop');
        r.out.tokens.push(s.id);
        r.out.logprobs.push(s.logprob);
        r.out.samplingLogprobs.push(s.samplingLogprob);
        next[b] = s.id;
        opts.onToken?.(b, s.id, r.out.tokens.length - 1);
      });
    }
  } finally {
    if (own) decoder.dispose();
  }

  function finish(b: number, why: FinishReason): void {
    active[b] = 0;
    rows[b].out.finishReason = why;
  }
}

/** Checks the request (errors name the prompt and the limit) and lays out the rows. */
function buildRows(model: LanguageModel, prompts: (number[] | PromptRequest)[], o: SampleBatchOptions): Row[] {
  checkSamplingOptions(o);
  const cfg = model.config;
  const n = o.n ?? 1;
  if (!Number.isInteger(n) || n < 1) throw new ModelError(`n (samples per prompt) must be an integer >= 1; got ${o.n}`);
  const limit = (x: number | undefined, where: string) => {
    if (!Number.isInteger(x) || (x as number) < 0) throw new ModelError(`${where} must be an integer >= 0; got ${x}`);
    return x as number;
  };
  limit(o.maxNewTokens, 'maxNewTokens');
  const defaultStops = o.stopTokenIds ?? (cfg.eos_token_id === null ? [] : [cfg.eos_token_id]);
  const rows: Row[] = [];
  prompts.forEach((p, pos) => {
    const req: PromptRequest = Array.isArray(p) ? { ids: p } : p;
    const index = req.index ?? pos;
    const ids = req.ids;
    if (ids.length === 0) throw new ModelError(`prompt ${index} is empty; start it with the BOS token (e.g. [1])`);
    const bad = ids.find((id) => !Number.isInteger(id) || id < 0 || id >= cfg.vocab_size);
    if (bad !== undefined) throw new ModelError(`prompt ${index}: token id ${bad} is outside the vocabulary [0, ${cfg.vocab_size})`);
    if (ids.length > cfg.max_position_embeddings) {
      throw new ModelError(`prompt ${index} has ${ids.length} tokens; the model takes at most max_position_embeddings = ${cfg.max_position_embeddings}`);
    }
    const maxNew = req.maxNewTokens === undefined ? o.maxNewTokens : limit(req.maxNewTokens, `prompt ${index}: maxNewTokens`);
    if (req.seeds && req.seeds.length !== n) throw new ModelError(`prompt ${index}: ${req.seeds.length} seeds for n = ${n} samples`);
    const stops = new Set(req.stopTokenIds ?? defaultStops);
    for (let j = 0; j < n; j++) {
      const seed = req.seeds?.[j] ?? rowSeed(o.seed ?? 0, index, j);
      rows.push({
        prompt: ids, maxNew, stops, rng: new Rng(seed),
        out: { promptIndex: index, sampleIndex: j, seed, tokens: [], logprobs: [], samplingLogprobs: [], finishReason: 'max_new_tokens' },
      });
    }
  });
  return rows;
}
