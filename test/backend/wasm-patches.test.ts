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

describe('wasm Identity patch', () => {
  it('clones without copying: same memory, independent lifetimes, no leak', async () => {
    await initBackend('wasm');
    const before = tf.memory().numBytes;
    const x = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
    const y = tf.clone(x); // runs the Identity kernel
    const backend = tf.backend() as unknown as { dataIdMap: { get(id: unknown): { memoryOffset: number } } };
    expect(backend.dataIdMap.get(y.dataId).memoryOffset).toBe(backend.dataIdMap.get(x.dataId).memoryOffset);
    x.dispose(); // the clone keeps the memory alive
    expect(Array.from(await y.data())).toEqual([1, 2, 3, 4, 5, 6]);
    y.dispose();
    expect(tf.memory().numBytes).toBe(before);
    const s = tf.clone(tf.tensor1d(['a', 'bc'], 'string'));
    expect(await s.data()).toEqual(['a', 'bc']);
  });

  it('leaves gradients that save tensors (clone via the tape) equal to cpu', async () => {
    const f = () => {
      const x = tf.tensor2d(Array.from({ length: 12 }, (_, i) => Math.sin(i + 1)), [3, 4]);
      return [tf.grad((t: tf.Tensor) => t.square().mul(t.exp()).sum())(x)];
    };
    const [cpu] = await runOn('cpu', f);
    const [wasm] = await runOn('wasm', f);
    expect(relDiff(wasm, cpu)).toBeLessThanOrEqual(1e-6);
  });
});

describe('wasm Transpose, Slice and SplitV patches', () => {
  it('give the cpu values for the layouts the model uses (and the stock kernel for the rest), without leaks', async () => {
    const f = () => {
      const x = tf.tensor(Array.from({ length: 2 * 5 * 3 * 4 }, (_, i) => i * 0.5 - 7), [2, 5, 3, 4]);
      const b = tf.tensor(Array.from({ length: 2 * 3 * 7 * 7 }, (_, i) => (i % 13) - 6), [2, 3, 7, 7], 'int32');
      return [
        x.transpose([0, 2, 1, 3]), x.transpose([0, 1, 3, 2]), x.transpose([3, 2, 1, 0]), // the last: stock kernel
        x.reshape([10, 12]).transpose(), b.transpose([0, 1, 3, 2]).toFloat(),
        ...tf.split(x, [1, 3], 3), ...tf.split(x, 5, 1),
        x.slice([1, 1, 0, 1], [1, 3, 3, 2]), b.slice([0, 0, 0, 0], [2, 3, 4, 7]).toFloat(),
        tf.tensor1d([true, false, true], 'bool').reshape([3, 1]).transpose().toFloat(),
        tf.gather(x, tf.tensor2d([[1, 0, 1], [1, 1, 0]], [2, 3], 'int32')), // embedding-style: axis 0
        tf.gather(x, tf.tensor1d([4, 0, 2, 2], 'int32'), 1), tf.gather(x, tf.tensor1d([3, 0], 'int32'), 3),
        tf.gather(b, tf.tensor1d([6, 1], 'int32'), 2).toFloat(),
      ];
    };
    const cpu = await runOn('cpu', f);
    const wasm = await runOn('wasm', f);
    wasm.forEach((w, i) => expect({ i, d: relDiff(w, cpu[i]) }).toEqual({ i, d: 0 }));
    await initBackend('wasm');
    const x = tf.ones([4, 6, 5]);
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      [x.transpose([0, 2, 1]), x.transpose([2, 1, 0]), ...tf.split(x, 3, 1), x.slice([0, 1, 1], [2, 2, 2]),
        tf.gather(x, tf.tensor1d([3, 1], 'int32'))].forEach((t) => expect(t.size).toBeGreaterThan(0));
    });
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it('rejects an out-of-range gather index as the stock kernel does, allocating nothing', async () => {
    await initBackend('wasm');
    const x = tf.ones([4, 3]);
    const ids = tf.tensor1d([0, 4], 'int32');
    const before = tf.memory().numTensors;
    expect(() => tf.gather(x, ids)).toThrow('GatherV2: the index value 4 is not in [0, 3]');
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, ids]);
  });
});
