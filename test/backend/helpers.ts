/**
 * Helpers for cross-backend tests: run the same computation on each available backend and compare.
 * Does NOT: choose the suite's backend (test/setup/backend.ts does).
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../../src/backend';
import { oraclesRequired } from '../helpers/gates';
import { nativeBackend } from '../helpers/native';

/**
 * The backends the cross-backend checks compare, and how test names say so: cpu, wasm and tensorflow; without
 * tfjs-node, cpu and wasm only, named in `label` with the reason, unless RLHF_REQUIRE_ORACLES=1, which keeps
 * tensorflow in the list so that the checks fail naming what is missing (initBackend's error).
 */
export function crossBackends(): { names: BackendName[]; label: string } {
  const why = nativeBackend.missing();
  if (why === null || oraclesRequired()) return { names: ['cpu', 'wasm', 'tensorflow'], label: 'cpu, wasm and tensorflow' };
  // eslint-disable-next-line no-console
  console.warn(`cross-backend checks cover cpu and wasm only: ${why} (${nativeBackend.fix})`);
  return { names: ['cpu', 'wasm'], label: `cpu and wasm only (tensorflow is missing here: ${why})` };
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
