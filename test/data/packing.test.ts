/**
 * data/packing.ts: hand-worked layouts (a shared prompt, padding-free rows, empty and identical sides), the
 * invariants model/packed.ts checks, scored tokens that are the padded batch's own, the shapes the statistics use
 * equal to the built batches, and the padding fraction saved on a hand-worked batch.
 */
import { collatePairs, packPairs, packSequences, packingStats, pairPackedShape, planRows, rowPlanOf, sequencePackedShape, type PairExample, type Seq, type SequenceExample } from '../../src/data';
import { checkLayout } from '../../src/model/packed';
import { paddedScoredTokens } from '../../src/model/logprobs';
import type { PreferenceRecord } from '../../src/data/types';

const record = (i: number): PreferenceRecord => ({ prompt: 'p', chosen: 'c', rejected: 'r', id: `r${i}`, source: `t:${i}` });
const pair = (i: number, chosen: number[], rejected: number[], completionStart: number): PairExample => ({
  record: record(i), chosen: { ids: chosen, completionStart }, rejected: { ids: rejected, completionStart },
});

/** Sorted "sequence:target" strings of scored tokens, to compare layouts (their cells differ, their tokens must not). */
function scoredSet(s: { target: Int32Array; sequence: Int32Array }): string[] {
  return Array.from(s.target, (t, i) => `${s.sequence[i]}:${t}`).sort();
}

/** Random pairs sharing a prompt (sometimes a longer common start, sometimes an empty or identical side). */
function randomPairs(n: number, seed: number): PairExample[] {
  let s = seed;
  const rnd = (k: number) => ((s = (s * 1103515245 + 12345) % 2147483648) % k);
  return Array.from({ length: n }, (_, i) => {
    const prompt = [1, ...Array.from({ length: rnd(6) }, () => 3 + rnd(20))];
    const c = Array.from({ length: 1 + rnd(7) }, () => 3 + rnd(20));
    const kind = rnd(5);
    const r = kind === 0 ? [...c] : kind === 1 ? [...c.slice(0, 2), 4, 5] : Array.from({ length: 1 + rnd(7) }, () => 3 + rnd(20));
    return pair(i, [...prompt, ...c], [...prompt, ...r], prompt.length);
  });
}

