/**
 * The last block on the rows read only (HiddenOptions.rows, layers.ts keepRows): a forward asked for some cells
 * returns [1, N, D] equal to the full forward's hidden states at those cells, and the log-prob sums, vocabulary-mean
 * logits, reward scores and the gradient of every weight of a loss built on them equal the full-forward path
 * (scoredLogProbs over every position; the reward head over every position, read at each last token) within 1e-5,
 * for a Llama (GQA, q/k/v biases, untied head) and for GPT-2, on padded rows and on every packed layout
 * data/packing.ts makes (a shared prompt's last token is a scored source twice: duplicate rows). On the tensorflow
 * backend with the fused kernels (RLHF_NATIVE_OPS=1) rms_norm and silu_mul run on the kept rows' [1, N, D]; on
 * wasm (RLHF_BACKEND=wasm) the TF.js ops do. Also: bad rows are refused, naming the index; nothing leaks.
 */
import * as tf from '@tensorflow/tfjs';
import { fusedOpsAvailable, SEGMENT_ATTENTION } from '../../src/backend/native-ops';
import { fusedOpsUsed, linear, resetFusedOpsUsed } from '../../src/backend/ops';
import { collatePairs, isPacked, packPairs, type AnyPairBatch, type PackOptions, type PairExample } from '../../src/data';
import { packedIds, toTensors } from '../../src/data/tensors';
import { batchLogProbs, batchRewards } from '../../src/model/batch';
import type { ModelConfig } from '../../src/model/config';
import { parseGPT2Config } from '../../src/model/families/gpt2';
import { LanguageModel } from '../../src/model/language-model';
import { paddedScoredTokens, scoredLogProbs, type ScoredSums } from '../../src/model/logprobs';
import { lastTokens, RewardModel } from '../../src/model/reward';
import { PACKING_PAIRS, pair, tinyConfig } from './helpers';

const PAIRS = PACKING_PAIRS;
const S = 2 * PAIRS.length;

const LAYOUTS: [string, (ex: PairExample[]) => AnyPairBatch][] = [
  ['padded', (ex) => collatePairs(ex, 0)],
  ...([
    ['shared prompts', { sharePrompt: true }],
    ['shared prompts, padding-free', { sharePrompt: true, paddingFree: true }],
    ['padding-free', { sharePrompt: false, paddingFree: true }],
  ] as [string, PackOptions][]).map(([name, o]): [string, (ex: PairExample[]) => AnyPairBatch] => [`packed, ${name}`, (ex) => packPairs(ex, 0, o)]),
];

const MODELS: [string, () => ModelConfig][] = [
  ['Llama (3 layers, GQA, q/k/v biases, untied head)', () => tinyConfig({ num_hidden_layers: 3, num_key_value_heads: 2, attention_bias: true, tie_word_embeddings: false })],
  ['GPT-2', () => parseGPT2Config({ vocab_size: 41, n_embd: 24, n_layer: 2, n_head: 3, n_positions: 32, n_inner: 40, bos_token_id: 1, eos_token_id: 2 })],
];

const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, x) => Math.max(m, Math.abs(x)), 0);
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

/** The full-forward path, as before rows existed: every position's hidden state, then the scored ones gathered. */
function fullLogProbs(model: LanguageModel, b: AnyPairBatch): ScoredSums {
  if (isPacked(b)) return scoredLogProbs(model, model.hiddenPacked(packedIds(b), b), b.scored, { meanLogits: true });
  const t = toTensors(b, S);
  return scoredLogProbs(model, model.hidden(t.ids, t.attentionMask), paddedScoredTokens(b.inputIds, b.completionMask, S, b.seqLen), { meanLogits: true });
}

/** The full-forward reward: the head on every position, read at each sequence's last token. */
function fullRewards(rm: RewardModel, b: AnyPairBatch): tf.Tensor1D {
  let h: tf.Tensor3D;
  let last: Int32Array;
  if (isPacked(b)) {
    h = rm.backbone.hiddenPacked(packedIds(b), b);
    last = b.last;
  } else {
    const t = toTensors(b, S);
    h = rm.backbone.hidden(t.ids, t.attentionMask);
    last = lastTokens(S, b.seqLen, b.attentionMask);
  }
  const [R, T] = h.shape;
  return tf.gather(linear(h, rm.score).reshape([R * T]), tf.tensor1d(last, 'int32')) as tf.Tensor1D;
}

type Path = 'rows' | 'full';

