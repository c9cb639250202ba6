/**
 * The active backend's own large-matmul speed: the peak the model FLOPs utilisation is measured against.
 * A square float32 product n×n · n×n (2n³ FLOPs), both operands plain and untransposed (on wasm the
 * XNNPACK fast path), timed to the host read of its result; `reps` repetitions after one warm-up, the
 * fastest taken as the peak.
 *
 * Does: time tf.matMul. Does NOT: pick the backend (the caller has) or model anything else.
 */
import * as tf from '@tensorflow/tfjs';
import { median } from './stats';

export interface MatmulResult {
  n: number;
  ms: number[];
  /** From the fastest repetition: a peak (a busy machine only ever slows a product down). */
  gflops: number;
  /** From the median repetition. */
  median_gflops: number;
}

export async function measureMatmul(n: number, reps: number): Promise<MatmulResult> {
  const a = tf.randomNormal([n, n], 0, 1, 'float32', 1) as tf.Tensor2D;
  const b = tf.randomNormal([n, n], 0, 1, 'float32', 2) as tf.Tensor2D;
  const ms: number[] = [];
  try {
    for (let i = -1; i < reps; i++) {
      const t0 = performance.now();
      const c = tf.matMul(a, b);
      await c.data();
      const dt = performance.now() - t0;
      c.dispose();
      if (i >= 0) ms.push(dt);
    }
  } finally {
    tf.dispose([a, b]);
  }
  // 4 significant digits: a tiny product on a slow backend is well below 0.1 GFLOP/s, not 0.
  const rate = (t: number) => +((2 * n ** 3) / (t / 1000) / 1e9).toPrecision(4);
  return { n, ms: ms.map((x) => +x.toFixed(2)), gflops: rate(Math.min(...ms)), median_gflops: rate(median(ms)) };
}