describe('packPairs', () => {
  test('hand-worked: a shared 2-token prompt is laid out once; the rejected rest attends to it, positions continuing', () => {
    const b = packPairs([pair(0, [1, 5, 6, 7], [1, 5, 9], 2)], 0);
    expect(b.rows).toBe(1);
    expect(b.seqLen).toBe(5);
    expect(Array.from(b.inputIds)).toEqual([1, 5, 6, 7, 9]);
    expect(Array.from(b.positions)).toEqual([0, 1, 2, 3, 2]);
    expect(Array.from(b.segStart)).toEqual([0, 0, 0, 0, 4]);
    expect(Array.from(b.prefixStart)).toEqual([0, 0, 0, 0, 0]);
    expect(Array.from(b.prefixEnd)).toEqual([0, 0, 0, 0, 2]);
    // chosen scores 6 (from cell 1) and 7 (from cell 2); rejected scores 9 from the prompt's last cell 1.
    expect(Array.from(b.scored.source)).toEqual([1, 2, 1]);
    expect(Array.from(b.scored.target)).toEqual([6, 7, 9]);
    expect(Array.from(b.scored.sequence)).toEqual([0, 0, 1]);
    expect(Array.from(b.last)).toEqual([3, 4]);
    expect([b.tokens, b.placed, b.paddedCells]).toEqual([7, 5, 8]);
    checkLayout(b);
  });

  test('the common start past the prompt is shared too; an identical rejected side lays out nothing of its own', () => {
    const longer = packPairs([pair(0, [1, 5, 6, 7], [1, 5, 6, 8, 8], 2)], 0);
    expect(Array.from(longer.inputIds)).toEqual([1, 5, 6, 7, 8, 8]);
    expect(Array.from(longer.prefixEnd)).toEqual([0, 0, 0, 0, 3, 3]);
    expect(Array.from(longer.positions)).toEqual([0, 1, 2, 3, 3, 4]);
    // rejected's 6 is read where chosen's is (cell 1), its first 8 from cell 2 (the shared 6)
    expect(Array.from(longer.scored.source)).toEqual([1, 2, 1, 2, 4]);
    const same = packPairs([pair(0, [1, 5, 6], [1, 5, 6], 1)], 0);
    expect(Array.from(same.inputIds)).toEqual([1, 5, 6]);
    expect(Array.from(same.last)).toEqual([2, 2]);
    expect(Array.from(same.scored.source)).toEqual([0, 1, 0, 1]);
  });

  test('without sharing, padding-free rows hold several sequences, each its own segment with positions from 0', () => {
    const b = packPairs([pair(0, [1, 5, 6, 7], [1, 9], 1), pair(1, [1, 8], [1, 2, 3], 1)], 0, { sharePrompt: false, paddingFree: true });
    // items (lengths) c0 4, r1 3, c1 2, r0 2 in decreasing order, rows of 4: [c0], [r1], [c1 r0]
    expect(b.seqLen).toBe(4);
    expect(b.rows).toBe(3);
    checkLayout(b);
    for (let i = 0; i < b.rows * b.seqLen; i++) expect(b.prefixEnd[i]).toBe(b.prefixStart[i]); // no prefixes
    const padded = collatePairs([pair(0, [1, 5, 6, 7], [1, 9], 1), pair(1, [1, 8], [1, 2, 3], 1)], 0);
    expect(scoredSet(b.scored)).toEqual(scoredSet(paddedScoredTokens(padded.inputIds, padded.completionMask, 4, padded.seqLen)));
  });

  test.each([
    ['shared prompts', { sharePrompt: true }],
    ['shared prompts, padding-free', { sharePrompt: true, paddingFree: true }],
    ['padding-free', { sharePrompt: false, paddingFree: true }],
    ['shared prompts, padding-free, one row', { sharePrompt: true, paddingFree: true, oneRow: true }],
    ['padding-free, one row', { sharePrompt: false, paddingFree: true, oneRow: true }],
    ['neither (one sequence per row)', { sharePrompt: false }],
  ])('%s: valid layout, the padded batch\'s scored tokens and lengths, statistics shape = the batch', (_n, opts) => {
    for (let seed = 1; seed <= 20; seed++) {
      const ex = randomPairs(1 + (seed % 7), seed);
      const b = packPairs(ex, 0, opts);
      checkLayout(b);
      const padded = collatePairs(ex, 0);
      expect(scoredSet(b.scored)).toEqual(scoredSet(paddedScoredTokens(padded.inputIds, padded.completionMask, 2 * ex.length, padded.seqLen)));
      // each sequence's cells hold its tokens: its last token at `last`, each scored token's predecessor at `source`
      const seqs: Seq[] = [...ex.map((e) => e.chosen), ...ex.map((e) => e.rejected)];
      seqs.forEach((s, i) => expect(b.inputIds[b.last[i]]).toBe(s.ids[s.ids.length - 1]));
      const shape = pairPackedShape(ex, opts);
      expect(shape).toEqual({ rows: b.rows, seqLen: b.seqLen, tokens: b.tokens, placed: b.placed, paddedCells: b.paddedCells });
      expect(b.tokens).toBe(padded.attentionMask.reduce((a, x) => a + x, 0));
    }
  });

  test('an empty side reads a pad cell of its own, as its padded row does', () => {
    const b = packPairs([pair(0, [], [1, 4], 0)], 7);
    checkLayout(b);
    expect(b.inputIds[b.last[0]]).toBe(7);
    expect(b.positions[b.last[0]]).toBe(0);
    expect(b.scored.sequence.every((s) => s === 1)).toBe(true);
    expect(pairPackedShape([pair(0, [], [1, 4], 0)])).toEqual({ rows: 1, seqLen: 3, tokens: 2, placed: 2, paddedCells: 4 });
  });

  test('margins and records travel with the batch', () => {
    const ex = [pair(0, [1, 2], [1, 3], 1), pair(1, [1, 2], [1, 3], 1)];
    ex[1].record.margin = 2;
    const b = packPairs(ex, 0);
    expect(Array.from(b.margins!)).toEqual([0, 2]);
    expect(b.records.map((r) => r.id)).toEqual(['r0', 'r1']);
  });
});

