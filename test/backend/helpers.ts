/**
 * Helpers for cross-backend tests: run the same computation on each available backend and compare.
 * Does NOT: choose the suite's backend (test/setup/backend.ts does).
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../../src/backend';

/** The backends this process can run: cpu and wasm always, tensorflow where tfjs-node loads. */
export async function availableBackends(): Promise<BackendName[]> {
  const before = tf.getBackend();
  const names: BackendName[] = ['cpu', 'wasm'];
  try {
    await initBackend('tensorflow');
    names.push('tensorflow');
  } catch {
    // eslint-disable-next-line no-console
    console.warn('tfjs-node is not available here: cross-backend checks cover cpu and wasm only (run `npm run setup-native`)');
  }
  await tf.setBackend(before);
  return names;
}

/** Runs `f` on `backend` and returns its outputs as plain arrays (tensors are disposed). */
export async function runOn(backend: BackendName, f: () => tf.Tensor[]): Promise<Float32Array[]> {
  await initBackend(backend);
  const outs = tf.tidy(f);
  const data = await Promise.all(outs.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose(outs);
  return data;
}

/** max |a - b| / max(1, max |b|): a relative difference that is absolute for small values. */
export function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let diff = 0;
  let scale = 1;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

/** max |a - b| / max |b|: the difference relative to the reference tensor's scale. */
export function relMax(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return scale === 0 ? diff : diff / scale;
}
