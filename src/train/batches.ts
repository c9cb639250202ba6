/**
 * The batch shapes the trainers consume (produced by data/collate, padded, or data/packing, packed) and their
 * conversion to tensors and model read-outs. Collation stays in plain typed arrays so it never leaks tensors and
 * can run ahead of the model. A trainer asks for what it needs (sequence log-prob sums, reward scores, token
 * counts) through the functions here, whatever the layout: the padded path is the reference the packed one equals.
 */
import * as tf from '@tensorflow/tfjs';
import type { PairBatch, SequenceBatch } from '../data/collate';
import { isPacked, type PackedPairBatch, type PackedRows, type PackedSequenceBatch } from '../data/packing';
import { paddedScoredTokens, scoredLogProbs, type ScoredSums } from '../model/logprobs';
import type { RewardModel } from '../model/reward';
import type { CausalLM } from '../model/types';

/** A padded pair batch as data/collate makes it: rows 0..B-1 chosen, B..2B-1 rejected. */
export type PairBatchLike = PairBatch;
/** B padded single sequences (SFT). */
export type SequenceBatchLike = SequenceBatch;
/** The pair batches the trainers read: padded or packed (data/packing: shared prompts, padding-free rows). */
export type AnyPairBatch = PairBatch | PackedPairBatch;
/** The sequence batches SFT reads: padded or packed. */
export type AnySequenceBatch = SequenceBatch | PackedSequenceBatch;

export { isPacked };

export interface BatchTensors {
  ids: tf.Tensor2D;
  attentionMask: tf.Tensor2D;
  completionMask: tf.Tensor2D;
}

/** Tensors for `rows` rows of T tokens of a padded batch. The caller disposes them (or runs inside a tidy). */
export function toTensors(b: { inputIds: Int32Array; attentionMask: Float32Array; completionMask: Float32Array; seqLen: number }, rows: number): BatchTensors {
  const shape: [number, number] = [rows, b.seqLen];
  return {
    ids: tf.tensor2d(b.inputIds, shape, 'int32'),
    attentionMask: tf.tensor2d(b.attentionMask, shape, 'float32'),
    completionMask: tf.tensor2d(b.completionMask, shape, 'float32'),
  };
}

/** Non-padding tokens (for tokens/s). */
export function countTokens(mask: Float32Array): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) n += mask[i];
  return n;
}

/** Tokens of every sequence of a batch (num_tokens, tokens/s): the same number for either layout of the same examples. */
export function batchTokens(b: PairBatch | SequenceBatch | PackedRows): number {
  return isPacked(b) ? b.tokens : countTokens(b.attentionMask);
}

/** Packed rows' ids as a [rows, T] int32 tensor. */
function packedIds(b: PackedRows): tf.Tensor2D {
  return tf.tensor2d(b.inputIds, [b.rows, b.seqLen], 'int32');
}

/**
 * One forward of `model` over a batch -> per-sequence sums of completion-token log-probs (and counts; with
 * meanLogits, the vocabulary-mean logits TRL logs). Sequences as the padded batch's rows: `rows` of them (2B for
 * pairs, chosen first; B for sequences). The head runs in chunks on the scored positions only (model/logprobs.ts).
 */
export function batchLogProbs(model: CausalLM, b: PairBatch | SequenceBatch | PackedRows, rows: number, opts: { meanLogits?: boolean } = {}): ScoredSums {
  return tf.tidy(() => {
    if (isPacked(b)) return scoredLogProbs(model, model.hiddenPacked(packedIds(b), b), b.scored, opts);
    const t = toTensors(b, rows);
    return scoredLogProbs(model, model.hidden(t.ids, t.attentionMask), paddedScoredTokens(b.inputIds, b.completionMask, rows, b.seqLen), opts);
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
