/**
 * Fused kernels for the native backend: native/rlhf_ops.cc, built at install into native/build/rlhf_ops.node
 * (scripts/build-native-ops.js), registers TensorFlow ops; this module loads that addon and exposes the ops
 * as ordinary TF.js kernels of the `tensorflow` backend with a TF.js gradient, so autodiff, tidy, the
 * memory accounting and tf.profile treat them like any built-in op.
 *
 * `RLHF_NATIVE_OPS`: unset = use the addon when it loads (else plain TF.js ops: the same numbers up to float
 * rounding, slower),
 * `0` = never, `1` = required (a BackendError when it cannot be used; CI sets this so a broken build
 * cannot hide behind the fallback).
 *
 * Does: load and check the addon (ABI number), register kernels and gradients, say why it is not used.
 * Does NOT: build anything (scripts/ does), or decide where the kernels apply: backend/ops.ts is the one place
 * that asks fusedOpsAvailable(), for every op, and keeps the TF.js ops as the fallback.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';

/** Must equal RLHF_OPS_ABI in native/rlhf_ops.cc: the ops' inputs, outputs and attributes. */
export const NATIVE_OPS_ABI = 8;
export const NATIVE_OPS_ADDON = path.resolve(__dirname, '..', '..', 'native', 'build', 'rlhf_ops.node');

export const CAUSAL_ATTENTION = 'RlhfCausalAttention';
const CAUSAL_ATTENTION_GRAD = 'RlhfCausalAttentionGrad';
export const SEGMENT_ATTENTION = 'RlhfSegmentAttention';
const SEGMENT_ATTENTION_GRAD = 'RlhfSegmentAttentionGrad';
export const SUM_SQUARES = 'RlhfSumSquares';
export const ADAMW = 'RlhfAdamW';
export const RMS_NORM = 'RlhfRmsNorm';
const RMS_NORM_GRAD = 'RlhfRmsNormGrad';
export const SILU_MUL = 'RlhfSiluMul';
const SILU_MUL_GRAD = 'RlhfSiluMulGrad';
export const LOG_SOFTMAX_PICK = 'RlhfLogSoftmaxPick';
const LOG_SOFTMAX_PICK_GRAD = 'RlhfLogSoftmaxPickGrad';

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

/** The decoder session functions of the addon (native/decoder.h); src/model/native-decoder.ts drives them. */
export interface DecoderAddon {
  /** spec: [family (0 llama), layers, dim, heads, kv heads, head dim, intermediate, vocab, max positions, tied, q/k/v bias]; floats: [rms eps, rope theta]. */
  decoderCreate(spec: Int32Array, floats: Float32Array, weights: Float32Array[]): object;
  decoderSetWeights(handle: object, weights: Float32Array[]): void;
  decoderPrefill(handle: object, ids: Int32Array, lengths: Int32Array, capacity: Int32Array, out: Float32Array): void;
  decoderStep(handle: object, tokens: Int32Array, active: Uint8Array, out: Float32Array): void;
  decoderFree(handle: object): void;
}

/** The slice of tfjs-node's backend these kernels call. */
interface NodeBackend {
  binding: { TF_ATTR_FLOAT: number; TF_ATTR_INT: number };
  executeMultipleOutputs(name: string, attrs: { name: string; type: number; value: unknown }[], inputs: tf.TensorInfo[], n: number): tf.TensorInfo[];
}

let status: NativeOpsStatus | null = null;
let enabled = true;
let loadedAddon: (Addon & Partial<DecoderAddon>) | null = null;

/** RLHF_NATIVE_OPS: 'auto' (unset or empty), 'off' (0) or 'required' (1); anything else is an error naming the choices. */
export function nativeOpsMode(env: NodeJS.ProcessEnv = process.env): 'auto' | 'off' | 'required' {
  const raw = (env.RLHF_NATIVE_OPS ?? '').trim();
  if (raw === '') return 'auto';
  if (raw === '0') return 'off';
  if (raw === '1') return 'required';
  throw new NativeOpsError(`RLHF_NATIVE_OPS="${env.RLHF_NATIVE_OPS}" is not valid; expected 0 (never use the fused native ops), 1 (require them) or unset`);
}

/**
 * RLHF_NATIVE_THREADS: how many threads the kernels' pool uses (the addon reads it when it loads). Unset: the
 * CPUs this process may use (its affinity mask and cgroup CPU quota, not the host's core count). Throws on
 * anything but an integer from 1 to 256, naming what was expected.
 */
export function nativeThreadsSetting(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = (env.RLHF_NATIVE_THREADS ?? '').trim();
  if (raw === '') return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > 256) {
    throw new NativeOpsError(`RLHF_NATIVE_THREADS="${env.RLHF_NATIVE_THREADS}" is not valid; expected an integer from 1 to 256 (threads for the fused native ops) or unset (the CPUs this process may use)`);
  }
  return n;
}

