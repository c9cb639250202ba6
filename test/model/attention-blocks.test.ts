/**
 * groupedAttention (model/attention.ts): its written-out gradient equals autodiff through plain ops
 * (repeated kv heads, matMul, bias, softmax, matMul), with and without causal blocks and padding; and the
 * causal query blocks leave out only key columns whose softmax weight is exactly 0, so values and gradients
 * match the one-block computation (float rounding aside).
 */
import * as tf from '@tensorflow/tfjs';
import { causalBlockCount, groupedAttention } from '../../src/model/attention';
import { causalBias, paddingBias } from '../../src/model/layers';

function attention(T: number, causalFlag: boolean, withPadding: boolean) {
  const [B, H, kvH, d] = [2, 4, 2, 8];
  const q = tf.randomNormal([B, T, H, d], 0, 1, 'float32', 1) as tf.Tensor4D;
  const k = tf.randomNormal([B, kvH, T, d], 0, 1, 'float32', 2) as tf.Tensor4D;
  const v = tf.randomNormal([B, kvH, T, d], 0, 1, 'float32', 3) as tf.Tensor4D;
  const w = tf.randomNormal([B, T, H * d], 0, 1, 'float32', 4);
  const mask = tf.tidy(() => tf.concat([tf.ones([1, T]), tf.concat([tf.ones([1, T - 5]), tf.zeros([1, 5])], 1)], 0)) as tf.Tensor2D;
  const bias = tf.tidy(() => (withPadding ? causalBias(T, T, 0).add(paddingBias(mask)) : causalBias(T, T, 0)));
  const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => groupedAttention(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, bias, causalFlag).mul(w).sum();
  const out = tf.tidy(() => groupedAttention(q, k, v, bias, causalFlag));
  const grads = tf.grads(f)([q, k, v]);
  const r = { out: out.arraySync() as number[][][], grads: grads.map((g) => g.dataSync().slice()) };
  tf.dispose([q, k, v, w, mask, bias, out, ...grads]);
  return r;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** The textbook computation, differentiated by TF.js autodiff: softmax(q·kᵀ/√d + bias)·v per head. */
function plainAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, bias: tf.Tensor): tf.Tensor {
  const [B, T, H, d] = q.shape;
  const g = H / k.shape[1];
  const rep = (t: tf.Tensor4D) => tf.stack(Array.from({ length: H }, (_, h) => t.gather(Math.floor(h / g), 1)), 1); // [B, H, T, d]
  const qh = q.transpose([0, 2, 1, 3]);
  const scores = tf.matMul(qh, rep(k), false, true).div(Math.sqrt(d)).add(bias.rank === 2 ? bias : bias.reshape([B, 1, T, T]));
  return tf.matMul(tf.softmax(scores), rep(v)).transpose([0, 2, 1, 3]).reshape([B, T, H * d]);
}

describe('written-out gradient', () => {
  test.each([[130, true, true], [96, true, false], [40, false, true]])('T=%i, causal %s, padding %s: equals autodiff through plain ops', (T, causalFlag, withPadding) => {
    const [B, H, kvH, d] = [2, 4, 2, 8];
    const q = tf.randomNormal([B, T, H, d], 0, 1, 'float32', 5) as tf.Tensor4D;
    const k = tf.randomNormal([B, kvH, T, d], 0, 1, 'float32', 6) as tf.Tensor4D;
    const v = tf.randomNormal([B, kvH, T, d], 0, 1, 'float32', 7) as tf.Tensor4D;
    const w = tf.randomNormal([B, T, H * d], 0, 1, 'float32', 8);
    const mask = tf.concat([tf.ones([1, T]), tf.concat([tf.ones([1, T - 5]), tf.zeros([1, 5])], 1)], 0) as tf.Tensor2D;
    const bias = withPadding ? causalBias(T, T, 0).add(paddingBias(mask)) : causalBias(T, T, 0);
    const ours = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
      groupedAttention(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, bias, causalFlag).mul(w).sum())([q, k, v]);
    const plain = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
      plainAttention(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, bias).mul(w).sum())([q, k, v]);
    ours.forEach((gr, i) => {
      const ref = plain[i].dataSync();
      const scale = Math.max(1, ...Array.from(ref, Math.abs));
      expect({ input: i, diff: maxAbsDiff(gr.dataSync(), ref) / scale < 1e-5 }).toEqual({ input: i, diff: true });
    });
    tf.dispose([q, k, v, w, mask, bias, ...ours, ...plain]);
  });
});

describe('causal query blocks', () => {
  test('block counts (one block on wasm, where slices are costly)', () => {
    const want = tf.getBackend() === 'wasm' ? [1, 1, 1, 1, 1, 1] : [1, 1, 2, 2, 4, 4];
    expect([16, 63, 64, 127, 128, 256].map(causalBlockCount)).toEqual(want);
  });

  test.each([[128, true], [130, true], [96, false]])('T=%i, padding %s: same values and gradients as one block', (T, withPadding) => {
    const blocked = attention(T, true, withPadding);
    const whole = attention(T, false, withPadding);
    expect(maxAbsDiff(blocked.out.flat(2), whole.out.flat(2))).toBeLessThan(1e-5);
    blocked.grads.forEach((g, i) => expect(maxAbsDiff(g, whole.grads[i])).toBeLessThan(1e-5));
  });
});
