/**
 * The frontier's samples: n completions of each prompt from one policy at temperature 1 (no top-k/top-p, so
 * the samples are draws from the policy itself, which both the best-of-n KL and the sampled KL assume), each
 * with its tokens, the stop token it drew (or null) and its text as it continues the prompt.
 *
 * Sample j of prompt i is seeded from (seed, i, j) alone, so a pool does not depend on batching.
 * Does NOT: score (rewards/) or compute KL (kl.ts).
 */
import type { LanguageModel } from '../model/language-model';
import { rowSeed } from '../model/rng';
import { sampleBatch, type PromptRequest } from '../model/sample-batch';
import { completionText, defaultStops } from '../model/sample-prompts';
import type { Tokenizer } from '../tokenizer/types';
import type { SampledSequence } from './kl';

/** A prompt as the rewards see it (text) and as the policy sees it (ids: [BOS] + encode(rendered text)). */
export interface FrontierPrompt {
  text: string;
  ids: number[];
  /** Where it came from (file:line), for errors. */
  source: string;
}

export interface FrontierSample extends SampledSequence {
  promptIndex: number;
  sampleIndex: number;
  /** The completion's text as it continues the prompt. */
  completion: string;
}

export interface SampleOptions {
  seed: number;
  maxNewTokens: number;
  /** @default the tokenizer's EOS, and BOS for llama2.c tokenizers (their stories end there) */
  stopTokenIds?: number[];
  /** Rows (prompts × n) per sampling batch, at least one prompt's n. @default 256 */
  rowsPerBatch?: number;
  /** Called after each batch with the prompts done so far. */
  onPrompt?: (done: number, total: number) => void;
}

/**
 * n samples of every prompt from `model` (batched, model/sample-batch.ts), prompt-major (sample j of prompt i
 * at i·n + j), sample (i, j) seeded rowSeed(seed, i, j) whatever the batching.
 */
export async function samplePrompts(model: LanguageModel, tok: Tokenizer, prompts: readonly FrontierPrompt[], n: number, o: SampleOptions): Promise<FrontierSample[]> {
  const stops = o.stopTokenIds ?? defaultStops(tok);
  const perBatch = Math.max(1, Math.floor((o.rowsPerBatch ?? 256) / n));
  const out: FrontierSample[] = [];
  for (let start = 0; start < prompts.length; start += perBatch) {
    const reqs: PromptRequest[] = prompts.slice(start, start + perBatch).map((p, k) => ({ ids: p.ids, index: start + k }));
    const rows = await sampleBatch(model, reqs, { n, maxNewTokens: o.maxNewTokens, temperature: 1, seed: o.seed, stopTokenIds: stops });
    for (const r of rows) {
      const ids = prompts[r.promptIndex].ids;
      out.push({
        promptIndex: r.promptIndex, sampleIndex: r.sampleIndex, prompt: ids, tokens: r.tokens,
        stops: r.finishReason === 'stop' ? stops : null, completion: completionText(tok, ids, r.tokens),
      });
    }
    o.onPrompt?.(Math.min(prompts.length, start + perBatch), prompts.length);
  }
  return out;
}

/** The seed of sample j of prompt i (for reproducing one sample with generate()). */
export const sampleSeed = rowSeed;
