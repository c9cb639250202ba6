/** SFT NLL: token-level mean over completion tokens, masking, accumulation denominator, gradient, no leaks. */
import * as tf from '@tensorflow/tfjs';
import { LossInputError, readMetrics, sftNllLoss } from '../../src/losses';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

async function nll(logps: number[][], mask: number[][], numItemsInBatch?: number) {
  const out = tf.tidy(() => sftNllLoss(tf.tensor2d(logps), tf.tensor2d(mask), { numItemsInBatch }));
  out.loss.dispose();
  return readMetrics(out.metrics);
}

test('doc example: [[-1, -2, -9]] with mask [[1, 1, 0]] -> 1.5 over 2 tokens', async () => {
  expect(await nll([[-1, -2, -9]], [[1, 1, 0]])).toEqual({ loss: 1.5, completion_tokens: 2 });
});

test('token-level mean across the batch, not a mean of per-sequence means', async () => {
  // tokens: 1 + 2 + 3 = 6 over 3 tokens -> 2; per-sequence means would give (1 + 2.5)/2 = 1.75
  const m = await nll([[-1, 0, 0], [-2, -3, 0]], [[1, 0, 0], [1, 1, 0]]);
  expect(m.loss).toBeCloseTo(2, 6);
});

test('masked positions may hold -Inf or NaN (padding) without poisoning the loss', async () => {
  const m = await nll([[-1, -Infinity, NaN]], [[1, 0, 0]]);
  expect(m.loss).toBeCloseTo(1, 6);
});

test('numItemsInBatch replaces the denominator (gradient accumulation); no tokens gives 0, not NaN', async () => {
  expect((await nll([[-1, -2]], [[1, 1]], 6)).loss).toBeCloseTo(0.5, 6);
  const empty = await nll([[-1, -2]], [[0, 0]]);
  expect(empty.loss).toBeCloseTo(0, 10); // −0 here: the negated empty sum
  expect(empty.completion_tokens).toBe(0);
});

test('gradient is −mask/N', async () => {
  const mask = tf.tensor2d([[1, 1, 0], [0, 1, 1]]);
  const g = tf.grad((x: tf.Tensor) => sftNllLoss(x, mask).loss)(tf.tensor2d([[-1, -2, -3], [-4, -5, -6]]));
  expect(Array.from(await g.data())).toEqual([-0.25, -0.25, 0, 0, -0.25, -0.25]);
  tf.dispose([g, mask]);
});

test('shape mismatch names both shapes', () => {
  const a = tf.zeros([2, 3]);
  const b = tf.zeros([2, 4]);
  expect(() => sftNllLoss(a, b)).toThrow(LossInputError);
  expect(() => sftNllLoss(a, b)).toThrow(/\[2, 3\] and \[2, 4\]/);
  tf.dispose([a, b]);
});

test('no tensor leaks', async () => {
  const x = tf.tensor2d([[-1, -2]]);
  const mask = tf.tensor2d([[1, 0]]);
  const before = tf.memory().numTensors;
  const out = sftNllLoss(x, mask);
  out.loss.dispose();
  await readMetrics(out.metrics);
  tf.grad((v: tf.Tensor) => sftNllLoss(v, mask).loss)(x).dispose();
  expect(tf.memory().numTensors).toBe(before);
  tf.dispose([x, mask]);
});
