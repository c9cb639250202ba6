/**
 * What the wasm kernel patches (src/backend/wasm-patches.ts, wasm-matmul.ts) buy: each patched op on the
 * shapes of the 15m model's DPO step (16 rows of 256 tokens, dim 288, 6 heads of 48, MLP 768), timed with
 * the patched kernel and with the stock tfjs-backend-wasm kernel swapped back in, in one process.
 *
 *   node bench/run-ts.js bench/wasm-kernels.ts [--reps 5]
 *
 * Prints one JSON line: per case the best-of-reps milliseconds, stock and patched, and the speed-up.
 * Does NOT: assert anything (test/backend does), or time whole steps (rlhf bench does).
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { stockWasmKernel } from '../src/backend/wasm-patches';

const reps = Number(process.argv[process.argv.indexOf('--reps') + 1] || 5);

function best(f: () => tf.Tensor | tf.Tensor[]): number {
  let ms = Infinity;
  for (let i = 0; i < reps + 1; i++) {
    const t0 = performance.now();
    tf.tidy(() => {
      const out = f();
      (Array.isArray(out) ? out[0] : out).dataSync();
    });
    if (i > 0) ms = Math.min(ms, performance.now() - t0); // the first run warms up
  }
  return ms;
}

/** Runs f with the stock kernel `name` registered instead of the patched one. */
function withStock(name: string, f: () => number): number {
  const stock = stockWasmKernel(name);
  const patched = tf.getKernel(name, 'wasm');
  if (!stock || !patched) throw new Error(`no patched ${name} kernel on wasm`);
  tf.unregisterKernel(name, 'wasm');
  tf.registerKernel(stock);
  try {
    return f();
  } finally {
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(patched);
  }
}

async function main(): Promise<void> {
  await initBackend('wasm');
  const r = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed);
  const x = r([4096, 288], 1);
  const w = r([768, 288], 2);
  const dy = r([4096, 768], 3);
  const q = r([16, 6, 256, 48], 4);
  const p = r([16, 6, 256, 256], 5);
  const heads = r([16, 256, 6, 48], 6);
  const table = r([512, 288], 7);
  const ids = tf.tensor2d(Array.from({ length: 16 * 256 }, (_, i) => (i * 31) % 512), [16, 256], 'int32');
  const cases: [string, string, () => tf.Tensor | tf.Tensor[]][] = [
    ['BatchMatMul', 'linear x·wᵀ [4096,288]·[768,288]ᵀ', () => tf.matMul(x, w, false, true)],
    ['BatchMatMul', 'weight grad dyᵀ·x [4096,768]ᵀ·[4096,288]', () => tf.matMul(dy, x, true, false)],
    ['BatchMatMul', 'scores q·kᵀ [96 × 256,48]', () => tf.matMul(q, q, false, true)],
    ['BatchMatMul', 'P·v [96 × 256,256]·[256,48]', () => tf.matMul(p, q)],
    ['BatchMatMul', 'dk = dSᵀ·q [96 × 256,256]ᵀ·[256,48]', () => tf.matMul(p, q, true, false)],
    ['Transpose', 'heads [16,256,6,48] -> [16,6,256,48]', () => heads.transpose([0, 2, 1, 3])],
    ['Transpose', '2-D [4096,288]', () => x.transpose()],
    ['SplitV', 'RoPE halves of [16,256,6,48]', () => tf.split(heads, 2, 3)],
    ['Slice', 'key prefix [16,6,0:128,48]', () => q.slice([0, 0, 0, 0], [16, 6, 128, 48])],
    ['GatherV2', 'embedding [512,288] by [16,256]', () => tf.gather(table, ids)],
    ['Identity', 'clone [16,6,256,256]', () => tf.clone(p)],
  ];
  const results = cases.map(([kernel, label, f]) => {
    const patched = best(f);
    const stock = withStock(kernel, () => best(f));
    return { kernel, case: label, stock_ms: +stock.toFixed(2), patched_ms: +patched.toFixed(2), speedup: +(stock / patched).toFixed(1) };
  });
  const threads = (require('@tensorflow/tfjs-backend-wasm') as { getThreadsCount(): number }).getThreadsCount();
  console.log(JSON.stringify({ backend: 'wasm', threads, reps, results }));
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : e}\n`);
  process.exit(1);
});
