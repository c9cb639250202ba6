/**
 * The online trainers' prompts: any file data/prompts.ts reads (rows {prompt} as a string or messages, or
 * preference records, whose prompts are rendered as training renders them), tokenised as the sampler does
 * (model/sample-prompts.ts promptTokens: [BOS] + encode(rendered prompt), or the given prompt_input_ids).
 * Each keeps its `file:line`. An empty file, or a prompt too long to leave room for one new token, is a one-line
 * error naming the file (and line).
 *
 * Does NOT: sample or score (online.ts), deduplicate prompts.
 */
import { promptText, readPrompts, type PromptRecord } from '../data/prompts';
import { promptTokens } from '../model/sample-prompts';
import type { Tokenizer } from '../tokenizer/types';
import type { PromptExample } from './online';

export class PromptFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PromptFileError';
  }
}

/** The prompts of `spec`, in file order; an empty file is an error. */
export async function readPromptRecords(spec: string): Promise<PromptRecord[]> {
  const out: PromptRecord[] = [];
  for await (const p of readPrompts(spec)) out.push(p);
  if (out.length === 0) throw new PromptFileError(`${spec}: no prompts in the file; expected rows {prompt} or preference records`);
  return out;
}

/** Tokenised prompts; one longer than `maxPromptTokens` (the model's context less one new token) is an error naming it. */
export function tokenizePrompts(prompts: PromptRecord[], tok: Tokenizer, maxPromptTokens: number): PromptExample[] {
  return prompts.map((p) => {
    const ids = promptTokens(p, tok);
    if (ids.length === 0) throw new PromptFileError(`${p.source}: the prompt is empty and the tokenizer has no BOS token to start from`);
    if (ids.length > maxPromptTokens) throw new PromptFileError(`${p.source}: the prompt has ${ids.length} tokens; the model takes at most ${maxPromptTokens} before its first new token; shorten it`);
    return { ids, text: promptText(p, tok.chatTemplate), source: p.source };
  });
}
