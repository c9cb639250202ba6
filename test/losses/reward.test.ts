/** Bradley-Terry loss: hand-worked values, TRL's metric definitions, gradients, input checks, no leaks. */
import * as tf from '@tensorflow/tfjs';
import { bradleyTerryLoss, LossConfigError, LossInputError, readMetrics, RewardLossOptions } from '../../src/losses';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

async function bt(c: number[], r: number[], margin?: number[], opts: RewardLossOptions = {}) {
  const out = tf.tidy(() =>
    bradleyTerryLoss({ chosenRewards: tf.tensor1d(c), rejectedRewards: tf.tensor1d(r), margin: margin && tf.tensor1d(margin) }, opts),
  );
  const loss = (await out.loss.data())[0];
  out.loss.dispose();
  return { loss, m: await readMetrics(out.metrics) };
}

test('equal rewards give log 2 and accuracy 0 (a tie counts as wrong)', async () => {
  const { loss, m } = await bt([0.3, -1], [0.3, -1]);
  expect(loss).toBeCloseTo(Math.log(2), 6);
  expect(m.accuracy).toBe(0);
  expect(m.margin).toBe(0);
});

test('−log σ(r_c − r_r − m): a margin equal to the gap gives log 2; metrics ignore the margin (as TRL)', async () => {
  const { loss, m } = await bt([2, 1], [1, -1], [1, 2]);
  expect(loss).toBeCloseTo(Math.log(2), 6);
  expect(m.accuracy).toBe(1); // r_c > r_r for both, whatever the margin
  expect(m.margin).toBeCloseTo(1.5, 6); // mean(r_c − r_r), without the margin column
});

test('gap 1 gives log(1 + e^−1); centring adds c·mean((r_c + r_r)²)', async () => {
  expect((await bt([1], [0])).loss).toBeCloseTo(Math.log1p(Math.exp(-1)), 6);
  const { loss } = await bt([1, 2], [0, 1], undefined, { centerRewardsCoefficient: 0.01 });
  // BT part: both gaps are 1. Centring: mean(1², 3²) = 5.
  expect(loss).toBeCloseTo(Math.log1p(Math.exp(-1)) + 0.01 * 5, 6);
});

test('mean/min/max_reward are over chosen and rejected together; [B, 1] score-head output accepted', async () => {
  const out = tf.tidy(() =>
    bradleyTerryLoss({ chosenRewards: tf.tensor2d([[3], [-1]]), rejectedRewards: tf.tensor2d([[0], [-2]]) }),
  );
  out.loss.dispose();
  const m = await readMetrics(out.metrics);
  expect(m).toMatchObject({ mean_reward: 0, min_reward: -2, max_reward: 3, accuracy: 1 });
  expect(Object.keys(m).sort()).toEqual(['accuracy', 'loss', 'margin', 'max_reward', 'mean_reward', 'min_reward']);
});

test('extreme gaps stay finite', async () => {
  expect((await bt([-400], [400])).loss).toBeCloseTo(800, 2);
  expect((await bt([400], [-400])).loss).toBeCloseTo(0, 10);
});

test('gradient: d/dr_c = (−σ(−(Δ − m)) + 2c(r_c + r_r)) / B, and d/dr_r is its mirror', async () => {
  const c = [0.5, -1, 2];
  const r = [0, 1, 2.5];
  const m = [0.2, 0, 1];
  const k = 0.1;
  const [gc, gr] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
    bradleyTerryLoss({ chosenRewards: a, rejectedRewards: b, margin: tf.tensor1d(m) }, { centerRewardsCoefficient: k }).loss,
  )([tf.tensor1d(c), tf.tensor1d(r)]);
  const dc = await gc.data();
  const dr = await gr.data();
  c.forEach((ci, i) => {
    const s = 1 / (1 + Math.exp(ci - r[i] - m[i])); // σ(−(Δ − m))
    const centre = 2 * k * (ci + r[i]);
    expect(dc[i]).toBeCloseTo((-s + centre) / 3, 6);
    expect(dr[i]).toBeCloseTo((s + centre) / 3, 6);
  });
  tf.dispose([gc, gr]);
});

test('input and setting checks', () => {
  const a = tf.tensor1d([1, 2]);
  const b = tf.tensor1d([1, 2, 3]);
  expect(() => bradleyTerryLoss({ chosenRewards: a, rejectedRewards: b })).toThrow(/got 2 chosen rewards but 3 rejected/);
  expect(() => bradleyTerryLoss({ chosenRewards: a, rejectedRewards: a, margin: b })).toThrow(LossInputError);
  expect(() => bradleyTerryLoss({ chosenRewards: a, rejectedRewards: a }, { centerRewardsCoefficient: -1 })).toThrow(LossConfigError);
  const wide = tf.zeros([2, 2]);
  expect(() => bradleyTerryLoss({ chosenRewards: wide, rejectedRewards: wide })).toThrow(/shape \[B\] or \[B, 1\]; got \[2, 2\]/);
  tf.dispose([a, b, wide]);
});

test('no tensor leaks, forward and inside tf.grads', async () => {
  const c = tf.tensor1d([1, -1]);
  const r = tf.tensor1d([0, 2]);
  const margin = tf.tensor1d([0.5, 0.5]);
  const before = tf.memory().numTensors;
  const out = bradleyTerryLoss({ chosenRewards: c, rejectedRewards: r, margin }, { centerRewardsCoefficient: 0.01 });
  out.loss.dispose();
  await readMetrics(out.metrics);
  const [g1, g2] = tf.grads((x: tf.Tensor, y: tf.Tensor) => bradleyTerryLoss({ chosenRewards: x, rejectedRewards: y, margin }).loss)([c, r]);
  tf.dispose([g1, g2]);
  expect(tf.memory().numTensors).toBe(before);
  tf.dispose([c, r, margin]);
});