/** Σ_s w_s·log p(s) + Σ_s v_s·meanLogit(s) + Σ_s u_s·r(s) on one path, and the gradient of every policy and reward weight. */
function lossAndGrads(policy: LanguageModel, rm: RewardModel, batch: AnyPairBatch, path: Path) {
  const w = tf.tensor1d(Array.from({ length: S }, (_, i) => 0.5 + 0.25 * i));
  const v = tf.tensor1d(Array.from({ length: S }, (_, i) => 0.1 * (i % 3) - 0.1));
  const u = tf.tensor1d(Array.from({ length: S }, (_, i) => 1 - 0.3 * i));
  let sums: number[] = [];
  let meanLogits: number[] = [];
  let scores: number[] = [];
  const vars = [...policy.variables(), ...rm.variables()];
  const { value, grads } = tf.variableGrads(() => {
    const lp = path === 'rows' ? batchLogProbs(policy, batch, S, { meanLogits: true }) : fullLogProbs(policy, batch);
    const sc = path === 'rows' ? batchRewards(rm, batch) : fullRewards(rm, batch);
    sums = Array.from(lp.sum.dataSync());
    meanLogits = Array.from(lp.meanLogitSum!.dataSync());
    scores = Array.from(sc.dataSync());
    return lp.sum.mul(w).sum().add(lp.meanLogitSum!.mul(v).sum()).add(sc.mul(u).sum()) as tf.Scalar;
  }, vars);
  const g = vars.map((x) => grads[x.name].dataSync().slice());
  tf.dispose([value, grads, w, u, v]);
  return { sums, meanLogits, scores, grads: g };
}

