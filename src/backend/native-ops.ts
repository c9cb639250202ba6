/**
 * Fused kernels for the native backend: native/rlhf_ops.cc, built at install into native/build/rlhf_ops.node
 * (scripts/build-native-ops.js), registers TensorFlow ops; this module loads that addon and exposes the ops
 * as ordinary TF.js kernels of the `tensorflow` backend with a TF.js gradient, so autodiff, tidy, the
 * memory accounting and tf.profile treat them like any built-in op.
 *
 * `RLHF_NATIVE_OPS`: unset = use the addon when it loads (else plain TF.js ops, same numbers, slower),
 * `0` = never, `1` = required (a BackendError when it cannot be used; CI sets this so a broken build
 * cannot hide behind the fallback).
 *
 * Does: load and check the addon (ABI number), register kernels and gradients, say why it is not used.
 * Does NOT: build anything (scripts/ does), or decide where the fused op applies (model/attention.ts does).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';

/** Must equal RLHF_OPS_ABI in native/rlhf_ops.cc: the ops' inputs, outputs and attributes. */
export const NATIVE_OPS_ABI = 1;
export const NATIVE_OPS_ADDON = path.resolve(__dirname, '..', '..', 'native', 'build', 'rlhf_ops.node');

export const CAUSAL_ATTENTION = 'RlhfCausalAttention';
const CAUSAL_ATTENTION_GRAD = 'RlhfCausalAttentionGrad';

export interface NativeOpsStatus {
  loaded: boolean;
  /** Threads the addon's kernels use (one per core). */
  threads?: number;
  /** Why the addon is not used, when it is not. */
  reason?: string;
}

export class NativeOpsError extends Error {
  override name = 'NativeOpsError';
}

interface Addon {
  abi: number;
  threads: number;
  error?: string;
}

/** The slice of tfjs-node's backend these kernels call. */
interface NodeBackend {
  binding: { TF_ATTR_FLOAT: number };
  executeMultipleOutputs(name: string, attrs: { name: string; type: number; value: unknown }[], inputs: tf.TensorInfo[], n: number): tf.TensorInfo[];
}

let status: NativeOpsStatus | null = null;
let enabled = true;

/** RLHF_NATIVE_OPS: 'auto' (unset or empty), 'off' (0) or 'required' (1); anything else is an error naming the choices. */
export function nativeOpsMode(env: NodeJS.ProcessEnv = process.env): 'auto' | 'off' | 'required' {
  const raw = (env.RLHF_NATIVE_OPS ?? '').trim();
  if (raw === '') return 'auto';
  if (raw === '0') return 'off';
  if (raw === '1') return 'required';
  throw new NativeOpsError(`RLHF_NATIVE_OPS="${env.RLHF_NATIVE_OPS}" is not valid; expected 0 (never use the fused native ops), 1 (require them) or unset`);
}

/**
 * Loads the addon once per process (after the tensorflow backend is active) and registers its kernels.
 * Returns whether it is in use and, if not, why; throws NativeOpsError only when RLHF_NATIVE_OPS=1 and it fails.
 */
export function loadNativeOps(addonPath: string = NATIVE_OPS_ADDON): NativeOpsStatus {
  const mode = nativeOpsMode();
  if (!status) status = tryLoad(addonPath, mode);
  if (!status.loaded && mode === 'required') {
    throw new NativeOpsError(`RLHF_NATIVE_OPS=1 but the fused native ops cannot be used: ${status.reason}`);
  }
  return status;
}

export function nativeOpsStatus(): NativeOpsStatus | null {
  return status;
}

/** Test and benchmark seam: turn the fused ops off (plain TF.js ops) or back on; returns the previous setting. */
export function setNativeOpsEnabled(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}

/** Whether the fused attention op can run now: tensorflow backend active and the addon loaded and enabled. */
export function fusedAttentionAvailable(): boolean {
  return enabled && status?.loaded === true && tf.getBackend() === 'tensorflow';
}

function tryLoad(addonPath: string, mode: 'auto' | 'off' | 'required'): NativeOpsStatus {
  if (mode === 'off') return { loaded: false, reason: 'turned off by RLHF_NATIVE_OPS=0' };
  if (!fs.existsSync(addonPath)) return { loaded: false, reason: `${addonPath} is not built (\`npm run setup-native\` builds it)` };
  let addon: Addon;
  try {
    addon = require(addonPath) as Addon;
  } catch (e) {
    return { loaded: false, reason: `${addonPath} failed to load: ${(e as Error).message.split('\n')[0]}` };
  }
  if (addon.error) return { loaded: false, reason: `${addonPath} could not register its ops: ${addon.error}` };
  if (addon.abi !== NATIVE_OPS_ABI) {
    return { loaded: false, reason: `${addonPath} was built from another version of native/rlhf_ops.cc (abi ${addon.abi}, expected ${NATIVE_OPS_ABI}); run \`npm run setup-native\`` };
  }
  registerKernels();
  return { loaded: true, threads: addon.threads };
}

function registerKernels(): void {
  if (tf.getKernel(CAUSAL_ATTENTION, 'tensorflow')) return;
  const run = (name: string, n: number): tf.KernelFunc => ({ inputs, backend, attrs }) => {
    const be = backend as unknown as NodeBackend;
    const scale = (attrs as { scale: number }).scale;
    return be.executeMultipleOutputs(name, [{ name: 'scale', type: be.binding.TF_ATTR_FLOAT, value: scale }], Object.values(inputs) as tf.TensorInfo[], n);
  };
  tf.registerKernel({ kernelName: CAUSAL_ATTENTION, backendName: 'tensorflow', kernelFunc: run(CAUSAL_ATTENTION, 2) });
  tf.registerKernel({ kernelName: CAUSAL_ATTENTION_GRAD, backendName: 'tensorflow', kernelFunc: run(CAUSAL_ATTENTION_GRAD, 3) });
  tf.registerGradient({
    kernelName: CAUSAL_ATTENTION,
    inputsToSave: ['q', 'k', 'v'],
    outputsToSave: [true, true],
    gradFunc: (dy, saved, attrs) => {
      const [q, k, v, o, lse] = saved;
      const dO = (Array.isArray(dy) ? dy[0] : dy) as tf.Tensor; // lse has no gradient (only the backward reads it)
      const [dq, dk, dv] = tf.engine().runKernel(CAUSAL_ATTENTION_GRAD, { q, k, v, o, lse, do: dO }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
      return { q: () => dq, k: () => dk, v: () => dv };
    },
  });
}

/**
 * softmax(scale·q·kᵀ + causal mask)·v for one unpadded (or right-padded) causal forward, in one kernel.
 * q [B, T, H, d], k and v [B, T, kvH, d] (rotated, unscaled, HF head order) -> [B, T, H, d].
 * Call only when fusedAttentionAvailable().
 */
export function fusedCausalAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, scale: number): tf.Tensor4D {
  const out = tf.engine().runKernel(CAUSAL_ATTENTION, { q, k, v }, { scale } as unknown as tf.NamedAttrMap) as tf.Tensor[];
  out[1].dispose(); // lse: kept alive by the tape when gradients are recorded, otherwise not needed
  return out[0] as tf.Tensor4D;
}
