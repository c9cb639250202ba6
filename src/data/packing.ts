/**
 * Packed batches: the alternative to padding every sequence to the batch's longest (collate.ts). Two savings,
 * one layout (model/packed.ts describes what the model does with it):
 *   - shared prompts: a pair's chosen and rejected sequences start with the same tokens (the prompt, and any
 *     identical opening of the two responses); those are laid out once, [shared | chosen rest | rejected rest],
 *     the rejected rest attending to the shared part as its prefix, its positions continuing after it
 *     (Wang et al. 2024, "Accelerating Direct Preference Optimization with Prefix Sharing");
 *   - padding-free rows: several items (pairs, or single sequences) share a row, each attending only to itself
 *     (block-diagonal), positions restarting; items are packed first-fit-decreasing into rows as long as the
 *     batch's longest item, so the [T, T] attention of the TF.js path never grows past the padded batch's; or, with
 *     oneRow, all of them into a single row: no padding at all, for the fused segment kernel, whose work does not
 *     grow with a row's length (it computes each run of items on its own, native/rlhf_ops.cc SegSpans).
 * Without padding_free each item keeps a row of its own (shared prompts alone: one row per pair instead of two).
 *
 * Every sequence is read exactly as in its padded row: sequence s's token t (t >= max(completionStart, 1)) is
 * scored from the position that holds its token t − 1, and its last token is where a reward model reads its score.
 * Sequences are numbered as the padded batch's rows: pairs 0..B-1 chosen, B..2B-1 rejected; sequences 0..B-1.
 *
 * Token counts keep the padded layout's meaning (every token of every sequence, a shared prompt counted once
 * per side, as TRL's num_tokens counts it), so tokens/s compares across layouts; `placed` and `cells` say what
 * the packed rows really hold and compute.
 *
 * Does: lay out, as plain typed arrays (no tensors). Does NOT: tokenise or truncate (collate.ts), choose batches
 * (batching.ts) or run a model.
 */
import type { PairBatch, PairExample, Seq, SequenceBatch, SequenceExample } from './collate';
import type { PreferenceRecord } from './types';

export interface PackOptions {
  /** Lay out the common prefix of a pair's chosen and rejected sequences once. @default true */
  sharePrompt?: boolean;
  /** Several items per row (first-fit decreasing into rows as long as the longest item). @default false */
  paddingFree?: boolean;
  /**
   * With paddingFree: every item in one row, end to end, so no cell is padding. Only for attention whose cost does
   * not grow with the row (the fused segment kernel: model's packsInOneRow); the TF.js path's [T, T] bias would grow
   * with the square of the batch's tokens. @default false
   */
  oneRow?: boolean;
}

/** How items are laid out in rows: one per row, first-fit decreasing into rows of the longest item, or all in one row. */
export type RowPlan = 'per-item' | 'fit-longest' | 'one-row';

/** The row plan packing options ask for. */
export function rowPlanOf(o: PackOptions): RowPlan {
  if (!o.paddingFree) return 'per-item';
  return o.oneRow ? 'one-row' : 'fit-longest';
}

/** Rows of packed tokens and what the model needs to read them (model/packed.ts's PackedLayout, plus read-outs). */
export interface PackedRows {
  packed: true;
  rows: number;
  seqLen: number;
  /** [rows·seqLen] token ids (padId in the unused cells at a row's end). */
  inputIds: Int32Array;
  /** Per token: position id, own segment start, prefix range [prefixStart, prefixEnd) (model/packed.ts). */
  positions: Int32Array;
  segStart: Int32Array;
  prefixStart: Int32Array;
  prefixEnd: Int32Array;
  /** Scored tokens (model/logprobs.ts's ScoredTokens): predicting cell, target id, sequence. */
  scored: { source: Int32Array; target: Int32Array; sequence: Int32Array; count: number };
  /** Per sequence, the cell (row·seqLen + t) of its last token: where a reward model reads its score. */
  last: Int32Array;
  /** Tokens of all sequences, as the padded layout holds them (num_tokens, tokens/s). */
  tokens: number;
  /** Tokens actually laid out (fewer than `tokens` by the shared prefixes). */
  placed: number;
  /** Cells of the padded layout for the same sequences (sequences × the longest). */
  paddedCells: number;
}