describe.each(MODELS)('%s: the last block on the rows read equals the full forward', (_name, config) => {
  let policy: LanguageModel;
  let rm: RewardModel;
  beforeAll(() => {
    policy = LanguageModel.random(config(), 21, { std: 0.2 });
    rm = RewardModel.random(config(), 22, { scoreStd: 0.5 });
  });
  afterAll(() => {
    policy.dispose();
    rm.dispose();
  });

  test('hidden with rows (duplicates, any order) is [1, N, D], the full forward\'s states at those cells', () => {
    const b = collatePairs(PAIRS, 0);
    const rows = Int32Array.from([3 * b.seqLen + 2, 0, 5, 3 * b.seqLen + 2, S * b.seqLen - 1]);
    const [full, kept] = tf.tidy(() => {
      const t = toTensors(b, S);
      return [policy.hidden(t.ids, t.attentionMask).arraySync(), policy.hidden(t.ids, t.attentionMask, { rows })];
    });
    expect(kept.shape).toEqual([1, rows.length, policy.config.hidden_size]);
    const got = kept.arraySync()[0];
    kept.dispose();
    rows.forEach((cell, n) => expect(maxDiff(got[n], full[Math.floor(cell / b.seqLen)][cell % b.seqLen])).toBeLessThan(1e-5));
    expect(maxAbs(got[0])).toBeGreaterThan(0.1); // states, not zeros
  });

  test('hiddenPacked with rows is [1, N, D], the full packed forward\'s states at those cells', () => {
    const b = packPairs(PAIRS, 0, { sharePrompt: true });
    const rows = Int32Array.from([...b.last].reverse());
    const [full, kept] = tf.tidy(() => [policy.hiddenPacked(packedIds(b), b).arraySync(), policy.hiddenPacked(packedIds(b), b, { rows })]);
    expect(kept.shape).toEqual([1, rows.length, policy.config.hidden_size]);
    const got = kept.arraySync()[0];
    kept.dispose();
    rows.forEach((cell, n) => expect(maxDiff(got[n], full[Math.floor(cell / b.seqLen)][cell % b.seqLen])).toBeLessThan(1e-5));
  });

  test('hiddenPacked with rows: the last block\'s fused attention gets a layout marking the cells not read (and only the last block)', () => {
    const b = packPairs(PAIRS, 0, { sharePrompt: true, paddingFree: true });
    const rows = Int32Array.from(b.last);
    const layouts: Float32Array[] = [];
    const engine = tf.engine();
    const original = engine.runKernel.bind(engine);
    const spy = jest.spyOn(engine, 'runKernel').mockImplementation((name, inputs, attrs) => {
      if (name === SEGMENT_ATTENTION) layouts.push(((inputs as tf.NamedTensorMap).layout as tf.Tensor).dataSync() as Float32Array);
      return original(name, inputs, attrs);
    });
    try {
      tf.tidy(() => policy.hiddenPacked(packedIds(b), b, { rows }));
    } finally {
      spy.mockRestore();
    }
    const unread = (l: Float32Array) => l.filter((_, j) => j % 4 === 1).filter((s) => s < 0).length;
    // With the fused kernels: one call per block (GPT-2's too: identity rotary tables), only the last one's layout
    // marking anything. Without (wasm): the TF.js path, which never reads the layout, computes every query.
    const L = policy.config.num_hidden_layers;
    const marked = b.rows * b.seqLen - new Set(rows).size;
    expect(marked).toBeGreaterThan(0);
    expect(layouts.map(unread)).toEqual(fusedOpsAvailable() ? [...Array(L - 1).fill(0), marked] : []);
  });

  test.each(LAYOUTS)('%s: log-prob sums, mean logits, reward scores and every gradient within 1e-5', (layout, make) => {
    const batch = make(PAIRS);
    if (layout.includes('shared')) {
      // A shared prompt's last token predicts both first completion tokens: the kept rows hold duplicates.
      const src = (batch as { scored: { source: Int32Array } }).scored.source;
      expect(new Set(src).size).toBeLessThan(src.length);
    }
    resetFusedOpsUsed();
    const kept = lossAndGrads(policy, rm, batch, 'rows');
    // Where the fused kernels load they ran (on the kept rows too: the last block's norm and, for Llama, its gate).
    const fusedHere = config().model_type === 'llama' ? ['rms_norm', 'silu_mul'] : [];
    for (const op of fusedHere) expect({ op, used: fusedOpsUsed().includes(op as never) }).toEqual({ op, used: fusedOpsAvailable() });
    const full = lossAndGrads(policy, rm, batch, 'full');
    expect(maxDiff(kept.sums, full.sums)).toBeLessThan(1e-5);
    expect(maxDiff(kept.meanLogits, full.meanLogits)).toBeLessThan(1e-5);
    expect(maxDiff(kept.scores, full.scores)).toBeLessThan(1e-5);
    kept.grads.forEach((g, i) => expect({ i, diff: maxDiff(g, full.grads[i]) < 1e-5 }).toEqual({ i, diff: true }));
    expect(Math.max(...full.grads.map(maxAbs))).toBeGreaterThan(1e-3); // the gradients are not trivially zero
    expect(maxAbs(full.scores)).toBeGreaterThan(1e-3);
  });

  test('scores without a mask read the last column; rows equal the full head there', () => {
    const ids = tf.tensor2d([[1, 5, 6, 7], [1, 9, 3, 2]], undefined, 'int32');
    const [a, b] = tf.tidy(() => {
      const perToken = linear(rm.backbone.hidden(ids), rm.score).reshape([2, 4]); // [B, T]
      return [rm.scores(ids).arraySync(), perToken.slice([0, 3], [2, 1]).reshape([2]).arraySync() as number[]];
    });
    ids.dispose();
    expect(maxDiff(a, b)).toBeLessThan(1e-5);
  });

  test('a forward and backward with rows leave no tensors behind', () => {
    const packed = packPairs(PAIRS, 0, { sharePrompt: true, paddingFree: true });
    lossAndGrads(policy, rm, packed, 'rows'); // burn-in
    const before = tf.memory().numTensors;
    lossAndGrads(policy, rm, packed, 'rows');
    lossAndGrads(policy, rm, collatePairs(PAIRS, 0), 'rows');
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('rows are checked', () => {
  test('an index outside the batch or an empty list is refused, naming the index and the range', () => {
    const m = LanguageModel.random(tinyConfig(), 1);
    const ids = tf.zeros([2, 3], 'int32') as tf.Tensor2D;
    const b = packPairs([pair([1, 5, 6, 7], [1, 5, 9], 2)], 0);
    const pids = packedIds(b);
    try {
      expect(() => m.hidden(ids, undefined, { rows: Int32Array.from([0, 6]) })).toThrow(/hidden: rows\[1\] = 6 is not a cell of the \[2, 3\] batch; expected a cell index in \[0, 6\)/);
      expect(() => m.hidden(ids, undefined, { rows: Int32Array.from([-1]) })).toThrow(/rows\[0\] = -1 is not a cell/);
      expect(() => m.hidden(ids, undefined, { rows: new Int32Array(0) })).toThrow(/rows is empty; .* omit rows for every position/);
      expect(() => m.hiddenPacked(pids, b, { rows: Int32Array.from([2, 5]) })).toThrow(/hiddenPacked: rows\[1\] = 5 is not a cell of the \[1, 5\] batch/);
    } finally {
      tf.dispose([ids, pids]);
      m.dispose();
    }
  });

  test('lastTokens: each row\'s last real cell, T - 1 without a mask, 0 for an empty row', () => {
    expect(Array.from(lastTokens(2, 3, [1, 1, 0, 1, 1, 1]))).toEqual([1, 5]);
    expect(Array.from(lastTokens(2, 3))).toEqual([2, 5]);
    expect(Array.from(lastTokens(2, 3, [0, 0, 0, 1, 0, 0]))).toEqual([0, 3]);
  });
});
