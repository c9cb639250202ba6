/**
 * Multi-threaded wasm (src/backend/wasm-threads.ts): RLHF_WASM_THREADS parsing, and in child processes
 * (a backend initialises once per process) that the threaded build starts with the asked-for threads,
 * computes bit-for-bit what the single-threaded build computes, cleans up its temporary scripts, lets the
 * process exit on its own, and falls back to one thread, saying why, when it cannot start.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { nodeSupportsWasmThreads, wantedWasmThreads, WASM_POOL_SIZE } from '../../src/backend/wasm-threads';

const ROOT = path.resolve(__dirname, '../..');
const CHILD = path.join(__dirname, 'helpers/wasm-threads-child.ts');

interface ChildOut { threads: number; threadsNote: string | null; loss: number; grads: Float32Array }

function runChild(threads: string, tmpdir: string): ChildOut {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bench/run-ts.js'), CHILD], {
    cwd: ROOT, encoding: 'utf8', timeout: 120000,
    env: { ...process.env, RLHF_WASM_THREADS: threads, TMPDIR: tmpdir, RLHF_BACKEND: 'wasm' },
  });
  // A hang (worker threads keeping the event loop alive) shows up as the timeout's SIGTERM.
  if (r.status !== 0) throw new Error(`child (RLHF_WASM_THREADS=${threads}) failed: status ${r.status} signal ${r.signal}\n${r.stderr}`);
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

describe('threaded wasm in a child process', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wasm-threads-test-'));
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('this Node supports wasm threads', () => {
    expect(nodeSupportsWasmThreads()).toBe(true);
  });

  it('runs with 2 threads, gives the single-threaded gradients bit for bit, and leaves no files', () => {
    const one = runChild('1', tmp);
    const two = runChild('2', tmp);
    expect(one.threads).toBe(1);
    expect(two.threads).toBe(Math.min(2, os.availableParallelism()));
    expect(two.threadsNote).toBeNull();
    expect(two.loss).toBe(one.loss);
    expect(two.grads.length).toBe(one.grads.length);
    let differing = 0;
    for (let i = 0; i < one.grads.length; i++) if (one.grads[i] !== two.grads[i]) differing++;
    expect(differing).toBe(0);
    expect(fs.readdirSync(tmp)).toEqual([]); // the worker scripts were deleted after start-up
  }, 240000);

  it('falls back to one thread, with the reason, when the threaded build cannot start', () => {
    const out = runChild('2', path.join(tmp, 'does-not-exist'));
    expect(out.threads).toBe(1);
    expect(out.threadsNote).toMatch(/^the threaded wasm build failed \(ENOENT.*\); set RLHF_WASM_THREADS=1 to skip trying$/);
    expect(Number.isFinite(out.loss)).toBe(true);
  }, 120000);
});
