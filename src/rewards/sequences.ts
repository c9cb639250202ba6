/**
 * (prompt, completion) texts -> tokenised, cut and batched sequences for the model-backed rewards (explicit.ts,
 * implicit.ts), through the data layer's own code: prepareSequence tokenises and cuts exactly as preparePair does
 * for one side of a pair (BOS + prompt, completion + EOS; max_prompt_length, then max_length per the truncation
 * mode), so a completion scored here gets the tokens the same text gets as a side of a pair in compare and in
 * training. collateSequences pads the rows; data/tensors.ts makes the tensors.
 *
 * Does NOT: run a model (the sources do), render conversations (a prompt here is text already rendered).
 */
import { collateSequences, newCollateStats, prepareSequence, type SequenceBatch, type SequenceExample } from '../data/collate';
import type { PreferenceRecord } from '../data/types';
import type { ResolvedScoring } from '../io/scoring-settings';
import type { Tokenizer } from '../tokenizer/types';
import { RewardError } from './types';

/** Pairs per forward pass unless the caller says otherwise (compare's batch size). */
export const REWARD_BATCH_SIZE = 16;

/**
 * Tokenises pairs and cuts each to the model's scoring settings. A pair that truncation_mode drop would drop is
 * an error naming its row (it has no score), as compare makes it.
 */
export function prepareCompletions(name: string, prompts: readonly string[], completions: readonly string[], tok: Tokenizer, s: ResolvedScoring): SequenceExample[] {
  const v = s.values;
  const limits = { maxLength: v.max_length, maxPromptLength: v.max_prompt_length ?? undefined, truncation: v.truncation_mode };
  const stats = newCollateStats();
  return prompts.map((prompt, i) => {
    const record: PreferenceRecord = { prompt, chosen: completions[i], rejected: '', id: String(i), source: `row ${i}` };
    const ex = prepareSequence(record, tok, limits, stats);
    if (!ex) {
      throw new RewardError(
        `reward ${name}: row ${i} cannot be scored within max_length ${v.max_length} (max_prompt_length ${v.max_prompt_length}, truncation_mode drop, from ${s.sources.truncation_mode}); ` +
          `add ?truncation_mode=keep_end to the spec, or raise ?max_length=`,
      );
    }
    return ex;
  });
}

/** Runs `fn` on padded batches of at most `batchSize` rows, in order; offset = the batch's first row. */
export async function forBatches(examples: SequenceExample[], tok: Tokenizer, batchSize: number, fn: (b: SequenceBatch, offset: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < examples.length; i += batchSize) await fn(collateSequences(examples.slice(i, i + batchSize), tok.padId), i);
}
