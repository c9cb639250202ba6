/**
 * A model's read-outs of a collated batch, whatever its layout: padded rows (data/collate.ts, one sequence a row)
 * or packed rows (data/packing.ts: shared prompts, padding-free rows, through hiddenPacked). Trainers, the reference
 * pass, compare's scoring and the bench ask for sequence log-prob sums and reward scores here; the padded path is
 * the reference the packed one equals (up to float rounding).
 *
 * Does: one forward per call. Does NOT: collate (data/) or turn read-outs into losses (losses/, train/).
 */
import * as tf from '@tensorflow/tfjs';
import type { PairBatch, SequenceBatch } from '../data/collate';
import { isPacked, type AnyPairBatch, type PackedRows } from '../data/packing';
import { packedIds, toTensors } from '../data/tensors';
import { paddedScoredTokens, scoredLogProbsAt, type ScoredSums } from './logprobs';
import type { RewardModel } from './reward';
import type { CausalLM } from './types';

/**
 * One forward of `model` over a batch -> per-sequence sums of completion-token log-probs (and counts; with
 * meanLogits, the vocabulary-mean logits TRL logs). Sequences as the padded batch's rows: `rows` of them (2B for
 * pairs, chosen first; B for sequences). The last block past its attention, the final norm and the head run on the
 * scored positions only (logprobs.ts scoredLogProbsAt).
 */
export function batchLogProbs(model: CausalLM, b: PairBatch | SequenceBatch | PackedRows, rows: number, opts: { meanLogits?: boolean } = {}): ScoredSums {
  return tf.tidy(() => {
    if (isPacked(b)) {
      const ids = packedIds(b);
      return scoredLogProbsAt(model, (cells) => model.hiddenPacked(ids, b, { rows: cells }), b.scored, opts);
    }
    const t = toTensors(b, rows);
    const scored = paddedScoredTokens(b.inputIds, b.completionMask, rows, b.seqLen);
    return scoredLogProbsAt(model, (cells) => model.hidden(t.ids, t.attentionMask, { rows: cells }), scored, opts);
  });
}

/** Reward scores of a pair batch, [2B] (chosen, then rejected), read at each sequence's last token. */
export function batchRewards(model: RewardModel, b: AnyPairBatch): tf.Tensor1D {
  return tf.tidy(() => {
    if (isPacked(b)) return model.scoresPacked(packedIds(b), b, b.last);
    const t = toTensors(b, 2 * b.size);
    return model.scores(t.ids, t.attentionMask);
  });
}
