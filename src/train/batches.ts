/**
 * The batch shapes the trainers consume (produced by data/collate) and their conversion to tensors.
 * Collation stays in plain typed arrays so it never leaks tensors and can run ahead of the model.
 */
import * as tf from '@tensorflow/tfjs';
import type { PreferenceRecord } from '../data/types';

/** B pairs as 2B rows: rows 0..B-1 chosen, B..2B-1 rejected; all arrays are [2B·T] row-major. */
export interface PairBatchLike {
  size: number;
  seqLen: number;
  inputIds: Int32Array;
  attentionMask: Float32Array;
  /** 1 where token t is a completion token (its log-prob is read from position t-1). */
  completionMask: Float32Array;
  margins?: Float32Array;
  records: PreferenceRecord[];
}

/** B single sequences (SFT): arrays are [B·T]. */
export interface SequenceBatchLike {
  size: number;
  seqLen: number;
  inputIds: Int32Array;
  attentionMask: Float32Array;
  completionMask: Float32Array;
  records: PreferenceRecord[];
}

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
