import * as tf from '@tensorflow/tfjs';
import { LanguageModel } from '../../src/model/language-model';
import { pairLogProbs, sequenceLogProbs, tokenLogProbs } from '../../src/model/logprobs';
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
