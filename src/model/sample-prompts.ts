/**
 * Sampling for a list of prompt records (data/prompts.ts): render and tokenise each prompt as the data layer
 * does ([BOS] + encode(rendered prompt); `prompt_input_ids` as given), check every one fits the model before
 * anything runs (an error names its file:line), then sample n continuations per prompt, `batchSize` prompts per
 * batch on one decoder, and yield one line per sample in order, ready to write as JSONL.
 *
 * Row (i, j) = sample j of the i-th prompt of the whole list, seeded rowSeed(seed, i, j) (rng.ts): the file's
 * samples do not depend on batchSize.
 * Does NOT: read or write files (the caller does), train or score.
 */
import { promptText, type PromptRecord } from '../data/prompts';
import type { Text } from '../data/types';
import type { Tokenizer } from '../tokenizer/types';
import { pickDecoder, type DecoderChoice } from './decoder';
import { ModelError } from './errors';
import type { LanguageModel } from './language-model';
import { sampleBatch, type FinishReason, type PromptRequest } from './sample-batch';
import type { SamplingOptions } from './sampling';

export interface SamplePromptsOptions extends SamplingOptions {
  n: number;
  maxNewTokens: number;
  /** Prompts per batch (rows per batch = batchSize · n). @default 16 */
  batchSize?: number;
  seed?: number;
  /** @default the tokenizer's EOS, and BOS for llama2.c tokenizers (its stories end there) */
  stopTokenIds?: number[];
  decoder?: DecoderChoice;
  /** Called after each batch with the prompts done so far and the new tokens of that batch. */
  onBatch?: (done: number, total: number, newTokens: number, ms: number) => void;
}

/** One output line: the prompt as given, the completion text and ids, and how it ended. */
export interface SampleLine {
  prompt_index: number;
  sample_index: number;
  /** The record's file:line. */
  source: string;
  prompt: Text;
  completion: string;
  completion_ids: number[];
  finish_reason: FinishReason;
  num_tokens: number;
  /** Σ log softmax(logits)[token] at temperature 1 over the completion (the policy's log-prob of it). */
  sum_logprob: number;
  /** Σ of the log-probs under the filtered sampling distribution (vLLM's processed_logprobs). */
  sum_sampling_logprob: number;
  seed: number;
}

/** [BOS] + encode(rendered prompt), or the given ids. */
export function promptTokens(p: PromptRecord, tok: Tokenizer): number[] {
  if (p.promptIds) return p.promptIds;
  const bos = tok.bosId !== null ? [tok.bosId] : [];
  return [...bos, ...tok.encode(promptText(p, tok.chatTemplate))];
}

/** The text of `tokens` as it continues `prompt` (a leading space after BOS is dropped by decode, not after a prompt). */
export function completionText(tok: Tokenizer, prompt: number[], tokens: number[]): string {
  const full = tok.decode([...prompt, ...tokens]);
  const head = tok.decode(prompt);
  return full.startsWith(head) ? full.slice(head.length) : tok.decode(tokens);
}

/** The stop tokens `rlhf generate` uses: EOS, and BOS for llama2.c tokenizers. */
export function defaultStops(tok: Tokenizer): number[] {
  return [tok.eosId, tok.kind === 'llama2c' ? tok.bosId : null].filter((x): x is number => x !== null);
}

export async function* samplePrompts(model: LanguageModel, tok: Tokenizer, prompts: PromptRecord[], o: SamplePromptsOptions): AsyncGenerator<SampleLine> {
  const maxPos = model.config.max_position_embeddings;
  const ids = prompts.map((p) => {
    const t = promptTokens(p, tok);
    if (t.length === 0) throw new ModelError(`${p.source}: the prompt is empty and the tokenizer has no BOS token to start from; expected a non-empty prompt`);
    if (t.length > maxPos) {
      throw new ModelError(`${p.source}: the prompt has ${t.length} tokens; the model takes at most max_position_embeddings = ${maxPos}; shorten the prompt`);
    }
    return t;
  });
  const batch = o.batchSize ?? 16;
  if (!Number.isInteger(batch) || batch < 1) throw new ModelError(`batchSize must be an integer >= 1; got ${o.batchSize}`);
  const decoder = pickDecoder(model, o.decoder);
  try {
    for (let start = 0; start < prompts.length; start += batch) {
      const t0 = performance.now();
      const reqs: PromptRequest[] = ids.slice(start, start + batch).map((p, k) => ({ ids: p, index: start + k }));
      const rows = await sampleBatch(model, reqs, { ...o, stopTokenIds: o.stopTokenIds ?? defaultStops(tok), decoder });
      let newTokens = 0;
      for (const r of rows) newTokens += r.tokens.length;
      o.onBatch?.(Math.min(prompts.length, start + batch), prompts.length, newTokens, performance.now() - t0);
      for (const r of rows) {
        const p = prompts[r.promptIndex];
        yield {
          prompt_index: r.promptIndex, sample_index: r.sampleIndex, source: p.source, prompt: p.prompt,
          completion: completionText(tok, ids[r.promptIndex], r.tokens), completion_ids: r.tokens, finish_reason: r.finishReason,
          num_tokens: r.tokens.length, sum_logprob: sum(r.logprobs), sum_sampling_logprob: sum(r.samplingLogprobs), seed: r.seed,
        };
      }
    }
  } finally {
    decoder.dispose();
  }
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
