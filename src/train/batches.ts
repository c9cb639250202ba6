/**
 * The batch shapes the trainers consume (produced by data/collate) and their conversion to tensors.
 * Collation stays in plain typed arrays so it never leaks tensors and can run ahead of the model.
 */
import * as tf from '@tensorflow/tfjs';
import type { PairBatch, SequenceBatch } from '../data/collate';

/** The collated batches the trainers read (data/collate makes them): rows 0..B-1 chosen, B..2B-1 rejected. */
export type PairBatchLike = PairBatch;
/** B single sequences (SFT). */
export type SequenceBatchLike = SequenceBatch;

export interface BatchTensors {
  ids: tf.Tensor2D;
  attentionMask: tf.Tensor2D;
  completionMask: tf.Tensor2D;
}

/** Tensors for `rows` rows of T tokens. The caller disposes them (or runs inside a tidy). */
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