describe('rows and statistics', () => {
  test('planRows: first-fit decreasing into rows of the longest item; one row per item without padding_free; all end to end in one row', () => {
    expect(planRows([5, 2, 3], 'fit-longest')).toEqual({ row: [0, 1, 1], offset: [0, 3, 0], rows: 2, seqLen: 5 });
    expect(planRows([5, 2, 3], 'per-item')).toEqual({ row: [0, 1, 2], offset: [0, 0, 0], rows: 3, seqLen: 5 });
    expect(planRows([5, 2, 3], 'one-row')).toEqual({ row: [0, 0, 0], offset: [0, 5, 7], rows: 1, seqLen: 10 });
    expect(rowPlanOf({})).toBe('per-item');
    expect(rowPlanOf({ oneRow: true })).toBe('per-item'); // oneRow means nothing without paddingFree
    expect(rowPlanOf({ paddingFree: true })).toBe('fit-longest');
    expect(rowPlanOf({ paddingFree: true, oneRow: true })).toBe('one-row');
  });

  test('packSequences: several per row, the statistics shape equals the batch', () => {
    const ex: SequenceExample[] = [[1, 2, 3, 4, 5, 6], [1, 2], [1, 2, 3], [1]].map((ids, i) => ({ record: record(i), seq: { ids, completionStart: 1 } }));
    const b = packSequences(ex, 0);
    checkLayout(b);
    expect([b.rows, b.seqLen]).toEqual([2, 6]);
    expect(sequencePackedShape(ex)).toEqual({ rows: b.rows, seqLen: b.seqLen, tokens: b.tokens, placed: b.placed, paddedCells: b.paddedCells });
    // oneRow: end to end in input order, each its own segment from position 0, nothing padded
    const one = packSequences(ex, 0, { oneRow: true });
    checkLayout(one);
    expect([one.rows, one.seqLen]).toEqual([1, 12]);
    expect(Array.from(one.inputIds)).toEqual([1, 2, 3, 4, 5, 6, 1, 2, 1, 2, 3, 1]);
    expect(Array.from(one.positions)).toEqual([0, 1, 2, 3, 4, 5, 0, 1, 0, 1, 2, 0]);
    expect(Array.from(one.segStart)).toEqual([0, 0, 0, 0, 0, 0, 6, 6, 8, 8, 8, 11]);
    expect(Array.from(one.last)).toEqual([5, 7, 10, 11]);
    expect(sequencePackedShape(ex, { oneRow: true })).toEqual({ rows: 1, seqLen: 12, tokens: one.tokens, placed: one.placed, paddedCells: one.paddedCells });
  });

  test('one row: a pair\'s rejected part still attends to its own prompt, wherever the pair lands in the row', () => {
    // pair 0: prompt [1, 3], chosen [4], rejected [6, 7]; pair 1: prompt [1, 3], chosen [5, 5], rejected [8]
    const ex = [pair(0, [1, 3, 4], [1, 3, 6, 7], 2), pair(1, [1, 3, 5, 5], [1, 3, 8], 2)];
    const b = packPairs(ex, 0, { sharePrompt: true, paddingFree: true, oneRow: true });
    checkLayout(b);
    // items end to end: pair 0 = [1 3 4 | 6 7] at 0..4, pair 1 = [1 3 5 5 | 8] at 5..9
    expect([b.rows, b.seqLen]).toEqual([1, 10]);
    expect(Array.from(b.inputIds)).toEqual([1, 3, 4, 6, 7, 1, 3, 5, 5, 8]);
    expect(Array.from(b.positions)).toEqual([0, 1, 2, 2, 3, 0, 1, 2, 3, 2]);
    expect(Array.from(b.segStart)).toEqual([0, 0, 0, 3, 3, 5, 5, 5, 5, 9]);
    expect(Array.from(b.prefixStart)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 5]);
    expect(Array.from(b.prefixEnd)).toEqual([0, 0, 0, 2, 2, 0, 0, 0, 0, 7]);
    expect(Array.from(b.last)).toEqual([2, 8, 4, 9]); // chosen 0, chosen 1, rejected 0, rejected 1
    expect(b.placed).toBe(b.rows * b.seqLen); // no padding cell
  });

  test('hand-worked padding saved: two pairs, prompt 2, completions 2/1 and 6/1', () => {
    const ex = [pair(0, [1, 3, 4, 5], [1, 3, 6], 2), pair(1, [1, 3, 4, 5, 6, 7, 8, 9], [1, 3, 6], 2)];
    // padded: 4 rows × 8 = 32 cells, 18 tokens -> 14 padding cells.
    // shared (one row per pair, length 8 max): pair 0 -> 5 cells, pair 1 -> 9: rows 2 × 9 = 18 cells, 14 placed -> 4 padding.
    const s = packingStats([pairPackedShape(ex, { sharePrompt: true })]);
    expect(s).toEqual({ padded_cells: 32, packed_cells: 18, tokens: 18, placed_tokens: 14, cells_saved_fraction: 1 - 18 / 32, padding_saved_fraction: 1 - 4 / 14 });
    // shared and padding-free: rows of 9: [9], [5] -> the same cells here (5 + 9 > 9)
    expect(packingStats([pairPackedShape(ex, { sharePrompt: true, paddingFree: true })]).packed_cells).toBe(18);
    // padding-free without sharing: items 4, 8, 3, 3 in rows of 8: [8], [4 3], [3] -> 24 cells, 18 placed
    expect(packingStats([pairPackedShape(ex, { sharePrompt: false, paddingFree: true })])).toMatchObject({ packed_cells: 24, padding_saved_fraction: 1 - 6 / 14 });
  });
});
