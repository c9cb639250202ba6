/**
 * Multi-threaded wasm under Node.
 *
 * @tensorflow/tfjs-backend-wasm 4.22 ships a threaded SIMD build (XNNPACK on a pthread pool) but turns it
 * off under Node (its WASM_HAS_MULTITHREAD_SUPPORT flag returns false when IS_NODE), and three things in its
 * loader assume a browser even when the flag is forced on:
 *   1. the pthread worker script and the module's own source reach the workers as Blob URLs, which
 *      `worker_threads` and the workers' `importScripts` (a file read under Node) cannot open;
 *   2. the module source is the factory's `toString()`, so the bundle's closure names it uses
 *      (`require$$0`, `__values`, `_scriptDir`, …) are undefined inside a worker;
 *   3. the thread count is capped at `emscripten_num_logical_cores() / 2`, i.e. os.cpus().length / 2 under
 *      Node, on the assumption of two hyper-threads per core: one thread on a 2-core machine.
 *
 * Does: for the duration of the backend's initialisation only, write those two scripts as files into a
 * private temporary folder (mkdtemp, 0700) and hand out file paths instead of Blob URLs, give the worker a
 * prologue defining the missing names, and report twice the CPU count so the cap is the real count; then put
 * everything back and delete the folder (the module resolves only after all of its pool's workers have
 * loaded both scripts). Each script is written once, complete, before any worker can read it: the loader asks
 * for the worker script once per worker, and rewriting it in place each time let a worker that was already
 * reading it see an empty file. That worker ran nothing and exited; the module waited for it for ever, and
 * with the other workers idle and unref'd, Node ended the process silently with exit code 0 (7 starts in 100
 * here; in jest, a test that awaited such a start waited until its timeout). A start that still takes longer
 * than RLHF_WASM_START_TIMEOUT_S (default 30 s) is abandoned, so the caller falls back to the single-threaded
 * build instead of waiting on it. The numerics do not change: XNNPACK splits output tiles between threads,
 * and each output element is still summed by one thread in the same order (checked bit for bit by
 * test/backend/wasm-threads.test.ts).
 * Does NOT: touch any other backend, or spawn more workers than the build's fixed pool of 8 (counts above 8
 * are capped, since a worker spawned after initialisation would look for the deleted files).
 */
import { Blob as NodeBlob } from 'buffer';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';

/** Size of the pthread pool the threaded build pre-allocates (PThread.initMainThread). */
export const WASM_POOL_SIZE = 8;

/**
 * How many threads the wasm backend should use: RLHF_WASM_THREADS when set (1 = the single-threaded build),
 * else every CPU the process may use; at most the pool size and the CPU count either way (the module itself
 * caps its thread count at the CPUs, so asking for more would only make `rlhf env` disagree with what runs).
 * Throws on a value that is not a positive integer.
 */
export function wantedWasmThreads(env: NodeJS.ProcessEnv = process.env): number {
  const cpus = os.availableParallelism?.() ?? os.cpus().length;
  const raw = env.RLHF_WASM_THREADS;
  if (raw !== undefined && raw !== '') {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) {
      throw new Error(`RLHF_WASM_THREADS must be a positive integer (1 = single-threaded wasm), got "${raw}"`);
    }
    return Math.min(n, cpus, WASM_POOL_SIZE);
  }
  return Math.min(cpus, WASM_POOL_SIZE);
}

/** Whether this Node can run wasm threads at all (shared memory that can be posted to a worker). */
export function nodeSupportsWasmThreads(): boolean {
  try {
    new MessageChannel().port1.postMessage(new SharedArrayBuffer(1));
    return typeof (globalThis as { WebAssembly?: unknown }).WebAssembly === 'object' && typeof Atomics === 'object';
  } catch {
    return false;
  }
}

interface WasmPackage {
  setThreadsCount(n: number): void;
}

/**
 * The names the module source uses from the bundle's closure, defined on the worker's global: Node modules,
 * the global object, its own path, and three TypeScript down-level helpers (iterate, read n items, spread).
 */
function workerPrologue(mainScript: string): string {
  return [
    '"use strict";',
    'Object.assign(globalThis, {',
    "  require$$0: require('fs'), require$$1: require('path'), require$$3: require('perf_hooks'), require$$4: require('os'),",
    `  commonjsGlobal: globalThis, _scriptDir: ${JSON.stringify(mainScript)},`,
    '  __values: (o) => {',
    '    if (o != null && typeof o[Symbol.iterator] === "function") return o[Symbol.iterator]();',
    '    let i = 0;',
    '    return { next: () => (o != null && i < o.length ? { value: o[i++], done: false } : { value: undefined, done: true }) };',
    '  },',
    '  __read: (o, n) => {',
    '    if (o == null || typeof o[Symbol.iterator] !== "function") return o;',
    '    const it = o[Symbol.iterator](), out = [];',
    '    for (let s; (n === undefined || out.length < n) && !(s = it.next()).done;) out.push(s.value);',
    '    return out;',
    '  },',
    '  __spreadArray: (to, from) => to.concat(Array.prototype.slice.call(from)),',
    '});',
    // The worker turns the module-source Blob it is sent into a URL and importScripts() it: the file instead.
    `URL.createObjectURL = () => ${JSON.stringify(mainScript)};`,
    'URL.revokeObjectURL = () => {};',
    '',
  ].join('\n');
}

