import * as tf from '@tensorflow/tfjs';
import { LanguageModel } from '../../src/model/language-model';
import { headChunkRows, headLogProbs, paddedScoredTokens, pairLogProbs, scoredLogProbs, sequenceLogProbs, tokenLogProbs } from '../../src/model/logprobs';
import { tinyConfig } from './helpers';

/** Naive: softmax over the full row, then log of the target's probability. */
function naiveTokenLogProbs(logits: number[][][], ids: number[][]): number[][] {
  return ids.map((row, b) =>
    row.map((id, t) => {
      if (t === 0) return 0;
      const l = logits[b][t - 1];
      const m = Math.max(...l);
      const z = l.reduce((s, v) => s + Math.exp(v - m), 0);
      return Math.log(Math.exp(l[id] - m) / z);
    }));
}

test('hand-worked: uniform logits over 2 tokens give log 0.5 per token', () => {
  const lp = tf.tidy(() => tokenLogProbs(tf.zeros([1, 3, 2]) as tf.Tensor3D, tf.tensor2d([[1, 0, 1]], undefined, 'int32')).arraySync());
  expect(lp[0][0]).toBe(0);
  expect(lp[0][1]).toBeCloseTo(Math.log(0.5), 6);
  expect(lp[0][2]).toBeCloseTo(Math.log(0.5), 6);
});

test('tokenLogProbs equals a naive softmax on random logits, and its gradient equals softmax - onehot', () => {
  const [B, T, V] = [3, 5, 11];
  const logits = tf.randomNormal([B, T, V], 0, 3, 'float32', 1) as tf.Tensor3D;
  const idsArr = Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => (b * 7 + t * 3) % V));
  const ids = tf.tensor2d(idsArr, undefined, 'int32');
  const ours = tf.tidy(() => tokenLogProbs(logits, ids).arraySync());
  const ref = naiveTokenLogProbs(logits.arraySync(), idsArr);
  ours.forEach((row, b) => row.forEach((v, t) => expect(v).toBeCloseTo(ref[b][t], 5)));
  // d(sum of log-probs)/d logits[b, t-1, :] = onehot(ids[b, t]) - softmax(logits[b, t-1, :]); the last position gets 0.
  const g = tf.tidy(() => tf.grad((l: tf.Tensor) => tokenLogProbs(l as tf.Tensor3D, ids).sum())(logits).arraySync() as number[][][]);
  const la = logits.arraySync();
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const row = la[b][t];
      const m = Math.max(...row);
      const z = row.reduce((s, v) => s + Math.exp(v - m), 0);
      for (let v = 0; v < V; v++) {
        const expected = t === T - 1 ? 0 : (v === idsArr[b][t + 1] ? 1 : 0) - Math.exp(row[v] - m) / z;
        expect(g[b][t][v]).toBeCloseTo(expected, 5);
      }
    }
  }
  tf.dispose([logits, ids]);
});

test('sequenceLogProbs sums only completion tokens; pairLogProbs = the two halves scored separately', () => {
  const m = LanguageModel.random(tinyConfig(), 8);
  const idsArr = [[1, 5, 6, 7, 8], [1, 9, 10, 0, 0]];
  const maskArr = [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]];
  const complArr = [[0, 0, 1, 1, 1], [0, 1, 1, 0, 0]];
  const ids = tf.tensor2d(idsArr, undefined, 'int32');
  const mask = tf.tensor2d(maskArr);
  const compl = tf.tensor2d(complArr);
  const { sum, count } = sequenceLogProbs(m, ids, mask, compl);
  const per = tf.tidy(() => tokenLogProbs(m.logits(ids, mask), ids).arraySync());
  const expected = per.map((row, b) => row.reduce((s, v, t) => s + v * complArr[b][t], 0));
  Array.from(sum.dataSync()).forEach((v, b) => expect(v).toBeCloseTo(expected[b], 5));
  expect(Array.from(count.dataSync())).toEqual([3, 2]);

  const chosen = { ids, attentionMask: mask, completionMask: compl };
  const rejIds = tf.tensor2d([[1, 5, 6, 3, 0], [1, 4, 4, 4, 4]], undefined, 'int32');
  const rejMask = tf.tensor2d([[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]]);
  const rejCompl = tf.tensor2d([[0, 0, 1, 1, 0], [0, 1, 1, 1, 1]]);
  const rejected = { ids: rejIds, attentionMask: rejMask, completionMask: rejCompl };
  const before = tf.memory().numTensors;
  const pair = pairLogProbs(m, chosen, rejected);
  expect(tf.memory().numTensors).toBe(before + 4); // exactly the four results
  const alone = sequenceLogProbs(m, rejIds, rejMask, rejCompl);
  Array.from(pair.chosen.sum.dataSync()).forEach((v, b) => expect(v).toBeCloseTo(sum.dataSync()[b], 5));
  Array.from(pair.rejected.sum.dataSync()).forEach((v, b) => expect(v).toBeCloseTo(alone.sum.dataSync()[b], 5));
  expect(Array.from(pair.rejected.count.dataSync())).toEqual([2, 4]);
  tf.dispose([ids, mask, compl, rejIds, rejMask, rejCompl, sum, count, pair.chosen.sum, pair.chosen.count,
    pair.rejected.sum, pair.rejected.count, alone.sum, alone.count]);
  m.dispose();
});

