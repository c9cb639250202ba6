/**
 * Packed rows (model/packed.ts, LanguageModel.hiddenPacked, RewardModel.scoresPacked): every token's hidden state,
 * every sequence's log-prob sum and reward score, and the gradients of all of them equal the padded path (one
 * sequence per row) within 1e-5, for a Llama with GQA, biases and an untied head and for GPT-2, in every layout
 * data/packing.ts makes (shared prompts, padding-free rows, both). On the tensorflow backend the fused segment
 * kernel computes it (checked through the fused-op record; test/backend/native-ops.test.ts compares it with the
 * TF.js path on the same backend); on wasm and cpu (RLHF_BACKEND=wasm) the TF.js path with its bias mask runs.
 * Also the layout checks, the bias on a hand-worked row, and no leaks.
 */
import * as tf from '@tensorflow/tfjs';
import { fusedOpsAvailable } from '../../src/backend/native-ops';
import { fusedOpsUsed, resetFusedOpsUsed } from '../../src/backend/ops';
import { collatePairs, packPairs, type PackOptions, type PairExample, type PackedPairBatch } from '../../src/data';
import { LanguageModel } from '../../src/model/language-model';
import { MASKED } from '../../src/model/layers';
import { checkLayout, segmentBias } from '../../src/model/packed';
import { RewardModel } from '../../src/model/reward';
import type { ModelConfig } from '../../src/model/config';
import { parseGPT2Config } from '../../src/model/families/gpt2';
import { batchLogProbs, batchRewards } from '../../src/model/batch';
import { toTensors } from '../../src/data/tensors';
import { PACKING_PAIRS, pair, tinyConfig } from './helpers';

const PAIRS = PACKING_PAIRS;

const LAYOUTS: [string, PackOptions][] = [
  ['shared prompts', { sharePrompt: true }],
  ['shared prompts, padding-free', { sharePrompt: true, paddingFree: true }],
  ['padding-free', { sharePrompt: false, paddingFree: true }],
  ['shared prompts, padding-free, one row', { sharePrompt: true, paddingFree: true, oneRow: true }],
  ['padding-free, one row', { sharePrompt: false, paddingFree: true, oneRow: true }],
];

const MODELS: [string, () => ModelConfig][] = [
  ['Llama (GQA, q/k/v biases, untied head)', () => tinyConfig({ num_key_value_heads: 2, attention_bias: true, tie_word_embeddings: false })],
  ['GPT-2', () => parseGPT2Config({ vocab_size: 41, n_embd: 24, n_layer: 2, n_head: 3, n_positions: 32, n_inner: 40, bos_token_id: 1, eos_token_id: 2 })],
];

const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, x) => Math.max(m, Math.abs(x)), 0);
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

/** Σ_s w_s·log p(seq s) + Σ_s u_s·r(seq s) and its gradients for every policy and reward weight, on a batch. */
function lossAndGrads(policy: LanguageModel, rm: RewardModel, batch: Parameters<typeof batchLogProbs>[1] & Parameters<typeof batchRewards>[1]) {
  const S = 2 * PAIRS.length;
  const w = tf.tensor1d(Array.from({ length: S }, (_, i) => 0.5 + 0.25 * i));
  const u = tf.tensor1d(Array.from({ length: S }, (_, i) => 1 - 0.3 * i));
  let sums: number[] = [];
  let scores: number[] = [];
  const vars = [...policy.variables(), ...rm.variables()];
  const { value, grads } = tf.variableGrads(() => {
    const lp = batchLogProbs(policy, batch, S).sum;
    const sc = batchRewards(rm, batch);
    sums = Array.from(lp.dataSync());
    scores = Array.from(sc.dataSync());
    return lp.mul(w).sum().add(sc.mul(u).sum()) as tf.Scalar;
  }, vars);
  const g = vars.map((v) => grads[v.name].dataSync().slice());
  tf.dispose([value, grads, w, u]);
  return { sums, scores, grads: g };
}

describe('layout checks and the bias', () => {
  test('the bias of a hand-worked row: a shared prompt seen by the rejected token, the chosen completion not', () => {
    const b = packPairs([pair([1, 5, 6, 7], [1, 5, 9], 2)], 0);
    const bias = segmentBias(b).reshape([5, 5]).arraySync() as number[][];
    const allowed = bias.map((row) => row.map((x) => (x === 0 ? 1 : x === MASKED ? 0 : NaN)));
    expect(allowed).toEqual([
      [1, 0, 0, 0, 0],
      [1, 1, 0, 0, 0],
      [1, 1, 1, 0, 0],
      [1, 1, 1, 1, 0],
      [1, 1, 0, 0, 1],
    ]);
  });

  test('a layout that breaks the invariants is refused, naming the token', () => {
    const b = packPairs([pair([1, 5, 6, 7], [1, 5, 9], 2)], 0);
    expect(() => checkLayout({ ...b, prefixEnd: Int32Array.from([0, 0, 0, 0, 5]) })).toThrow(/row 0 token 4 .* prefix \[0, 5\)/);
    expect(() => checkLayout({ ...b, positions: Int32Array.from([0, 2, 2, 3, 2]) })).toThrow(/row 0 token 1 has position 2/);
    expect(() => checkLayout({ ...b, segStart: new Int32Array(3) })).toThrow(/segStart holds 3 values; expected rows·seqLen = 1·5 = 5/);
    const m = LanguageModel.random(tinyConfig(), 1);
    const ids = tf.zeros([1, 4], 'int32') as tf.Tensor2D;
    expect(() => m.hiddenPacked(ids, b)).toThrow(/ids are \[1, 4\] but the layout is for \[1, 5\]/);
    ids.dispose();
    m.dispose();
  });
});

