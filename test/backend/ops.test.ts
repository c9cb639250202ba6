/**
 * ops.linear and ops.batchMatMul: same values and gradients on cpu, wasm and tensorflow (where it
 * loads) to 1e-5, a hand-worked example, and no leaked tensors.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { batchMatMul, linear } from '../../src/backend/ops';
import { availableBackends, relDiff, runOn } from './helpers';

/** Deterministic, backend-independent test values. */
function values(shape: number[], seed: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Array.from({ length: n }, (_, i) => Math.sin(seed * 7.1 + i * 0.37)), shape);
}

let backends: string[] = [];
beforeAll(async () => {
  backends = await availableBackends();
});

async function expectSameEverywhere(f: () => tf.Tensor[]): Promise<void> {
  const ref = await runOn('cpu', f);
  for (const b of backends.filter((n) => n !== 'cpu')) {
    const got = await runOn(b as 'wasm' | 'tensorflow', f);
    got.forEach((g, i) => {
      const d = relDiff(g, ref[i]);
      if (d > 1e-5) throw new Error(`${b}: output ${i} differs from cpu by ${d}`);
    });
  }
}

describe('linear', () => {
  it('computes x · wᵀ + b (hand-worked)', async () => {
    for (const b of ['cpu', 'wasm'] as const) {
      await initBackend(b);
      const y = linear(tf.tensor2d([[1, 2]]), tf.tensor2d([[1, 0], [0, 1], [1, 1]]), tf.tensor1d([0, 0, 10]));
      expect(y.shape).toEqual([1, 3]);
      expect(Array.from(await y.data())).toEqual([1, 2, 13]);
    }
  });

  it('gives the same values and gradients (x, w, b) on every backend', async () => {
    await expectSameEverywhere(() => {
      const x = values([2, 5, 6], 1);
      const w = values([4, 6], 2);
      const b = values([4], 3);
      const up = values([2, 5, 4], 4);
      const loss = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => linear(xx, ww, bb).mul(up).sum();
      const [gx, gw, gb] = tf.grads(loss)([x, w, b]);
      // A wide projection (out > in) takes the other weight-gradient route on wasm.
      const xn = values([2, 5, 3], 5);
      const wide = values([9, 3], 6);
      const [gxn, gwide] = tf.grads((xx: tf.Tensor, ww: tf.Tensor) => linear(xx, ww).mul(values([2, 5, 9], 7)).sum())([xn, wide]);
      return [linear(x, w, b), linear(x, w), gx, gw, gb, linear(xn, wide), gxn, gwide];
    });
  });

  it('leaks no tensors on wasm, forward or backward', async () => {
    await initBackend('wasm');
    const x = values([3, 4], 1);
    const w = values([2, 4], 2);
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      tf.grads((a: tf.Tensor, b: tf.Tensor) => linear(a, b).sum())([x, w]);
    });
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, w]);
  });
});

describe('batchMatMul', () => {
  it('matches tf.matMul semantics for every transpose combination, with gradients, on every backend', async () => {
    await expectSameEverywhere(() => {
      const outs: tf.Tensor[] = [];
      for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]]) {
        const a = values(ta ? [2, 3, 4, 5] : [2, 3, 5, 4], 5); // [B, H, m=5, k=4]
        const b = values(tb ? [2, 3, 6, 4] : [2, 3, 4, 6], 6); // [B, H, k=4, p=6]
        const up = values([2, 3, 5, 6], 7);
        const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => batchMatMul(x, y, ta, tb).mul(up).sum())([a, b]);
        outs.push(batchMatMul(a, b, ta, tb), ga, gb);
      }
      return outs;
    });
  });

  it('matches tf.matMul for aᵀ·b with a square a and a narrow b (wasm computes (bᵀ·a)ᵀ), with gradients', async () => {
    await expectSameEverywhere(() => {
      const a = values([2, 3, 7, 7], 8); // [B, H, k=7, m=7]: transposing it costs more than b and the product
      const b = values([2, 3, 7, 2], 9); // [B, H, k=7, p=2]
      const up = values([2, 3, 7, 2], 10);
      const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => batchMatMul(x, y, true, false).mul(up).sum())([a, b]);
      return [batchMatMul(a, b, true, false), ga, gb, tf.matMul(a, b, true, false)];
    });
  });

  it('equals tf.matMul on the same backend, including broadcasting batch dims', async () => {
    await initBackend('wasm');
    const a = values([4, 3, 5], 1);
    const b = values([4, 5, 2], 2);
    expect(relDiff(await batchMatMul(a, b).data(), await tf.matMul(a, b).data())).toBeLessThanOrEqual(1e-6);
    const b1 = values([1, 5, 2], 3); // broadcast: falls back to tf.matMul
    expect(batchMatMul(a, b1).shape).toEqual([4, 3, 2]);
    expect(relDiff(await batchMatMul(a, b1).data(), await tf.matMul(a, b1).data())).toBe(0);
  });

  it('leaks no tensors on wasm, forward or backward', async () => {
    await initBackend('wasm');
    const a = values([3, 2, 4], 1);
    const b = values([3, 4, 2], 2);
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      tf.grads((x: tf.Tensor, y: tf.Tensor) => batchMatMul(x, y, false, true).sum())([a, b.transpose([0, 2, 1])]);
    });
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a, b]);
  });
});
