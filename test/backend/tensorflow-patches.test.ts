/**
 * backend/tensorflow-patches.ts: tfjs-node's Reshape with its shape operand reused. The same values as the stock
 * kernel for every dtype and an inferred (-1) axis, one operand per distinct shape, the cache bounded with evicted
 * operands freed, gradients through it, no engine tensors left behind, and the stock kernel back on request.
 * Gated on tfjs-node (helpers/gates.ts): a failure under RLHF_REQUIRE_ORACLES=1.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { applyTensorflowPatches, cachedShapeCount, SHAPE_CACHE_SIZE } from '../../src/backend/tensorflow-patches';
import { describeIf } from '../helpers/gates';
import { nativeBackend } from '../helpers/native';

describeIf(nativeBackend, 'tensorflow backend: Reshape with a reused shape operand', () => {
  beforeAll(async () => {
    await initBackend('tensorflow');
  });
  afterEach(() => applyTensorflowPatches(true));

  /** Reshapes of float32, int32 and bool tensors, one with -1, as plain arrays. */
  function reshapes(): unknown[] {
    return tf.tidy(() => {
      const f = tf.range(0, 24, 1, 'float32').reshape([2, 3, 4]);
      const i = tf.range(0, 12, 1, 'int32').reshape([3, -1]);
      const b = tf.tensor1d([1, 0, 1, 1, 0, 0], 'bool').reshape([2, 3]);
      return [f.arraySync(), f.shape, i.arraySync(), i.shape, b.arraySync(), tf.reshape(f, [4, 6]).arraySync()];
    });
  }

  test('is installed by initBackend and gives the stock kernel\'s values for float32, int32, bool and -1', () => {
    const before = cachedShapeCount(tf.backend());
    const patched = reshapes();
    expect(cachedShapeCount(tf.backend())).toBeGreaterThan(before);
    applyTensorflowPatches(false);
    const stock = reshapes();
    expect(patched).toEqual(stock);
    expect(patched[1]).toEqual([2, 3, 4]);
    expect(patched[3]).toEqual([3, 4]);
  });

  test('one operand per distinct shape, kept out of the engine\'s tensors', () => {
    const x = tf.randomNormal([6, 10], 0, 1, 'float32', 3);
    tf.tidy(() => {
      x.reshape([60, 1]); // first use of [60, 1]
    });
    const count = cachedShapeCount(tf.backend());
    const tensors = tf.memory().numTensors;
    const buffers = tf.backend().numDataIds();
    for (let k = 0; k < 50; k++) {
      tf.tidy(() => {
        x.reshape([60, 1]).reshape([6, 10]);
      });
    }
    expect(cachedShapeCount(tf.backend())).toBe(count + 1); // [6, 10] joined; [60, 1] was reused
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.backend().numDataIds()).toBe(buffers + 1); // the backend's own count sees the operand; the engine's does not
    x.dispose();
  });

  test(`the cache holds at most ${SHAPE_CACHE_SIZE} operands and frees the ones it evicts`, () => {
    const buffers = tf.backend().numDataIds();
    // 2·SIZE shapes not seen before ([1, n + 1000] for each n), each tensor disposed by tidy.
    for (let n = 0; n < 2 * SHAPE_CACHE_SIZE; n++) {
      tf.tidy(() => {
        tf.zeros([n + 1000]).reshape([1, n + 1000]);
      });
    }
    expect(cachedShapeCount(tf.backend())).toBe(SHAPE_CACHE_SIZE);
    expect(tf.backend().numDataIds() - buffers).toBeLessThanOrEqual(SHAPE_CACHE_SIZE);
    // An evicted shape comes back with a fresh operand and the right values.
    expect(tf.tidy(() => tf.range(0, 1000).reshape([1, 1000]).slice([0, 997], [1, 3]).arraySync())).toEqual([[997, 998, 999]]);
  });

  test('gradients flow through it as through the stock kernel', () => {
    const x = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
    const w = tf.tensor1d([1, -2, 3, -4, 5, -6]);
    const g = () => tf.tidy(() => tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.reshape(tf.square(v), [6]), w)))(x).arraySync());
    const patched = g();
    applyTensorflowPatches(false);
    expect(patched).toEqual(g());
    expect(patched).toEqual([[2, -8, 18], [-32, 50, -72]]);
    tf.dispose([x, w]);
  });

  test('applyTensorflowPatches(false) puts the stock kernel back, and true the patched one, each once', () => {
    applyTensorflowPatches(false);
    const stock = tf.getKernel('Reshape', 'tensorflow');
    applyTensorflowPatches(false);
    expect(tf.getKernel('Reshape', 'tensorflow')).toBe(stock);
    applyTensorflowPatches(true);
    const patched = tf.getKernel('Reshape', 'tensorflow');
    expect(patched?.kernelFunc).not.toBe(stock?.kernelFunc);
    applyTensorflowPatches(true);
    expect(tf.getKernel('Reshape', 'tensorflow')?.kernelFunc).toBe(patched?.kernelFunc);
  });
});