const MODULE_SOURCE_PREFIX = 'var WasmBackendModuleThreadedSimd';

/** Seconds a threaded start may take before it is abandoned (RLHF_WASM_START_TIMEOUT_S; it takes ~0.2 s here). */
export function wasmStartTimeoutSeconds(env: NodeJS.ProcessEnv = process.env): number {
  const raw = (env.RLHF_WASM_START_TIMEOUT_S ?? '').trim();
  if (raw === '') return 30;
  const s = Number(raw);
  if (!Number.isFinite(s) || s <= 0) {
    throw new Error(`RLHF_WASM_START_TIMEOUT_S must be a positive number of seconds, got "${env.RLHF_WASM_START_TIMEOUT_S}"`);
  }
  return s;
}

/** Writes a whole file under a temporary name and renames it into place: a reader sees all of it or none. */
function writeComplete(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.part`;
  fs.writeFileSync(tmp, text, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

/**
 * Runs `init` (which must initialise the wasm backend) with the threaded build enabled for `threads` threads.
 * Everything patched is restored, and the temporary folder removed, whether `init` succeeds or not.
 */
export async function withWasmThreads<T>(wasm: WasmPackage, threads: number, init: () => Promise<T>, timeoutSeconds = wasmStartTimeoutSeconds()): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-wasm-threads-'));
  const mainScript = path.join(dir, 'module.js');
  // One file per distinct worker script text (in practice one): written once, never rewritten.
  const workerScripts = new Map<string, string>();
  const g = globalThis as unknown as { Blob: typeof NodeBlob };
  const RealBlob = g.Blob;
  const realCreate = URL.createObjectURL;
  // The module object itself (a TypeScript namespace import is a read-only copy); the loader reads it.
  const osModule = require('os') as { cpus: typeof os.cpus };
  const realCpus = osModule.cpus;
  const texts = new WeakMap<object, string>();
  let abandoned = false;

  // Remember the text of Blobs built from strings: the loader builds both scripts that way.
  class RecordingBlob extends RealBlob {
    constructor(...args: ConstructorParameters<typeof NodeBlob>) {
      super(...args);
      const parts = args[0];
      if (parts && parts.every((p) => typeof p === 'string')) {
        const text = (parts as string[]).join('');
        texts.set(this, text);
        // The module source is posted to the workers as a Blob, never through createObjectURL here.
        if (text.startsWith(MODULE_SOURCE_PREFIX)) writeComplete(mainScript, text);
      }
    }
  }
  const createObjectURL = (blob: NodeBlob): string => {
    const text = texts.get(blob);
    if (text === undefined) return realCreate(blob);
    let file = workerScripts.get(text);
    if (file === undefined) {
      file = path.join(dir, `worker-${workerScripts.size}.js`);
      writeComplete(file, workerPrologue(mainScript) + text);
      workerScripts.set(text, file);
    }
    return file;
  };

  try {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
    wasm.setThreadsCount(threads);
    g.Blob = RecordingBlob;
    URL.createObjectURL = createObjectURL;
    // emscripten_num_logical_cores() / 2 caps the pool: report each CPU twice so the cap is the real count.
    osModule.cpus = () => {
      const cpus = realCpus();
      return cpus.concat(cpus);
    };
    let timer: NodeJS.Timeout | undefined;
    // A ref'd timer also keeps the process alive while the start is pending: the module's workers are
    // unref'd as they load, so a start that stalls would otherwise let Node exit silently.
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        abandoned = true;
        reject(new Error(`it did not start within ${timeoutSeconds} s (RLHF_WASM_START_TIMEOUT_S)`));
      }, timeoutSeconds * 1000);
    });
    const started = init();
    started.catch(() => {}); // an abandoned start that fails later is not an unhandled rejection
    try {
      const result = await Promise.race([started, deadline]);
      unrefPoolWorkers();
      return result;
    } finally {
      clearTimeout(timer);
    }
  } finally {
    osModule.cpus = realCpus;
    URL.createObjectURL = realCreate;
    g.Blob = RealBlob;
    // An abandoned start may still have workers reading the scripts: remove them when the process ends.
    const remove = () => fs.rmSync(dir, { recursive: true, force: true });
    if (abandoned) process.once('exit', remove);
    else remove();
  }
}

/**
 * Lets the process exit while the pool's threads idle: emscripten ref()s a worker while it runs a pthread,
 * and XNNPACK's pool threads run (waiting for work) for the life of the module, so without this a CLI
 * command would never end on its own.
 */
function unrefPoolWorkers(): void {
  // findBackend starts a backend that is registered but not started: ask only when wasm is the one running.
  if (tf.getBackend() !== 'wasm') return;
  const backend = tf.findBackend('wasm') as unknown as { wasm?: { PThread?: { runningWorkers?: { unref(): void }[] } } } | null;
  for (const w of backend?.wasm?.PThread?.runningWorkers ?? []) w.unref();
}
