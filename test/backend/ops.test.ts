/**
 * ops.linear, and tf.matMul as the model uses it (batched, transposed, broadcast — on wasm through
 * wasm-matmul.ts's kernel): same values and gradients on cpu, wasm and tensorflow to 1e-5 (without tfjs-node,
 * cpu and wasm only, and the test names say so; see crossBackends), hand-worked examples, and no leaked tensors.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { linear } from '../../src/backend/ops';
import { TINY_PRODUCT } from '../../src/backend/wasm-matmul';
import { crossBackends, relDiff, runOn } from './helpers';

/** Deterministic, backend-independent test values. */
function values(shape: number[], seed: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Array.from({ length: n }, (_, i) => Math.sin(seed * 7.1 + i * 0.37)), shape);
}

const { names: backends, label: EVERY } = crossBackends();

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

  it(`gives the same values and gradients (x, w, b) on ${EVERY}`, async () => {
    await expectSameEverywhere(() => {
      const x = values([2, 5, 6], 1);
      const w = values([4, 6], 2);
      const b = values([4], 3);
      const up = values([2, 5, 4], 4);
      const loss = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => linear(xx, ww, bb).mul(up).sum();
      const [gx, gw, gb] = tf.grads(loss)([x, w, b]);
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

describe('tf.matMul (wasm: wasm-matmul.ts kernel)', () => {
  it('computes a batched product with transposes (hand-worked)', async () => {
    for (const b of ['cpu', 'wasm'] as const) {
      await initBackend(b);
      const a = tf.tensor3d([[[1, 2], [3, 4]], [[0, 1], [1, 0]]]); // [2, 2, 2]
      const c = tf.tensor3d([[[1, 0, 2], [0, 1, 3]], [[5, 6, 7], [8, 9, 10]]]); // [2, 2, 3]
      expect(Array.from(await tf.matMul(a, c).data())).toEqual([1, 2, 8, 3, 4, 18, 8, 9, 10, 5, 6, 7]);
      expect(Array.from(await tf.matMul(a, c, true, false).data())).toEqual([1, 3, 11, 2, 4, 16, 8, 9, 10, 5, 6, 7]);
    }
  });

  it(`matches cpu for every transpose combination and broadcast, with gradients, on ${EVERY}`, async () => {
    await expectSameEverywhere(() => {
      const outs: tf.Tensor[] = [];
      // Tiny products go to the stock kernel on wasm; from TINY_PRODUCT multiply-adds per matrix up, XNNPACK's.
      for (const [m, k, p] of [[5, 4, 6], [40, 24, 30]]) {
        expect(m * k * p > TINY_PRODUCT).toBe(m === 40);
        for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]]) {
          const a = values(ta ? [2, 3, k, m] : [2, 3, m, k], 5); // [B, H, m, k]
          const b = values(tb ? [2, 3, p, k] : [2, 3, k, p], 6); // [B, H, k, p]
          const up = values([2, 3, m, p], 7);
          const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, y, ta, tb).mul(up).sum())([a, b]);
          outs.push(tf.matMul(a, b, ta, tb), ga, gb);
        }
      }
      // aᵀ·b with a square a and a narrow b (attention's dSᵀ·q); with a shared (batch-1) a too.
      const sq = values([2, 3, 7, 7], 12);
      const narrow = values([2, 3, 7, 2], 13);
      const [gsq, gnarrow] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, y, true, false).mul(values([2, 3, 7, 2], 14)).sum())([sq, narrow]);
      outs.push(tf.matMul(sq, narrow, true, false), gsq, gnarrow, tf.matMul(values([7, 7], 15), narrow, true, false));
      // Broadcast batch dims: a weight-like b of batch 1, then an a of batch 1.
      const a = values([4, 3, 5], 1);
      outs.push(tf.matMul(a, values([1, 5, 2], 2)), tf.matMul(values([1, 3, 5], 3), values([4, 5, 2], 4)));
      outs.push(tf.matMul(a, values([5, 2], 8)), tf.matMul(values([3, 5], 9), values([2, 5], 10), false, true));
      // Empty products: k = 0 gives zeros, m = 0 an empty result.
      outs.push(tf.matMul(tf.zeros([2, 3, 0]), tf.zeros([2, 0, 4])), tf.matMul(tf.zeros([2, 0, 3]), values([2, 3, 4], 11)));
      return outs;
    });
  });

  it('leaves no tensors or registered views behind on wasm, forward or backward', async () => {
    await initBackend('wasm');
    const a = values([3, 32, 24], 1); // 32·24·32 multiply-adds per matrix: above TINY_PRODUCT, XNNPACK's path
    const b = values([3, 24, 32], 2);
    const before = tf.memory();
    tf.tidy(() => {
      tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, y, true, true).sum())([a.transpose([0, 2, 1]), b.transpose([0, 2, 1])]);
      tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, y).sum())([a, b]);
    });
    const after = tf.memory();
    expect([after.numTensors, after.numBytes]).toEqual([before.numTensors, before.numBytes]);
    tf.dispose([a, b]);
  });

  it('frees what it registers with XNNPACK per product: the wasm heap stops growing', async () => {
    await initBackend('wasm');
    const heap = () => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length;
    const a = values([8, 64, 64], 1);
    const b = values([8, 64, 64], 2);
    const run = (n: number) => { for (let i = 0; i < n; i++) tf.tidy(() => tf.matMul(a, b, false, true).dataSync()); };
    run(20);
    const before = heap();
    // 2000 products; a leaked view would keep each one's packed 64x64 operator (16 KB+): 32 MB of growth.
    run(250);
    expect(heap()).toBe(before);
    tf.dispose([a, b]);
  });
});
