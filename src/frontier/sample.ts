/**
 * The frontier's samples: n completions of each prompt from one policy at temperature 1 (no top-k/top-p, so
 * the samples are draws from the policy itself, which both the best-of-n KL and the sampled KL assume), each
 * with its tokens, the stop token it drew (or null) and its text as it continues the prompt.
 *
 * Sample j of prompt i is seeded from (seed, i, j) alone, so a pool does not depend on batching.
 * Does NOT: score (rewards/) or compute KL (kl.ts).
 */
import { generate } from '../model/generate';
import type { LanguageModel } from '../model/language-model';
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
  /** Called after each prompt's samples with the prompts done so far. */
  onPrompt?: (done: number, total: number) => void;
}

/** The stop tokens sampling uses by default: EOS, and BOS for llama2.c tokenizers. */
export function defaultStopTokens(tok: Tokenizer): number[] {
  return [tok.eosId, tok.kind === 'llama2c' ? tok.bosId : null].filter((x): x is number => x !== null);
}

/** The text of `tokens` as it continues `prompt` (decode of the whole minus decode of the prompt, so a leading space survives). */
export function continuationText(tok: Tokenizer, prompt: readonly number[], tokens: readonly number[]): string {
  const full = tok.decode([...prompt, ...tokens]);
  const head = tok.decode([...prompt]);
  return full.startsWith(head) ? full.slice(head.length) : tok.decode([...tokens]);
}

/** A distinct 31-bit seed per (seed, prompt, sample): a splitmix-style mix, so neighbouring rows share nothing. */
export function sampleSeed(seed: number, prompt: number, sample: number): number {
  let h = (Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(prompt + 1, 0x85ebca6b) ^ Math.imul(sample + 1, 0xc2b2ae35)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  return (h ^ (h >>> 16)) & 0x7fffffff;
}

/** n samples of every prompt from `model`, prompt-major (sample j of prompt i at i·n + j). */
export async function samplePrompts(model: LanguageModel, tok: Tokenizer, prompts: readonly FrontierPrompt[], n: number, o: SampleOptions): Promise<FrontierSample[]> {
  const stops = o.stopTokenIds ?? defaultStopTokens(tok);
  const out: FrontierSample[] = [];
  for (let i = 0; i < prompts.length; i++) {
    const ids = prompts[i].ids;
    for (let j = 0; j < n; j++) {
      const g = await generate(model, ids, { maxNewTokens: o.maxNewTokens, temperature: 1, seed: sampleSeed(o.seed, i, j), stopTokenIds: stops });
      out.push({
        promptIndex: i, sampleIndex: j, prompt: ids, tokens: g.tokens, stops: g.finishReason === 'stop' ? stops : null,
        completion: continuationText(tok, ids, g.tokens),
      });
    }
    o.onPrompt?.(i + 1, prompts.length);
  }
  return out;
}