describe.each(MODELS)('%s: packed rows equal one padded row per sequence', (_name, config) => {
  let policy: LanguageModel;
  let rm: RewardModel;
  beforeAll(() => {
    policy = LanguageModel.random(config(), 11, { std: 0.2 });
    rm = RewardModel.random(config(), 12);
  });
  afterAll(() => {
    policy.dispose();
    rm.dispose();
  });

  test.each(LAYOUTS)('%s: the hidden state of every token', (_l, opts) => {
    // completionStart 1 everywhere: then the scored sources and `last` name every token's cell.
    const ex = PAIRS.map((p) => pair(p.chosen.ids, p.rejected.ids, 1));
    const padded = collatePairs(ex, 0);
    const packed = packPairs(ex, 0, opts);
    const S = 2 * ex.length;
    const [hp, hq] = tf.tidy(() => {
      const t = toTensors(padded, S);
      return [policy.hidden(t.ids, t.attentionMask).arraySync(), policy.hiddenPacked(tf.tensor2d(packed.inputIds, [packed.rows, packed.seqLen], 'int32'), packed).arraySync()];
    });
    const D = hp[0][0].length;
    let worst = 0;
    for (let s = 0; s < S; s++) {
      const cells = [...Array.from(packed.scored.source).filter((_, k) => packed.scored.sequence[k] === s), packed.last[s]];
      cells.forEach((cell, t) => {
        const [r, c] = [Math.floor(cell / packed.seqLen), cell % packed.seqLen];
        worst = Math.max(worst, maxDiff(hq[r][c], hp[s][t]));
      });
      expect(cells.length).toBe(padded.attentionMask.slice(s * padded.seqLen, (s + 1) * padded.seqLen).reduce((a, x) => a + x, 0));
    }
    expect(D).toBeGreaterThan(0);
    expect(worst).toBeLessThan(1e-5);
  });

  test.each(LAYOUTS)('%s: log-prob sums, reward scores and every gradient within 1e-5', (_l, opts) => {
    const padded = collatePairs(PAIRS, 0);
    const packed: PackedPairBatch = packPairs(PAIRS, 0, opts);
    resetFusedOpsUsed();
    const a = lossAndGrads(policy, rm, padded);
    const b = lossAndGrads(policy, rm, packed);
    // Where the fused kernels load, the packed path ran the segment kernel (the padded one, the causal kernel).
    expect(fusedOpsUsed().includes('segment_attention')).toBe(fusedOpsAvailable());
    expect(maxDiff(a.sums, b.sums)).toBeLessThan(1e-5);
    expect(maxDiff(a.scores, b.scores)).toBeLessThan(1e-5);
    a.grads.forEach((g, i) => expect({ i, diff: maxDiff(g, b.grads[i]) < 1e-5 }).toEqual({ i, diff: true }));
    expect(Math.max(...a.grads.map(maxAbs))).toBeGreaterThan(1e-3); // the gradients are not trivially zero
  });

  test('a packed forward and backward leave no tensors behind', () => {
    const packed = packPairs(PAIRS, 0, { sharePrompt: true, paddingFree: true });
    lossAndGrads(policy, rm, packed); // burn-in
    const before = tf.memory().numTensors;
    lossAndGrads(policy, rm, packed);
    tf.tidy(() => batchLogProbs(policy, packed, 2 * PAIRS.length).sum.dataSync());
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('GPT-2\'s learned positions in packed rows', () => {
  test('a row longer than n_positions is fine when every sequence\'s own positions are within it; one that is not is refused', () => {
    // n_positions 8: each sequence has 7 tokens; with shared prompts a pair's row holds 7 + 5 = 12.
    const gpt2 = LanguageModel.random(parseGPT2Config({ vocab_size: 41, n_embd: 24, n_layer: 2, n_head: 3, n_positions: 8, n_inner: 40, bos_token_id: 1, eos_token_id: 2 }), 5, { std: 0.2 });
    try {
      const ex = [pair([1, 5, 6, 7, 8, 9, 10], [1, 5, 11, 12, 13, 14, 15], 2), pair([1, 3, 4, 20, 21, 22, 23], [1, 3, 4, 24, 25, 26, 27], 3)];
      const padded = collatePairs(ex, 0);
      for (const opts of LAYOUTS.map(([, o]) => o)) {
        const packed = packPairs(ex, 0, opts);
        // a pair's row: 7 + (7 - its shared prompt); one row: the pairs (12 + 11) or the four sequences (4 · 7) end to end
        expect(packed.seqLen).toBe(opts.oneRow ? (opts.sharePrompt ? 23 : 28) : opts.sharePrompt ? 12 : 7);
        expect(Math.max(...packed.positions)).toBe(6); // positions restart: the rejected rest continues the prompt
        const [a, b] = tf.tidy(() => [batchLogProbs(gpt2, padded, 4).sum.arraySync(), batchLogProbs(gpt2, packed, 4).sum.arraySync()]);
        expect(maxDiff(a, b)).toBeLessThan(1e-5);
      }
      // A sequence past the learned positions is an error naming them, in either layout.
      const long = [pair([1, 5, 6, 7, 8, 9, 10, 11, 12], [1, 5, 13], 2)];
      expect(() => tf.tidy(() => batchLogProbs(gpt2, packPairs(long, 0), 2))).toThrow(/position 8 is past GPT-2's learned positions \(n_positions 8\)/);
      expect(() => tf.tidy(() => batchLogProbs(gpt2, collatePairs(long, 0), 2))).toThrow(/position 8 is past GPT-2's learned positions \(n_positions 8\)/);
    } finally {
      gpt2.dispose();
    }
  });
});
