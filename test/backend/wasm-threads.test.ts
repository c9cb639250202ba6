/**
 * Multi-threaded wasm (src/backend/wasm-threads.ts): RLHF_WASM_THREADS parsing, and in child processes
 * (a backend initialises once per process) that the threaded build starts with the asked-for threads,
 * computes bit-for-bit what the single-threaded build computes, cleans up its temporary scripts, lets the
 * process exit on its own, and falls back to one thread, saying why, when it cannot start or takes longer than
 * RLHF_WASM_START_TIMEOUT_S. In-process, with a stand-in loader: each script is written once and whole (the
 * cause of starts that never finished), and a start past its deadline is abandoned.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm'; // registers the WASM_HAS_MULTITHREAD_SUPPORT flag withWasmThreads sets
import { nodeSupportsWasmThreads, wantedWasmThreads, wasmStartTimeoutSeconds, withWasmThreads, WASM_POOL_SIZE } from '../../src/backend/wasm-threads';
import { testIf } from '../helpers/gates';
import { cpus } from '../helpers/native';

const ROOT = path.resolve(__dirname, '../..');
const CHILD = path.join(__dirname, 'helpers/wasm-threads-child.ts');

interface ChildOut { threads: number; threadsNote: string | null; loss: number; grads: Float32Array }

function runChild(threads: string, tmpdir: string, env: NodeJS.ProcessEnv = {}): ChildOut {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bench/run-ts.js'), CHILD], {
    cwd: ROOT, encoding: 'utf8', timeout: 120000,
    env: { ...process.env, RLHF_WASM_THREADS: threads, TMPDIR: tmpdir, RLHF_BACKEND: 'wasm', ...env },
  });
  // A hang (worker threads keeping the event loop alive) shows up as the timeout's SIGTERM.
  if (r.status !== 0) throw new Error(`child (RLHF_WASM_THREADS=${threads}) failed: status ${r.status} signal ${r.signal}\n${r.stderr}`);
  // A start that never finished with nothing keeping the process alive ends it with status 0 and no output.
  if (r.stdout.trim() === '') throw new Error(`child (RLHF_WASM_THREADS=${threads}) exited 0 without a result (its wasm start never finished)\n${r.stderr}`);
  const o = JSON.parse(r.stdout.trim().split('\n').pop()!) as Omit<ChildOut, 'grads'> & { grads: string };
  const b = Buffer.from(o.grads, 'base64');
  return { ...o, grads: new Float32Array(b.buffer, b.byteOffset, b.length / 4) };
}

describe('wantedWasmThreads', () => {
  it('defaults to the CPUs available, capped at the pool size', () => {
    expect(wantedWasmThreads({})).toBe(Math.min(os.availableParallelism(), WASM_POOL_SIZE));
    expect(wantedWasmThreads({ RLHF_WASM_THREADS: '' })).toBe(Math.min(os.availableParallelism(), WASM_POOL_SIZE));
  });

  it('takes RLHF_WASM_THREADS, capped at the CPU count and the pool size', () => {
    const cpus = os.availableParallelism();
    expect(wantedWasmThreads({ RLHF_WASM_THREADS: '1' })).toBe(1);
    expect(wantedWasmThreads({ RLHF_WASM_THREADS: '2' })).toBe(Math.min(2, cpus));
    expect(wantedWasmThreads({ RLHF_WASM_THREADS: '64' })).toBe(Math.min(cpus, WASM_POOL_SIZE));
  });

  it.each(['0', '-2', '1.5', 'two'])('rejects RLHF_WASM_THREADS=%s, naming the variable', (v) => {
    expect(() => wantedWasmThreads({ RLHF_WASM_THREADS: v })).toThrow(`RLHF_WASM_THREADS must be a positive integer (1 = single-threaded wasm), got "${v}"`);
  });
});

describe('wasmStartTimeoutSeconds', () => {
  it('defaults to 30 s and takes RLHF_WASM_START_TIMEOUT_S', () => {
    expect([wasmStartTimeoutSeconds({}), wasmStartTimeoutSeconds({ RLHF_WASM_START_TIMEOUT_S: '2.5' })]).toEqual([30, 2.5]);
  });

  it.each(['0', '-1', 'soon'])('rejects RLHF_WASM_START_TIMEOUT_S=%s, naming the variable', (v) => {
    expect(() => wasmStartTimeoutSeconds({ RLHF_WASM_START_TIMEOUT_S: v })).toThrow(`RLHF_WASM_START_TIMEOUT_S must be a positive number of seconds, got "${v}"`);
  });
});

/** withWasmThreads with a stand-in for the loader: it builds Blobs and asks for object URLs as the real one does. */
describe('withWasmThreads', () => {
  const stubWasm = { setThreadsCount: () => {} };
  const globals = () => ({ blob: globalThis.Blob, create: URL.createObjectURL, cpus: (require('os') as typeof os).cpus });
  let before: ReturnType<typeof globals>;
  beforeEach(() => {
    before = globals();
  });
  afterEach(() => {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    expect(globals()).toEqual(before); // Blob, createObjectURL and os.cpus put back
  });

  it('writes each script once and whole, and gives every worker the same file', async () => {
    const stat = (f: string) => fs.statSync(f, { bigint: true });
    const seen = await withWasmThreads(stubWasm, 2, async () => {
      const B = globalThis.Blob;
      new B(['var WasmBackendModuleThreadedSimd = function () {}']);
      const first = URL.createObjectURL(new B(['/* worker body */']) as never);
      const firstStat = stat(first);
      await new Promise((r) => setTimeout(r, 20));
      // The loader asks again for each of the pool's workers while earlier ones may be reading the file.
      const again = URL.createObjectURL(new B(['/* worker body */']) as never);
      const dir = path.dirname(first);
      return { first, again, firstStat, againStat: stat(again), text: fs.readFileSync(again, 'utf8'), module: fs.readFileSync(path.join(dir, 'module.js'), 'utf8'), files: fs.readdirSync(dir).sort() };
    });
    expect(seen.again).toBe(seen.first);
    // Not rewritten: same file (inode) and not modified since the first request.
    expect(seen.againStat.ino).toBe(seen.firstStat.ino);
    expect(seen.againStat.mtimeNs).toBe(seen.firstStat.mtimeNs);
    expect(seen.text.endsWith('/* worker body */')).toBe(true);
    expect(seen.text).toContain(JSON.stringify(path.join(path.dirname(seen.first), 'module.js')));
    expect(seen.module).toBe('var WasmBackendModuleThreadedSimd = function () {}');
    expect(seen.files).toEqual(['module.js', path.basename(seen.first)]); // no half-written leftovers
    expect(fs.existsSync(path.dirname(seen.first))).toBe(false); // removed once the start finished
  });

  it('abandons a start that takes longer than the timeout, naming it', async () => {
    const t0 = Date.now();
    await expect(withWasmThreads(stubWasm, 2, () => new Promise(() => {}), 0.05)).rejects.toThrow('it did not start within 0.05 s (RLHF_WASM_START_TIMEOUT_S)');
    expect(Date.now() - t0).toBeLessThan(10000);
  });
});

