/**
 * Packed rows: several sequences in one row of a batch, without padding between them (padding-free batches),
 * and a prompt laid out once for a chosen and a rejected completion (shared prompts). The model computes each
 * sequence exactly as it would in a padded row of its own, given per token:
 *   - its position id (RoPE angle or learned position): its index in its own sequence, restarting for each one;
 *   - the keys it attends to: [segStart, itself] (its own segment, causally) and [prefixStart, prefixEnd) (the
 *     prefix segment it continues, e.g. the shared prompt of a rejected completion laid out after the chosen
 *     one; empty when prefixStart = prefixEnd).
 * Example, a pair sharing a 2-token prompt P, chosen C (2 tokens), rejected R (1 token), row [P0 P1 C0 C1 R0]:
 *   positions [0, 1, 2, 3, 2], segStart [0, 0, 0, 0, 4], prefix [0, 0) for the first four and [0, 2) for R0.
 *
 * Invariants (checkLayout): 0 <= prefixStart <= prefixEnd <= segStart <= t, and 0 <= position <= t (a token sees
 * `position` keys before itself, so its position never exceeds its index in the row).
 *
 * Does: the layout contract, its check, the [R, T, 4] tensor the fused kernel reads and the additive bias
 * [R, 1, 1, T, T] the TF.js attention reads. Does NOT: decide how sequences are packed (data/packing.ts) or which
 * attention runs (backend/ops.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { ModelError } from './errors';
import { MASKED } from './layers';

/** Per-token layout of `rows` packed rows of `seqLen` tokens, row-major [rows·seqLen] each. */
export interface PackedLayout {
  rows: number;
  seqLen: number;
  positions: Int32Array;
  segStart: Int32Array;
  prefixStart: Int32Array;
  prefixEnd: Int32Array;
}

/** Throws a ModelError naming the first token that breaks the invariants above. */
export function checkLayout(l: PackedLayout): void {
  const { rows: R, seqLen: T } = l;
  const n = R * T;
  for (const k of ['positions', 'segStart', 'prefixStart', 'prefixEnd'] as const) {
    if (l[k].length !== n) throw new ModelError(`packed layout: ${k} holds ${l[k].length} values; expected rows·seqLen = ${R}·${T} = ${n}`);
  }
  for (let i = 0; i < n; i++) {
    const t = i % T;
    const [p, s, a, b] = [l.positions[i], l.segStart[i], l.prefixStart[i], l.prefixEnd[i]];
    if (!(p >= 0 && p <= t && a >= 0 && a <= b && b <= s && s <= t)) {
      throw new ModelError(`packed layout: row ${Math.floor(i / T)} token ${t} has position ${p}, segment start ${s}, prefix [${a}, ${b}); ` +
        'expected 0 <= position <= t and 0 <= prefix start <= prefix end <= segment start <= t (data/packing.ts builds valid layouts)');
    }
  }
}

/**
 * [R, T, 4] float32: (position, segStart, prefixStart, prefixEnd) per token, the fused kernel's input. With `read`
 * (cells r·T + t whose output is read, e.g. the last block's keepRows), every other cell's segStart s is stored as
 * -1 - s: the kernel skips query blocks of such cells only (native/rlhf_ops.cc), which the output rows read never
 * notice. e.g. cells 0..3 with read [3]: segStart column [-1, -1, -1, 0] for segStart [0, 0, 0, 0].
 */
export function layoutTensor(l: PackedLayout, read?: Int32Array): tf.Tensor3D {
  const n = l.rows * l.seqLen;
  const data = new Float32Array(4 * n);
  for (let i = 0; i < n; i++) {
    data[4 * i] = l.positions[i];
    data[4 * i + 1] = read ? -1 - l.segStart[i] : l.segStart[i];
    data[4 * i + 2] = l.prefixStart[i];
    data[4 * i + 3] = l.prefixEnd[i];
  }
  if (read) for (const i of read) data[4 * i + 1] = l.segStart[i];
  return tf.tensor3d(data, [l.rows, l.seqLen, 4]);
}

/**
 * Additive attention bias [R, 1, 1, T, T] (broadcasts over kv heads and query groups): 0 where token t may
 * attend to key j, MASKED elsewhere. Every masked key lies after its query or outside its ranges, so the bias is
 * also causal (attention.ts's causal blocks stay exact). e.g. the pair in the header gives for R0 (row 4)
 * [0, 0, M, M, 0].
 */
export function segmentBias(l: PackedLayout): tf.Tensor {
  const { rows: R, seqLen: T } = l;
  const data = new Float32Array(R * T * T).fill(MASKED);
  for (let r = 0; r < R; r++) {
    for (let t = 0; t < T; t++) {
      const i = r * T + t;
      const row = (r * T + t) * T;
      data.fill(0, row + l.prefixStart[i], row + l.prefixEnd[i]);
      data.fill(0, row + l.segStart[i], row + t + 1);
    }
  }
  return tf.tensor(data, [R, 1, 1, T, T]);
}