describe('log-probs in chunks (the LM head, log-softmax and target pick on a few rows at a time)', () => {
  const [N, D, V] = [7, 6, 50];
  const h = () => tf.randomNormal([N, D], 0, 1, 'float32', 3) as tf.Tensor2D;
  const w = () => tf.randomNormal([V, D], 0, 1, 'float32', 4) as tf.Tensor2D;
  const targets = Int32Array.from({ length: N }, (_, i) => (i * 13 + 5) % V);
  const dy = Array.from({ length: N }, (_, i) => 0.3 + 0.2 * i);
  /** The full computation: logits [N, V], log-softmax, pick (autodiff everywhere). */
  const full = (hh: tf.Tensor, ww: tf.Tensor) => {
    const logits = tf.matMul(hh, ww, false, true);
    return tf.sum(tf.logSoftmax(logits).mul(tf.oneHot(tf.tensor1d(targets, 'int32'), V)), 1);
  };
  const weighted = (f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor) => (a: tf.Tensor, b: tf.Tensor) => f(a, b).mul(tf.tensor1d(dy)).sum();
  const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

  // keep: how many logits a recorded forward may hold for its backward (0: every chunk recomputed; 2 chunks of 3 rows).
  test.each([
    [1, undefined], [3, undefined], [7, undefined], [100, undefined], [1, 0], [3, 0], [3, 2 * 3 * V],
  ])('chunks of %i rows, keep %s: the values and the gradients for h and w equal full logits within 1e-5', (chunk, keepLogits) => {
    const [hh, ww] = [h(), w()];
    const opts = { chunkRows: chunk, keepLogits };
    const ref = tf.tidy(() => full(hh, ww).dataSync().slice());
    const ours = tf.tidy(() => headLogProbs(hh, ww, targets, opts).dataSync().slice());
    expect(maxDiff(ours, ref)).toBeLessThan(1e-5);
    const before = tf.memory().numTensors;
    const gRef = tf.grads(weighted(full))([hh, ww]);
    const gOurs = tf.grads(weighted((a, b) => headLogProbs(a as tf.Tensor2D, b as tf.Tensor2D, targets, opts)))([hh, ww]);
    expect(maxDiff(gOurs[0].dataSync(), gRef[0].dataSync())).toBeLessThan(1e-5);
    expect(maxDiff(gOurs[1].dataSync(), gRef[1].dataSync())).toBeLessThan(1e-5);
    tf.dispose([...gRef, ...gOurs]);
    expect(tf.memory().numTensors).toBe(before); // kept logits are released by the backward
    tf.dispose([hh, ww]);
  });

  describe('memory: what the head holds between its forward and its backward', () => {
    const [n, v, d, chunk] = [256, 4000, 4, 2];
    const logitsBytes = n * v * 4;
    const tg = Int32Array.from({ length: n }, (_, i) => (i * 31) % v);
    const hh = () => tf.randomNormal([n, d], 0, 1, 'float32', 5) as tf.Tensor2D;
    const ww = () => tf.randomNormal([v, d], 0, 1, 'float32', 6) as tf.Tensor2D;
    const fullOf = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.logSoftmax(tf.matMul(a, b, false, true)).mul(tf.oneHot(tf.tensor1d(tg, 'int32'), v)), 1);
    const chunkedOf = (keepLogits?: number) => (a: tf.Tensor, b: tf.Tensor) => headLogProbs(a as tf.Tensor2D, b as tf.Tensor2D, tg, { chunkRows: chunk, keepLogits });
    /** Bytes above what existed before, at the peak of a forward + backward (or of a forward alone: no tape). */
    const peak = async (f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, backward = true) => {
      const [a, b] = [hh(), ww()];
      const start = tf.memory().numBytes;
      const p = await tf.profile(() => tf.tidy(() => (backward ? tf.grads((x: tf.Tensor, y: tf.Tensor) => f(x, y).sum())([a, b])[1].sum() : f(a, b).sum())));
      tf.dispose([a, b]);
      return p.peakBytes - start;
    };

    test('keeping nothing: never the whole [N, V] logits, forward or backward (a chunk\'s, not N·V)', async () => {
      expect(await peak(fullOf)).toBeGreaterThan(logitsBytes); // autodiff on full logits holds them
      // A chunk's logits and their gradient (a few × chunk·V) plus dw [V, d] twice: far below N·V.
      expect(await peak(chunkedOf(0))).toBeLessThan(logitsBytes / 4);
    });

    test('keeping: a recorded forward holds the kept chunks\' logits, at most the budget; an unrecorded one holds a chunk', async () => {
      expect(await peak(chunkedOf(undefined))).toBeGreaterThan(logitsBytes); // all 128 chunks kept (the default budget is far larger)
      const half = (n / 2) * v; // floats: the first 64 chunks
      const p = await peak(chunkedOf(half));
      expect(p).toBeGreaterThan(half * 4);
      // The tape's copies of the kept tensors (clones: on tfjs-node the same TensorFlow buffer, counted again by
      // tf.memory until the originals go, a moment later) can double the count, never more.
      expect(p).toBeLessThan(2 * half * 4 + logitsBytes / 4);
      expect(p).toBeLessThan(await peak(chunkedOf(undefined)));
      // Without a tape (a reference or eval forward) no chunk outlives its step, whatever the budget.
      expect(await peak(chunkedOf(undefined), false)).toBeLessThan(logitsBytes / 4);
    });
  });

  test('headChunkRows: about 16M logits a chunk, at least one row', () => {
    expect(headChunkRows(49152)).toBe(341);
    expect(headChunkRows(512)).toBe(32768);
    expect(headChunkRows(1 << 30)).toBe(1);
  });

  test('scoredLogProbs on a model: the sums tokenLogProbs gives on full logits, also for a batch with no scored token', () => {
    const m = LanguageModel.random(tinyConfig({ tie_word_embeddings: false }), 9);
    const idsArr = [1, 5, 6, 7, 8, 1, 9, 10, 0, 0];
    const compl = [0, 0, 1, 1, 1, 0, 1, 1, 0, 0];
    const ids = tf.tensor2d(idsArr, [2, 5], 'int32');
    const expected = tf.tidy(() => tokenLogProbs(m.logits(ids), ids).mul(tf.tensor2d(compl, [2, 5])).sum(1).arraySync() as number[]);
    const got = tf.tidy(() => scoredLogProbs(m, m.hidden(ids), paddedScoredTokens(idsArr, compl, 2, 5), { chunkRows: 2 }).sum.arraySync());
    expect(maxDiff(got, expected)).toBeLessThan(1e-5);
    const none = tf.tidy(() => {
      const r = scoredLogProbs(m, m.hidden(ids), paddedScoredTokens(idsArr, new Array(10).fill(0), 2, 5), { meanLogits: true });
      return [r.sum.arraySync(), r.count.arraySync(), r.meanLogitSum!.arraySync()];
    });
    expect(none).toEqual([[0, 0], [0, 0], [0, 0]]);
    ids.dispose();
    m.dispose();
  });
});
