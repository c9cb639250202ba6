/**
 * The wasm patches: UnsortedSegmentSum (gradient of tf.gather) and the contiguous-Slice kernel give
 * the cpu backend's numbers; the segment sum also matches a hand-worked example.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { relDiff, runOn } from './helpers';

describe('wasm UnsortedSegmentSum', () => {
  it('matches a hand-worked example, dropping out-of-range ids', async () => {
    await initBackend('wasm');
    const x = tf.tensor2d([[1, 2], [3, 4], [5, 6], [7, 8]]);
    const out = tf.unsortedSegmentSum(x, tf.tensor1d([1, 0, 1, 5], 'int32'), 3);
    expect(out.shape).toEqual([3, 2]);
    expect(Array.from(await out.data())).toEqual([3, 4, 6, 8, 0, 0]);
    const ints = tf.unsortedSegmentSum(tf.tensor1d([1, 2, 3], 'int32'), tf.tensor1d([0, 0, 1], 'int32'), 2);
    expect(ints.dtype).toBe('int32');
    expect(Array.from(await ints.data())).toEqual([3, 3]);
    tf.dispose([x, out, ints]);
  });

  it('makes the gradient of gather (embedding lookup, repeated ids) equal to cpu', async () => {
    const table = Array.from({ length: 10 * 4 }, (_, i) => Math.sin(i));
    const ids = [[1, 3, 3, 9], [0, 9, 1, 1]];
    const f = () => {
      const emb = tf.tensor2d(table, [10, 4]);
      const w = tf.tensor3d(Array.from({ length: 2 * 4 * 4 }, (_, i) => Math.cos(i)), [2, 4, 4]);
      const g = tf.grad((e: tf.Tensor) => tf.gather(e, tf.tensor2d(ids, [2, 4], 'int32')).mul(w).sum())(emb);
      return [g];
    };
    const [cpu] = await runOn('cpu', f);
    const [wasm] = await runOn('wasm', f);
    expect(relDiff(wasm, cpu)).toBeLessThanOrEqual(1e-6);
    // Row 2 is never looked up; row 1 is looked up three times.
    expect(Array.from(cpu.slice(8, 12))).toEqual([0, 0, 0, 0]);
  });
});

describe('wasm Slice patch', () => {
  it('gives cpu values for contiguous and strided slices, without leaks', async () => {
    const f = () => {
      const x = tf.range(0, 2 * 3 * 4 * 5).reshape([2, 3, 4, 5]);
      return [
        x.slice([1, 0, 0, 0], [1, 3, 4, 5]), // contiguous: the patched path
        x.slice([0, 1, 0, 0], [2, 2, 4, 5]), // strided: the stock kernel
        x.slice([1, 2, 1, 0], [1, 1, 2, 5]), // contiguous inner block
        tf.unstack(x)[1],
      ];
    };
    const cpu = await runOn('cpu', f);
    await initBackend('wasm');
    const before = tf.memory().numTensors;
    const wasm = await runOn('wasm', f);
    expect(tf.memory().numTensors).toBe(before);
    cpu.forEach((c, i) => expect(Array.from(wasm[i])).toEqual(Array.from(c)));
  });
});
