/**
 * Backend selection: auto takes the best available backend and says why better ones were skipped;
 * asking for an unavailable backend throws a BackendError that names the failure and the fix.
 * Unavailability is simulated through initBackend's requireModule / hasGpu seams.
 */
import { spawnSync } from 'child_process';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { BackendError, describeEnvironment, initBackend, requestedFromEnv } from '../../src/backend';
import { wantedWasmThreads } from '../../src/backend/wasm-threads';

const ROOT = path.resolve(__dirname, '../..');

/** Whether tfjs-node loads here, judged in a separate process (independent of the code under test). */
function nativeLoads(): boolean {
  const r = spawnSync(process.execPath, ['-e', "require('@tensorflow/tfjs-node')"], {
    cwd: ROOT, env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' }, timeout: 120000,
  });
  return r.status === 0;
}

/** A require that pretends the named packages are not installed. */
function without(...missing: string[]) {
  return (name: string): unknown => {
    if (missing.includes(name)) throw new Error(`Cannot find module '${name}'`);
    return require(name);
  };
}

describe('initBackend', () => {
  it('auto picks tensorflow when tfjs-node loads, else wasm', async () => {
    const info = await initBackend('auto', { hasGpu: () => false });
    const expected = nativeLoads() ? 'tensorflow' : 'wasm';
    expect(info.name).toBe(expected);
    expect(tf.getBackend()).toBe(expected);
    expect(info.reasons[0]).toEqual({ backend: 'tensorflow-gpu', reason: expect.stringContaining('no NVIDIA GPU') });
    expect(info.threads).toBeGreaterThanOrEqual(1);
  });

  it('auto falls back to wasm when tfjs-node is missing, and records why', async () => {
    const info = await initBackend('auto', { hasGpu: () => true, requireModule: without('@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node') });
    expect(info.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(info.reasons).toEqual([
      { backend: 'tensorflow-gpu', reason: '@tensorflow/tfjs-node-gpu is not installed' },
      { backend: 'tensorflow', reason: '@tensorflow/tfjs-node is not installed' },
    ]);
    expect(info.version).toMatch(/^4\.22\.0 \((no )?SIMD\)$/);
    // TF.js disables wasm threads under Node (tensorflow/tfjs#3830); wasm-threads.ts turns them back on.
    expect(info.threads).toBe(wantedWasmThreads());
  });

  it('auto falls back to cpu when wasm is missing too', async () => {
    const info = await initBackend('auto', {
      hasGpu: () => false, requireModule: without('@tensorflow/tfjs-node', '@tensorflow/tfjs-backend-wasm'),
    });
    expect(info.name).toBe('cpu');
    expect(info.reasons.map((r) => r.backend)).toEqual(['tensorflow-gpu', 'tensorflow', 'wasm']);
  });

  it('a requested but unavailable tensorflow throws, naming the failure and the fix; no fallback', async () => {
    await initBackend('cpu');
    const p = initBackend('tensorflow', { hasGpu: () => false, requireModule: without('@tensorflow/tfjs-node') });
    await expect(p).rejects.toThrow(BackendError);
    await expect(initBackend('tensorflow', { hasGpu: () => false, requireModule: without('@tensorflow/tfjs-node') }))
      .rejects.toThrow(/backend "tensorflow" is not available \(.*@tensorflow\/tfjs-node is not installed\).*npm run setup-native/);
    expect(tf.getBackend()).toBe('cpu'); // unchanged
  });

  it('a failing load is reported with its own message', async () => {
    const broken = (name: string): unknown => {
      if (name === '@tensorflow/tfjs-backend-wasm') throw new Error('libfoo.so: cannot open shared object file');
      return require(name);
    };
    await expect(initBackend('wasm', { requireModule: broken }))
      .rejects.toThrow('backend "wasm" is not available (wasm: @tensorflow/tfjs-backend-wasm failed to load: libfoo.so: cannot open shared object file)');
  });

  it('requests each backend by name', async () => {
    for (const name of ['cpu', 'wasm'] as const) {
      const info = await initBackend(name);
      expect(info).toMatchObject({ name, requested: name, reasons: [] });
      expect(tf.getBackend()).toBe(name);
    }
  });
});

describe('requestedFromEnv', () => {
  it('reads RLHF_BACKEND, defaulting to auto', () => {
    expect(requestedFromEnv({})).toBe('auto');
    expect(requestedFromEnv({ RLHF_BACKEND: 'WASM ' })).toBe('wasm');
    expect(() => requestedFromEnv({ RLHF_BACKEND: 'webgl' }))
      .toThrow('RLHF_BACKEND="webgl" is not a backend; expected one of auto, tensorflow, wasm, cpu');
  });
});

describe('describeEnvironment', () => {
  it('says which backend, its version, threads and why better ones were not used', async () => {
    const info = await initBackend('auto', { hasGpu: () => false, requireModule: without('@tensorflow/tfjs-node') });
    const env = describeEnvironment(info);
    expect(env).toMatchObject({ backend: 'wasm', backendPackage: '@tensorflow/tfjs-backend-wasm', threads: wantedWasmThreads(), node: process.version, tfjs: tf.version.tfjs });
    expect(env.text.split('\n')).toEqual([
      `backend:  wasm (@tensorflow/tfjs-backend-wasm ${info.version})`,
      `threads:  ${wantedWasmThreads()}`,
      'decoder:  tfjs (TF.js ops with a tensor KV cache; native not used: it runs with the tensorflow backend, and wasm is active)',
      'not used: tensorflow-gpu: no NVIDIA GPU found (no /proc/driver/nvidia/version)',
      'not used: tensorflow: @tensorflow/tfjs-node is not installed',
      `node:     ${process.version} (${process.platform}-${process.arch})`,
      `tfjs:     ${tf.version.tfjs}`,
    ]);
  });
});