describe('threaded wasm in a child process', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wasm-threads-test-'));
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('this Node supports wasm threads', () => {
    expect(nodeSupportsWasmThreads()).toBe(true);
  });

  // With one usable CPU, RLHF_WASM_THREADS=2 is capped to 1 thread: the case would not test threads at all.
  testIf(cpus(2), 'runs with 2 threads, gives the single-threaded gradients bit for bit, and leaves no files', () => {
    const one = runChild('1', tmp);
    const two = runChild('2', tmp);
    expect(one.threads).toBe(1);
    expect(two.threads).toBe(2);
    expect(two.threadsNote).toBeNull();
    expect(two.loss).toBe(one.loss);
    expect(two.grads.length).toBe(one.grads.length);
    let differing = 0;
    for (let i = 0; i < one.grads.length; i++) if (one.grads[i] !== two.grads[i]) differing++;
    expect(differing).toBe(0);
    expect(fs.readdirSync(tmp)).toEqual([]); // the worker scripts were deleted after start-up
  }, 240000);

  it('falls back to one thread when the threaded start takes longer than RLHF_WASM_START_TIMEOUT_S, and leaves no files', () => {
    const single = runChild('1', tmp);
    const out = runChild('2', tmp, { RLHF_WASM_START_TIMEOUT_S: '0.001' });
    expect(out.threads).toBe(1);
    expect(out.threadsNote).toBe('the threaded wasm build failed (it did not start within 0.001 s (RLHF_WASM_START_TIMEOUT_S)); set RLHF_WASM_THREADS=1 to skip trying');
    expect(out.loss).toBe(single.loss);
    expect(fs.readdirSync(tmp)).toEqual([]); // the abandoned start's scripts were removed at exit
  }, 240000);

  it('falls back to one thread, with the reason, when the threaded build cannot start', () => {
    const out = runChild('2', path.join(tmp, 'does-not-exist'));
    expect(out.threads).toBe(1);
    expect(out.threadsNote).toMatch(/^the threaded wasm build failed \(ENOENT.*\); set RLHF_WASM_THREADS=1 to skip trying$/);
    expect(Number.isFinite(out.loss)).toBe(true);
  }, 120000);
});