export interface PackedPairBatch extends PackedRows {
  /** B pairs. */
  size: number;
  margins?: Float32Array;
  records: PreferenceRecord[];
  /** The pairs' sequences as tokenised (reference cache keys: the same for every layout). */
  pairs: { chosen: Seq; rejected: Seq }[];
}

export interface PackedSequenceBatch extends PackedRows {
  size: number;
  records: PreferenceRecord[];
}

/** The pair batches the trainers and scorers read: padded (collate.ts) or packed (here). */
export type AnyPairBatch = PairBatch | PackedPairBatch;
/** The sequence batches SFT reads: padded or packed. */
export type AnySequenceBatch = SequenceBatch | PackedSequenceBatch;

/** Length of the common prefix of two id lists. e.g. [1,5,6,7], [1,5,9] -> 2. */
export function commonPrefix(a: number[], b: number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/**
 * One item: its tokens in row order and, per sequence it carries, where each of that sequence's tokens sits
 * (`cells[t]`, relative to the item's start). `shared` tokens (the start of the item) are a prefix the part after
 * `split` also attends to.
 */
interface Item {
  ids: number[];
  /** Tokens [split, ids.length) form a second segment whose prefix is [0, shared). split = ids.length: one segment. */
  split: number;
  shared: number;
  seqs: { index: number; seq: Seq; cells: number[] }[];
}

/** A single sequence as an item (at least one cell: an empty sequence reads a pad token, as in its padded row). */
function single(seq: Seq, index: number): Item {
  const n = Math.max(1, seq.ids.length);
  return { ids: seq.ids.length ? seq.ids : [-1], split: n, shared: 0, seqs: [{ index, seq, cells: Array.from({ length: n }, (_, t) => t) }] };
}

/**
 * A pair as one item: chosen whole, then rejected past the common prefix p (which it attends to as its prefix).
 * e.g. chosen [1,5,6], rejected [1,5,9,9] -> ids [1,5,6,9,9], split 3, shared 2; rejected's cells [0,1,3,4].
 */
function sharedPair(chosen: Seq, rejected: Seq, i: number, B: number): Item {
  if (chosen.ids.length === 0 || rejected.ids.length === 0) {
    // An empty side has nothing to share: lay the two out as independent sequences of one item.
    const c = single(chosen, i);
    const r = single(rejected, B + i);
    const off = c.ids.length;
    return { ids: [...c.ids, ...r.ids], split: off, shared: 0, seqs: [c.seqs[0], { ...r.seqs[0], cells: r.seqs[0].cells.map((x) => x + off) }] };
  }
  const p = commonPrefix(chosen.ids, rejected.ids);
  const lc = chosen.ids.length;
  const ids = [...chosen.ids, ...rejected.ids.slice(p)];
  const rejectedCells = rejected.ids.map((_, t) => (t < p ? t : lc + (t - p)));
  return {
    ids, split: lc, shared: p,
    seqs: [{ index: i, seq: chosen, cells: chosen.ids.map((_, t) => t) }, { index: B + i, seq: rejected, cells: rejectedCells }],
  };
}

/**
 * Rows for items of these lengths: one per item ('per-item'), first-fit decreasing into rows of the longest length
 * ('fit-longest'), or end to end in one row ('one-row'). Returns each item's row and offset. e.g. lengths [5, 2, 3]:
 * fit-longest -> row 0: item 0; row 1: items 2, 1; one-row -> offsets [0, 5, 7] in a row of 10.
 */
export function planRows(lengths: number[], plan: RowPlan): { row: number[]; offset: number[]; rows: number; seqLen: number } {
  const n = lengths.length;
  const cap = lengths.reduce((m, x) => Math.max(m, x), 1);
  const row = new Array<number>(n);
  const offset = new Array<number>(n);
  if (plan === 'per-item') {
    for (let i = 0; i < n; i++) [row[i], offset[i]] = [i, 0];
    return { row, offset, rows: n, seqLen: cap };
  }
  if (plan === 'one-row') {
    let end = 0;
    for (let i = 0; i < n; i++) [row[i], offset[i], end] = [0, end, end + lengths[i]];
    return { row, offset, rows: 1, seqLen: Math.max(1, end) };
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => lengths[b] - lengths[a] || a - b);
  const fill: number[] = [];
  for (const i of order) {
    let r = fill.findIndex((f) => f + lengths[i] <= cap);
    if (r < 0) r = fill.push(0) - 1;
    [row[i], offset[i]] = [r, fill[r]];
    fill[r] += lengths[i];
  }
  return { row, offset, rows: fill.length, seqLen: Math.max(1, ...fill) };
}

/** Lays out items in rows and derives every per-token array and read-out. */
function layOut(items: Item[], sequences: number, padId: number, rowPlan: RowPlan, paddedCells: number): PackedRows {
  const plan = planRows(items.map((it) => it.ids.length), rowPlan);
  const T = plan.seqLen;
  const cells = plan.rows * T;
  const inputIds = new Int32Array(cells).fill(padId);
  const positions = new Int32Array(cells);
  const segStart = Int32Array.from({ length: cells }, (_, i) => i % T); // unused cells: a segment of their own
  const prefixStart = new Int32Array(cells);
  const prefixEnd = new Int32Array(cells);
  const last = new Int32Array(sequences);
  const scoredCount = items.reduce((n, it) => n + it.seqs.reduce((m, s) => m + Math.max(0, s.seq.ids.length - Math.max(s.seq.completionStart, 1)), 0), 0);
  const scored = { source: new Int32Array(scoredCount), target: new Int32Array(scoredCount), sequence: new Int32Array(scoredCount), count: sequences };
  let tokens = 0, placed = 0, k = 0;
  // Scored tokens in sequence order (chosen rows, then rejected rows), as the padded batch lists them.
  const bySeq: { it: number; s: Item['seqs'][number] }[] = [];
  items.forEach((it, n) => {
    const base = plan.row[n] * T + plan.offset[n];
    it.ids.forEach((id, t) => {
      const c = base + t;
      const second = t >= it.split;
      inputIds[c] = id < 0 ? padId : id;
      segStart[c] = plan.offset[n] + (second ? it.split : 0);
      if (second) [prefixStart[c], prefixEnd[c]] = [plan.offset[n], plan.offset[n] + it.shared];
      positions[c] = second ? it.shared + (t - it.split) : t;
    });
    placed += it.ids.filter((id) => id >= 0).length;
    for (const s of it.seqs) {
      bySeq[s.index] = { it: n, s };
      tokens += s.seq.ids.length;
    }
  });
  bySeq.forEach(({ it, s }) => {
    const base = plan.row[it] * T + plan.offset[it];
    last[s.index] = base + s.cells[s.cells.length - 1];
    for (let t = Math.max(s.seq.completionStart, 1); t < s.seq.ids.length; t++) {
      scored.source[k] = base + s.cells[t - 1];
      scored.target[k] = s.seq.ids[t];
      scored.sequence[k++] = s.index;
    }
  });
  return { packed: true, rows: plan.rows, seqLen: T, inputIds, positions, segStart, prefixStart, prefixEnd, scored, last, tokens, placed, paddedCells };
}

function longest(seqs: Seq[]): number {
  return seqs.reduce((m, s) => Math.max(m, s.ids.length), 1);
}

/**
 * Pair examples -> a packed batch (sequences 0..B-1 chosen, B..2B-1 rejected). sharePrompt: one item per pair;
 * otherwise chosen and rejected are separate items (then only useful with paddingFree).
 */
export function packPairs(examples: PairExample[], padId: number, o: PackOptions = {}): PackedPairBatch {
  const B = examples.length;
  const share = o.sharePrompt ?? true;
  const items = share
    ? examples.map((e, i) => sharedPair(e.chosen, e.rejected, i, B))
    : [...examples.map((e, i) => single(e.chosen, i)), ...examples.map((e, i) => single(e.rejected, B + i))];
  const all = [...examples.map((e) => e.chosen), ...examples.map((e) => e.rejected)];
  const rows = layOut(items, 2 * B, padId, rowPlanOf(o), 2 * B * longest(all));
  const batch: PackedPairBatch = { ...rows, size: B, records: examples.map((e) => e.record), pairs: examples.map((e) => ({ chosen: e.chosen, rejected: e.rejected })) };
  if (examples.some((e) => e.record.margin !== undefined)) batch.margins = Float32Array.from(examples, (e) => e.record.margin ?? 0);
  return batch;
}

/** Sequence examples (SFT) -> a packed batch, several per row (oneRow: all in one). */
export function packSequences(examples: SequenceExample[], padId: number, o: Pick<PackOptions, 'oneRow'> = {}): PackedSequenceBatch {
  const items = examples.map((e, i) => single(e.seq, i));
  const rows = layOut(items, examples.length, padId, rowPlanOf({ paddingFree: true, ...o }), examples.length * longest(examples.map((e) => e.seq)));
  return { ...rows, size: examples.length, records: examples.map((e) => e.record) };
}

/** Whether a batch is packed (this module) rather than padded (collate.ts). */
export function isPacked<B extends object>(b: B | PackedRows): b is PackedRows {
  return (b as Partial<PackedRows>).packed === true;
}

/** What a set of packed batches computes, against the padded layout of the same batches. */
export interface PackingStats {
  /** Cells (row × length) the padded layout computes. */
  padded_cells: number;
  /** Cells the packed rows compute. */
  packed_cells: number;
  /** Tokens of all sequences (prompt counted per side). */
  tokens: number;
  /** Tokens laid out (shared prefixes once). */
  placed_tokens: number;
  /** 1 − packed / padded cells: the share of the padded layout's work left out. */
  cells_saved_fraction: number;
  /** Padding cells of the padded layout that the packed rows do not compute, as a share of them. */
  padding_saved_fraction: number;
}

/** The numbers PackingStats sums, for one batch. */
export type PackedShape = Pick<PackedRows, 'rows' | 'seqLen' | 'tokens' | 'placed' | 'paddedCells'>;

/** What packPairs would lay out for these pairs, without building it (for statistics over a whole epoch). */
export function pairPackedShape(examples: PairExample[], o: PackOptions = {}): PackedShape {
  const share = o.sharePrompt ?? true;
  const c = examples.map((e) => e.chosen.ids.length);
  const r = examples.map((e) => e.rejected.ids.length);
  const shared = examples.map((e, i) => (share && c[i] > 0 && r[i] > 0 ? commonPrefix(e.chosen.ids, e.rejected.ids) : 0));
  const cell = (n: number) => Math.max(1, n); // an empty sequence takes one (pad) cell
  const lengths = share ? examples.map((_, i) => cell(c[i]) + cell(r[i] - shared[i]) - (r[i] > 0 && r[i] === shared[i] ? 1 : 0)) : [...c.map(cell), ...r.map(cell)];
  const plan = planRows(lengths, rowPlanOf(o));
  const tokens = c.reduce((a, x) => a + x, 0) + r.reduce((a, x) => a + x, 0);
  return { rows: plan.rows, seqLen: plan.seqLen, tokens, placed: tokens - shared.reduce((a, x) => a + x, 0), paddedCells: 2 * examples.length * Math.max(1, ...c, ...r) };
}

/** What packSequences would lay out for these sequences, without building it. */
export function sequencePackedShape(examples: SequenceExample[], o: Pick<PackOptions, 'oneRow'> = {}): PackedShape {
  const n = examples.map((e) => e.seq.ids.length);
  const plan = planRows(n.map((x) => Math.max(1, x)), rowPlanOf({ paddingFree: true, ...o }));
  const tokens = n.reduce((a, x) => a + x, 0);
  return { rows: plan.rows, seqLen: plan.seqLen, tokens, placed: tokens, paddedCells: examples.length * Math.max(1, ...n) };
}

/** Sums the cells and tokens of packed batches (e.g. one epoch's) into PackingStats. */
export function packingStats(batches: Iterable<PackedShape>): PackingStats {
  let padded = 0, packed = 0, tokens = 0, placed = 0;
  for (const b of batches) {
    padded += b.paddedCells;
    packed += b.rows * b.seqLen;
    tokens += b.tokens;
    placed += b.placed;
  }
  const padPadded = padded - tokens;
  const padPacked = packed - placed;
  return {
    padded_cells: padded, packed_cells: packed, tokens, placed_tokens: placed,
    cells_saved_fraction: padded === 0 ? 0 : 1 - packed / padded,
    padding_saved_fraction: padPadded <= 0 ? 0 : 1 - padPacked / padPadded,
  };
}
