/**
 * Picks and initialises the TF.js backend, in the order of preference README.md "Backends" gives:
 * `tensorflow` via @tensorflow/tfjs-node-gpu (only with a GPU) -> `tensorflow` via @tensorflow/tfjs-node
 * -> `wasm` -> `cpu`. `auto` takes the first that works and records why each better one was not used;
 * naming a backend (argument, `--backend` or RLHF_BACKEND) either gives exactly that backend or throws a
 * BackendError saying what failed and how to fix it: there is no silent fallback.
 *
 * Does: load the optional backend packages, apply the wasm and tensorflow patches, report versions and thread counts.
 * Does NOT: install or build anything (scripts/setup-native.js does), or route ops (see ops.ts).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { loadNativeOps, nativeDecoderStatus, NativeOpsError, type NativeOpsStatus } from './native-ops';
import { withStartupLogFiltered } from './startup-log';
import { applyTensorflowPatches } from './tensorflow-patches';
import { applyWasmPatches } from './wasm-patches';
import { nodeSupportsWasmThreads, wantedWasmThreads, wasmStartTimeoutSeconds, withWasmThreads } from './wasm-threads';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export type BackendRequest = 'auto' | BackendName;
export const BACKEND_REQUESTS: readonly BackendRequest[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

/** A candidate in the order of preference; the two tensorflow packages are separate candidates. */
export type Candidate = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';
const ORDER: readonly Candidate[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];
const PACKAGE: Record<Candidate, string> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
  wasm: '@tensorflow/tfjs-backend-wasm',
  cpu: '@tensorflow/tfjs-backend-cpu',
};

export interface BackendInfo {
  /** The TF.js backend name now active (tf.getBackend()). */
  name: BackendName;
  /** The package that provides it. */
  package: string;
  /** Its version; for tensorflow also the TensorFlow C library's (`4.22.0 (TensorFlow 2.21.0)`). */
  version: string;
  /** Threads its kernels use (tensorflow: TF's intra-op pool, one per logical core by default). */
  threads: number;
  /** Why `threads` is fewer than asked for (wasm: threads unsupported or failed to start), when it is. */
  threadsNote?: string;
  /** tensorflow only: whether the fused kernels of native/rlhf_ops.cc are in use, and why not (backend/native-ops.ts). */
  nativeOps?: NativeOpsStatus;
  requested: BackendRequest;
  /** Each better candidate that was not used, and why (empty when the best one was taken). */
  reasons: { backend: Candidate; reason: string }[];
}

export class BackendError extends Error {
  override name = 'BackendError';
}

/** Seams for tests: simulate a missing package or a machine with(out) a GPU. */
export interface BackendOptions {
  /** Loads a package by name (default: Node's require). Throwing means "not available". */
  requireModule?: (name: string) => unknown;
  /** Whether an NVIDIA GPU is present (default: looks for the driver under /proc and /dev). */
  hasGpu?: () => boolean;
}

const FIX: Record<Candidate, string> = {
  'tensorflow-gpu': 'install @tensorflow/tfjs-node-gpu with its CUDA libraries, or use --backend tensorflow for the CPU build',
  tensorflow: 'run `npm run setup-native` (builds @tensorflow/tfjs-node against a local TensorFlow; ' +
    'RLHF_TENSORFLOW=/path/to/tensorflow_cpu-*.whl names one), then check with `rlhf env`',
  wasm: 'reinstall dependencies (`npm ci`); @tensorflow/tfjs-backend-wasm is a regular dependency',
  cpu: 'reinstall dependencies (`npm ci`)',
};

let current: BackendInfo | null = null;

/** The backend chosen by the last initBackend call, or null. */
export function currentBackend(): BackendInfo | null {
  return current;
}

/** Reads RLHF_BACKEND (default `auto`), rejecting unknown names with the list of valid ones. */
export function requestedFromEnv(env: NodeJS.ProcessEnv = process.env): BackendRequest {
  const raw = (env.RLHF_BACKEND ?? '').trim().toLowerCase();
  if (raw === '') return 'auto';
  if (!(BACKEND_REQUESTS as readonly string[]).includes(raw)) {
    throw new BackendError(`RLHF_BACKEND="${env.RLHF_BACKEND}" is not a backend; expected one of ${BACKEND_REQUESTS.join(', ')}`);
  }
  return raw as BackendRequest;
}

/**
 * Makes `requested` the active backend and returns what it is. Example:
 * `await initBackend('auto')` -> `{name: 'tensorflow', version: '4.22.0 (TensorFlow 2.21.0)', threads: 16, reasons: [...]}`.
 */