/**
 * Loads the addon once per process (after the tensorflow backend is active) and registers its kernels.
 * Returns whether it is in use and, if not, why; throws NativeOpsError only when RLHF_NATIVE_OPS=1 and it fails,
 * or when RLHF_NATIVE_OPS or RLHF_NATIVE_THREADS is not a valid setting.
 */
export function loadNativeOps(addonPath: string = NATIVE_OPS_ADDON): NativeOpsStatus {
  const mode = nativeOpsMode();
  nativeThreadsSetting();
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

/** Whether the fused ops can run now: tensorflow backend active and the addon loaded and enabled. */
export function fusedOpsAvailable(): boolean {
  return enabled && status?.loaded === true && tf.getBackend() === 'tensorflow';
}

/**
 * null when the native decoder session (native/decoder.h) can run now; otherwise why not. It goes with the fused
 * ops: the same addon, loaded with the tensorflow backend, turned off by RLHF_NATIVE_OPS=0 and the same test seam.
 */
export function nativeDecoderStatus(): string | null {
  if (tf.getBackend() !== 'tensorflow') return `it runs with the tensorflow backend, and ${tf.getBackend()} is active`;
  if (!status?.loaded) return status?.reason ?? 'the native addon is not loaded';
  if (!enabled) return 'the native ops are turned off (setNativeOpsEnabled(false))';
  return null;
}

/** The addon's decoder functions; call only when nativeDecoderStatus() is null. */
export function nativeDecoderAddon(): DecoderAddon {
  if (nativeDecoderStatus() !== null || !loadedAddon?.decoderCreate) throw new NativeOpsError(`the native decoder cannot run: ${nativeDecoderStatus() ?? 'the addon has no decoder functions'}`);
  return loadedAddon as unknown as DecoderAddon;
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
  loadedAddon = addon;
  return { loaded: true, threads: addon.threads };
}

function registerKernels(): void {
  if (tf.getKernel(CAUSAL_ATTENTION, 'tensorflow')) return;
  type Attr = { name: string; type: number; value: unknown };
  const run = (name: string, outputs: (n: number) => number, attrsOf: (be: NodeBackend, attrs: tf.NamedAttrMap, n: number) => Attr[]): tf.KernelFunc =>
    ({ inputs, backend, attrs }) => {
      const be = backend as unknown as NodeBackend;
      const list = Object.values(inputs) as tf.TensorInfo[];
      return be.executeMultipleOutputs(name, attrsOf(be, attrs as tf.NamedAttrMap, list.length), list, outputs(list.length));
    };
  const scaleAttr = (be: NodeBackend, attrs: tf.NamedAttrMap): Attr[] => [{ name: 'scale', type: be.binding.TF_ATTR_FLOAT, value: attrs.scale }];
  const listAttr = (be: NodeBackend, attrs: tf.NamedAttrMap): Attr[] => [{ name: 'N', type: be.binding.TF_ATTR_INT, value: attrs.N }];
  tf.registerKernel({ kernelName: CAUSAL_ATTENTION, backendName: 'tensorflow', kernelFunc: run(CAUSAL_ATTENTION, () => 2, scaleAttr) });
  tf.registerKernel({ kernelName: CAUSAL_ATTENTION_GRAD, backendName: 'tensorflow', kernelFunc: run(CAUSAL_ATTENTION_GRAD, () => 3, scaleAttr) });
  tf.registerKernel({ kernelName: SEGMENT_ATTENTION, backendName: 'tensorflow', kernelFunc: run(SEGMENT_ATTENTION, () => 2, scaleAttr) });
  tf.registerKernel({ kernelName: SEGMENT_ATTENTION_GRAD, backendName: 'tensorflow', kernelFunc: run(SEGMENT_ATTENTION_GRAD, () => 3, scaleAttr) });
  tf.registerKernel({ kernelName: SUM_SQUARES, backendName: 'tensorflow', kernelFunc: run(SUM_SQUARES, () => 1, listAttr) });
  tf.registerKernel({ kernelName: ADAMW, backendName: 'tensorflow', kernelFunc: run(ADAMW, (n) => (3 * (n - 2)) / 4, listAttr) });
  const epsAttr = (be: NodeBackend, attrs: tf.NamedAttrMap): Attr[] => [{ name: 'eps', type: be.binding.TF_ATTR_FLOAT, value: attrs.eps }];
  const none = (): Attr[] => [];
  tf.registerKernel({ kernelName: RMS_NORM, backendName: 'tensorflow', kernelFunc: run(RMS_NORM, () => 2, epsAttr) });
  tf.registerKernel({ kernelName: RMS_NORM_GRAD, backendName: 'tensorflow', kernelFunc: run(RMS_NORM_GRAD, () => 2, none) });
  tf.registerKernel({ kernelName: SILU_MUL, backendName: 'tensorflow', kernelFunc: run(SILU_MUL, () => 1, none) });
  tf.registerKernel({ kernelName: SILU_MUL_GRAD, backendName: 'tensorflow', kernelFunc: run(SILU_MUL_GRAD, () => 2, none) });
  // No registered gradient: headLogProbs (model/logprobs.ts) writes its own and calls the Grad kernel itself.
  tf.registerKernel({ kernelName: LOG_SOFTMAX_PICK, backendName: 'tensorflow', kernelFunc: run(LOG_SOFTMAX_PICK, () => 2, none) });
  tf.registerKernel({ kernelName: LOG_SOFTMAX_PICK_GRAD, backendName: 'tensorflow', kernelFunc: run(LOG_SOFTMAX_PICK_GRAD, () => 1, none) });
  tf.registerGradient({
    kernelName: RMS_NORM,
    inputsToSave: ['x', 'w'],
    outputsToSave: [false, true],
    gradFunc: (dy, saved) => {
      const [x, w, r] = saved;
      const [dx, dw] = tf.engine().runKernel(RMS_NORM_GRAD, { x, w, r, dy: (Array.isArray(dy) ? dy[0] : dy) as tf.Tensor }) as tf.Tensor[];
      return { x: () => dx, w: () => dw };
    },
  });
  tf.registerGradient({
    kernelName: SILU_MUL,
    inputsToSave: ['g', 'u'],
    gradFunc: (dy, saved) => {
      const [g, u] = saved;
      const [dg, du] = tf.engine().runKernel(SILU_MUL_GRAD, { g, u, dy: dy as tf.Tensor }) as tf.Tensor[];
      return { g: () => dg, u: () => du };
    },
  });
  tf.registerGradient({
    kernelName: CAUSAL_ATTENTION,
    inputsToSave: ['q', 'k', 'v', 'cos', 'sin'],
    outputsToSave: [true, true],
    gradFunc: (dy, saved, attrs) => {
      const [q, k, v, cos, sin, o, lse] = saved;
      const dO = (Array.isArray(dy) ? dy[0] : dy) as tf.Tensor; // lse has no gradient (only the backward reads it)
      const [dq, dk, dv] = tf.engine().runKernel(CAUSAL_ATTENTION_GRAD, { q, k, v, cos, sin, o, lse, do: dO }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
      // The rotary tables are constants: no gradient flows into them.
      return { q: () => dq, k: () => dk, v: () => dv, cos: () => tf.zerosLike(cos), sin: () => tf.zerosLike(sin) };
    },
  });
  tf.registerGradient({
    kernelName: SEGMENT_ATTENTION,
    inputsToSave: ['q', 'k', 'v', 'cos', 'sin', 'layout'],
    outputsToSave: [true, true],
    gradFunc: (dy, saved, attrs) => {
      const [q, k, v, cos, sin, layout, o, lse] = saved;
      const dO = (Array.isArray(dy) ? dy[0] : dy) as tf.Tensor;
      const [dq, dk, dv] = tf.engine().runKernel(SEGMENT_ATTENTION_GRAD, { q, k, v, cos, sin, layout, o, lse, do: dO }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
      // Tables and layout are constants: no gradient flows into them.
      return { q: () => dq, k: () => dk, v: () => dv, cos: () => tf.zerosLike(cos), sin: () => tf.zerosLike(sin), layout: () => tf.zerosLike(layout) };
    },
  });
}

/**
 * softmax(scale·rope(q)·rope(k)ᵀ + causal mask)·v for one unpadded (or right-padded) causal forward, in one
 * kernel. q [B, T, H, d], k and v [B, T, kvH, d] as projected (RoPE not yet applied: the kernel rotates q and k
 * by cos/sin [T, d/2], HF's rotate-half convention, positions 0..T-1) -> [B, T, H, d].
 * Call only when fusedOpsAvailable().
 */
export function fusedCausalAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, cos: tf.Tensor2D, sin: tf.Tensor2D, scale: number): tf.Tensor4D {
  const out = tf.engine().runKernel(CAUSAL_ATTENTION, { q, k, v, cos, sin }, { scale } as unknown as tf.NamedAttrMap) as tf.Tensor[];
  out[1].dispose(); // lse: kept alive by the tape when gradients are recorded, otherwise not needed
  return out[0] as tf.Tensor4D;
}

/**
 * Attention over packed rows (model/packed.ts): q [B, T, H, d], k and v [B, T, kvH, d] as projected; layout
 * [B, T, 4] float32 holds per token (position, own segment start s, prefix start p0, prefix end p1): token t
 * attends to keys [p0, p1) ∪ [s, t], and q_t, k_t are rotated by row `position` of cos/sin [T, d/2].
 * -> [B, T, H, d]. Call only when fusedOpsAvailable().
 */
export function fusedSegmentAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, cos: tf.Tensor2D, sin: tf.Tensor2D, layout: tf.Tensor3D, scale: number): tf.Tensor4D {
  const out = tf.engine().runKernel(SEGMENT_ATTENTION, { q, k, v, cos, sin, layout }, { scale } as unknown as tf.NamedAttrMap) as tf.Tensor[];
  out[1].dispose(); // lse: kept alive by the tape when gradients are recorded
  return out[0] as tf.Tensor4D;
}

/** Σ x² over every element of every tensor, one kernel (the global gradient norm², e.g. for clipping). Call only when fusedOpsAvailable(). */
export function fusedSumSquares(xs: tf.Tensor[]): tf.Scalar {
  const inputs = Object.fromEntries(xs.map((x, i) => [`x${i}`, x]));
  return (tf.engine().runKernel(SUM_SQUARES, inputs, { N: xs.length }) as tf.Tensor[])[0] as tf.Scalar;
}

/**
 * One AdamW step for N parameters in one kernel (native/rlhf_ops.cc states the arithmetic; it is
 * src/train/optimizer.ts's, rounding for rounding). hyper = [β1, 1−β1, β2, 1−β2, √(1−β2ᵗ), ε, lr/(1−β1ᵗ)],
 * decay[i] = 1 − lr·λ for decayed parameters and exactly 1 otherwise. Returns new p, m, v (same order).
 */
export function fusedAdamW(p: tf.Tensor[], m: tf.Tensor[], v: tf.Tensor[], g: tf.Tensor[], hyper: tf.Tensor1D, decay: tf.Tensor1D): { p: tf.Tensor[]; m: tf.Tensor[]; v: tf.Tensor[] } {
  const N = p.length;
  const inputs: tf.NamedTensorMap = {};
  [p, m, v, g].forEach((list, k) => list.forEach((t, i) => (inputs[`${'pmvg'[k]}${i}`] = t)));
  inputs.hyper = hyper;
  inputs.decay = decay;
  const out = tf.engine().runKernel(ADAMW, inputs, { N }) as tf.Tensor[];
  return { p: out.slice(0, N), m: out.slice(N, 2 * N), v: out.slice(2 * N) };
}

/** RMSNorm x [..., D] · w [D] with eps, one kernel forward and one backward (the per-row 1/rms is saved for it). */
export function fusedRmsNorm(x: tf.Tensor, w: tf.Tensor, eps: number): tf.Tensor {
  const [y, r] = tf.engine().runKernel(RMS_NORM, { x, w }, { eps } as unknown as tf.NamedAttrMap) as tf.Tensor[];
  r.dispose(); // kept by the tape when gradients are recorded
  return y;
}

/** silu(g) ⊙ u (the SwiGLU gate), one kernel forward and one backward (σ is recomputed, nothing else saved). */
export function fusedSiluMul(g: tf.Tensor, u: tf.Tensor): tf.Tensor {
  return (tf.engine().runKernel(SILU_MUL, { g, u }) as tf.Tensor[])[0]; // the kernel returns its outputs as a list
}

/**
 * The LM head's log-softmax and target pick in one pass per row: logits [N, V] and targets [N] (token ids as float32)
 * -> picked[n] = logits[n, t] − lse[n] and lse[n] = log Σ_v exp(logits[n, v]). No gradient is registered for it.
 */
export function fusedLogSoftmaxPick(logits: tf.Tensor2D, targets: tf.Tensor1D): { picked: tf.Tensor1D; lse: tf.Tensor1D } {
  const [picked, lse] = tf.engine().runKernel(LOG_SOFTMAX_PICK, { logits, targets }) as tf.Tensor1D[];
  return { picked, lse };
}

/** The gradient of fusedLogSoftmaxPick's picked: dy[n] · (onehot(targets[n]) − exp(logits[n] − lse[n])) -> [N, V], one pass. */
export function fusedLogSoftmaxPickGrad(logits: tf.Tensor2D, lse: tf.Tensor1D, targets: tf.Tensor1D, dy: tf.Tensor1D): tf.Tensor2D {
  return (tf.engine().runKernel(LOG_SOFTMAX_PICK_GRAD, { logits, lse, targets, dy }) as tf.Tensor2D[])[0];
}
