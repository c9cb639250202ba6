/**
 * The online trainers' prompts: a prompts file (rows with a string `prompt` and no completions) or a preference
 * file of any format the readers accept (its prompts, rendered as training renders them), tokenised as
 * [BOS] + encode(prompt). Each keeps its `file:line`. An empty file, or a prompt too long to leave room for one
 * new token, is a one-line error naming the file (and line).
 *
 * Does NOT: sample or score (online.ts), deduplicate prompts.
 */
import { readFileRows, resolveSource } from '../data/sources';
import { readPreferences, renderPair } from '../data';
import type { Tokenizer } from '../tokenizer/types';
import type { PromptExample } from './online';

export class PromptFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PromptFileError';
  }
}

/** Whether the file's first row is a bare prompt row ({prompt: string} without chosen/rejected). */
async function isPromptsFile(spec: string): Promise<boolean> {
  for (const src of resolveSource(spec)) {
    for await (const row of readFileRows(src)) {
      if (row.error) return false;
      const v = row.value as Record<string, unknown> | null;
      return v !== null && typeof v === 'object' && 'prompt' in v && !('chosen' in v) && !('rejected' in v);
    }
  }
  return false;
}

/** One prompt's text as the model continues it, and where it came from. */
export interface PromptText {
  text: string;
  /** `file:line`. */
  source: string;
}

/** The prompts of `spec`, in file order; an empty file is an error. `limit`: read at most this many. */
export async function readPromptTexts(spec: string, limit?: number): Promise<PromptText[]> {
  const out: PromptText[] = [];
  if (await isPromptsFile(spec)) {
    for (const src of resolveSource(spec)) {
      for await (const row of readFileRows(src)) {
        if (limit !== undefined && out.length >= limit) break;
        if (row.error) throw row.error;
        const v = row.value as Record<string, unknown>;
        if (typeof v?.prompt !== 'string') throw new PromptFileError(`${row.where}: field "prompt" must be a string; expected one {prompt} per line like the file's first row`);
        out.push({ text: v.prompt, source: row.where });
      }
    }
  } else {
    for await (const r of readPreferences(spec, { limit })) out.push({ text: renderPair(r).prompt, source: r.source });
  }
  if (out.length === 0) throw new PromptFileError(`${spec}: no prompts in the file; expected rows {prompt} or preference records`);
  return out;
}

/** [BOS] + encode(text) per prompt; one longer than `maxPromptTokens` (the model's context less one new token) is an error naming it. */
export function tokenizePrompts(prompts: PromptText[], tok: Tokenizer, maxPromptTokens: number): PromptExample[] {
  const bos = tok.bosId !== null ? [tok.bosId] : [];
  return prompts.map((p) => {
    const ids = [...bos, ...tok.encode(p.text)];
    if (ids.length > maxPromptTokens) throw new PromptFileError(`${p.source}: the prompt has ${ids.length} tokens; the model takes at most ${maxPromptTokens} before its first new token; shorten it`);
    return { ids, text: p.text, source: p.source };
  });
}