export async function initBackend(requested?: BackendRequest, opts: BackendOptions = {}): Promise<BackendInfo> {
  const want = requested ?? requestedFromEnv();
  if (!(BACKEND_REQUESTS as readonly string[]).includes(want)) {
    throw new BackendError(`backend "${want}" is not known; expected one of ${BACKEND_REQUESTS.join(', ')}`);
  }
  const candidates = ORDER.filter((c) => want === 'auto' || c === want || (want === 'tensorflow' && c === 'tensorflow-gpu'));
  const reasons: BackendInfo['reasons'] = [];
  for (const c of candidates) {
    const why = await tryCandidate(c, opts);
    if (why === null) {
      current = { ...describeActive(c), requested: want, reasons };
      if (c === 'wasm' && wasmThreadsNote) current.threadsNote = wasmThreadsNote;
      if (c === 'tensorflow-gpu') {
        // The addon is compiled against the CPU TensorFlow that setup-native built tfjs-node with; the GPU
        // package loads another TensorFlow, whose op registry the addon would not reach.
        current.nativeOps = { loaded: false, reason: 'built for @tensorflow/tfjs-node (CPU), not used with @tensorflow/tfjs-node-gpu' };
      } else if (c === 'tensorflow') {
        try {
          current.nativeOps = loadNativeOps();
        } catch (e) {
          throw e instanceof NativeOpsError ? new BackendError(e.message) : e;
        }
      }
      return current;
    }
    reasons.push({ backend: c, reason: why });
  }
  const detail = reasons.map((r) => `${r.backend}: ${r.reason}`).join('; ');
  const fix = FIX[want === 'auto' ? 'cpu' : (want as Candidate)];
  throw new BackendError(`backend "${want}" is not available (${detail}). To fix: ${fix}`);
}

/** Loads and activates one candidate; returns null on success or why it cannot be used. */
async function tryCandidate(c: Candidate, opts: BackendOptions): Promise<string | null> {
  const load = opts.requireModule ?? ((name: string) => require(name));
  if (c === 'tensorflow-gpu' && !(opts.hasGpu ?? hasNvidiaGpu)()) {
    return 'no NVIDIA GPU found (no /proc/driver/nvidia/version)';
  }
  if (c === 'tensorflow-gpu' || c === 'tensorflow') {
    // TensorFlow's C++ start-up banner (CPU features, oneDNN) goes to stderr; keep warnings and errors.
    process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
  }
  try {
    // TensorFlow's static initialisers print two INFO lines while the library loads (startup-log.ts).
    if (c === 'tensorflow-gpu' || c === 'tensorflow') withStartupLogFiltered(() => load(PACKAGE[c]));
    else load(PACKAGE[c]);
  } catch (e) {
    const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
    return /Cannot find module/.test(msg) ? `${PACKAGE[c]} is not installed` : `${PACKAGE[c]} failed to load: ${msg}`;
  }
  if (c === 'tensorflow-gpu' || c === 'tensorflow') {
    // Both packages register a backend named "tensorflow"; the first one loaded keeps the name.
    if (tfjsNodeLoaded && tfjsNodeLoaded !== c) return `${PACKAGE[tfjsNodeLoaded]} is already loaded in this process`;
    tfjsNodeLoaded = c;
  }
  if (c === 'wasm') configureWasm(load);
  if (!tf.findBackendFactory(backendName(c))) {
    return `${PACKAGE[c]} loaded but registered no "${backendName(c)}" backend into this @tensorflow/tfjs ` +
      '(it resolved another copy of @tensorflow/tfjs; run `npm run setup-native`)';
  }
  const activate = async (): Promise<string | null> => {
    let ok = false;
    try {
      ok = await tf.setBackend(backendName(c));
      await tf.ready();
    } catch (e) {
      return `${PACKAGE[c]} failed to initialise: ${e instanceof Error ? e.message : String(e)}`;
    }
    return ok && tf.getBackend() === backendName(c) ? null : `${PACKAGE[c]} failed to initialise (tf.setBackend returned false)`;
  };
  const failed = c === 'wasm' ? await activateWasm(load, activate) : await activate();
  if (failed !== null) return failed;
  if (c === 'wasm') applyWasmPatches();
  if (c === 'tensorflow' || c === 'tensorflow-gpu') applyTensorflowPatches();
  if (c === 'cpu') quietCpuBanner();
  return null;
}

let tfjsNodeLoaded: Candidate | null = null;
let wasmThreadsNote: string | undefined;

/**
 * Initialises wasm with as many threads as wantedWasmThreads() asks for (wasm-threads.ts); when the threaded
 * build cannot start, falls back to the single-threaded SIMD build and says why in `threadsNote`.
 */
async function activateWasm(load: (name: string) => unknown, activate: () => Promise<string | null>): Promise<string | null> {
  let threads: number;
  let startTimeout: number;
  try {
    threads = wantedWasmThreads();
    startTimeout = wasmStartTimeoutSeconds();
  } catch (e) {
    throw new BackendError((e as Error).message);
  }
  if (threads <= 1) return activate();
  if (!nodeSupportsWasmThreads()) {
    wasmThreadsNote = `wasm threads need SharedArrayBuffer and worker_threads, which this Node (${process.version}) lacks`;
    return activate();
  }
  const wasm = load(PACKAGE.wasm) as { setThreadsCount(n: number): void };
  let threaded: string | null;
  try {
    threaded = await withWasmThreads(wasm, threads, activate, startTimeout);
  } catch (e) {
    threaded = e instanceof Error ? e.message : String(e); // e.g. no writable temporary folder
  }
  if (threaded === null) return null;
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  wasm.setThreadsCount(1);
  wasmThreadsNote = `the threaded wasm build failed (${threaded}); set RLHF_WASM_THREADS=1 to skip trying`;
  return activate();
}
let wasmConfigured = false;

