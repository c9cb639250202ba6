/**
 * Collated batches (collate.ts: plain typed arrays, padded; packing.ts: packed rows) as tensors, for the trainers, the scorers and the bench.
 * Collation itself stays in typed arrays so it never leaks tensors and can run ahead of the model; this is
 * the one place a batch becomes tensors. Not re-exported by data/index.ts, so reading data loads no TF.js.
 *
 * Does NOT: run a model or own tensors past the call (the caller disposes them, or runs inside a tidy).
 */
import * as tf from '@tensorflow/tfjs';
import type { PairBatch, SequenceBatch } from './collate';
import { isPacked, type PackedRows } from './packing';

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

/** Tokens of every sequence of a batch, padded or packed (num_tokens, tokens/s): the same number for either layout. */
export function batchTokens(b: PairBatch | SequenceBatch | PackedRows): number {
  return isPacked(b) ? b.tokens : countTokens(b.attentionMask);
}

/** A packed batch's ids as a [rows, T] int32 tensor. The caller disposes it (or runs inside a tidy). */
export function packedIds(b: PackedRows): tf.Tensor2D {
  return tf.tensor2d(b.inputIds, [b.rows, b.seqLen], 'int32');
}