function backendName(c: Candidate): BackendName {
  return c === 'tensorflow-gpu' ? 'tensorflow' : c;
}

/** Points the wasm backend at its .wasm files (before its first initialisation; later calls are ignored by it). */
function configureWasm(load: (name: string) => unknown): void {
  if (wasmConfigured) return;
  wasmConfigured = true;
  const wasm = load(PACKAGE.wasm) as { setWasmPaths(prefix: string): void };
  const dist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  wasm.setWasmPaths(`${dist}${path.sep}`);
}

/**
 * The cpu backend prints a multi-line "install our node backend" banner on first use; `rlhf env` and the
 * `reasons` already say why a faster backend was not used, so mark the banner as shown.
 */
function quietCpuBanner(): void {
  const cpu = tf.findBackend('cpu') as unknown as { firstUse?: boolean } | null;
  if (cpu && 'firstUse' in cpu) cpu.firstUse = false;
}

function hasNvidiaGpu(): boolean {
  return fs.existsSync('/proc/driver/nvidia/version') || fs.existsSync('/dev/nvidia0');
}

function describeActive(c: Candidate): Omit<BackendInfo, 'requested' | 'reasons'> {
  const name = backendName(c);
  if (name === 'tensorflow') {
    const node = require(PACKAGE[c]) as { version: Record<string, string> };
    const binding = (tf.backend() as unknown as { binding?: { TF_Version?: string } }).binding;
    return {
      name, package: PACKAGE[c],
      version: `${node.version['tfjs-node']} (TensorFlow ${binding?.TF_Version ?? 'unknown'})`,
      threads: os.availableParallelism?.() ?? os.cpus().length,
    };
  }
  if (name === 'wasm') {
    const wasm = require(PACKAGE.wasm) as { version_wasm: string; getThreadsCount(): number };
    const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? 'SIMD' : 'no SIMD';
    return { name, package: PACKAGE.wasm, version: `${wasm.version_wasm} (${simd})`, threads: wasm.getThreadsCount() };
  }
  return { name, package: PACKAGE.cpu, version: tf.version_cpu, threads: 1 };
}

export interface EnvironmentReport {
  backend: BackendName;
  backendPackage: string;
  backendVersion: string;
  threads: number;
  /** Why `threads` is fewer than asked for (wasm: threads unsupported or failed to start), when it is. */
  threadsNote?: string;
  nativeOps?: NativeOpsStatus;
  /** The decoder batched sampling uses (src/model/decoder.ts), and why not native when it is not. */
  decoder: { name: 'native' | 'tfjs'; reason?: string };
  requested: BackendRequest;
  notUsed: BackendInfo['reasons'];
  node: string;
  tfjs: string;
  platform: string;
  /** The same, as the lines `rlhf env` prints. */
  text: string;
}

/** What `rlhf env` prints, for the backend `info` (default: the one initBackend chose last). */
export function describeEnvironment(info: BackendInfo | null = current): EnvironmentReport {
  if (!info) throw new BackendError('no backend initialised yet; call initBackend() first');
  const why = info.name === 'tensorflow' ? nativeDecoderStatus() : `it runs with the tensorflow backend, and ${info.name} is active`;
  const decoder = why === null ? { name: 'native' as const } : { name: 'tfjs' as const, reason: why };
  const lines = [
    `backend:  ${info.name} (${info.package} ${info.version})${info.requested === 'auto' ? '' : `, requested "${info.requested}"`}`,
    `threads:  ${info.threads}${info.threadsNote ? ` (${info.threadsNote})` : ''}`,
    ...(info.nativeOps ? [`fused:    ${info.nativeOps.loaded ? `causal attention with RoPE, packed-row (segment) attention, RMSNorm, SwiGLU gate, gradient norm, AdamW (native/rlhf_ops.cc, ${info.nativeOps.threads} threads)` : `none (${info.nativeOps.reason})`}`] : []),
    `decoder:  ${decoder.name === 'native' ? `native (native/decoder.h: batched sampling, a whole step per call, ${info.nativeOps?.threads} threads)` : `tfjs (TF.js ops with a tensor KV cache; native not used: ${decoder.reason})`}`,
    ...info.reasons.map((r) => `not used: ${r.backend}: ${r.reason}`),
    `node:     ${process.version} (${process.platform}-${process.arch})`,
    `tfjs:     ${tf.version.tfjs}`,
  ];
  return {
    backend: info.name, backendPackage: info.package, backendVersion: info.version, threads: info.threads,
    ...(info.threadsNote ? { threadsNote: info.threadsNote } : {}), ...(info.nativeOps ? { nativeOps: info.nativeOps } : {}), decoder,
    requested: info.requested, notUsed: info.reasons, node: process.version, tfjs: tf.version.tfjs,
    platform: `${process.platform}-${process.arch}`, text: lines.join('\n'),
  };
}
