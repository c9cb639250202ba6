/**
 * Where a benchmark step's time goes: per-kernel totals (tf.profile) of one step of one kind, plus
 * plain step times, for optimisation work on src/model and src/backend.
 *
 *   node bench/run-ts.js bench/profile-step.ts --work-dir /tmp/bw --model 15m [--kind dpo] [--backend tensorflow]
 *        [--steps 3] [--batch 8] [--seq 256] [--prompt N (default seq/4)] [--shapes-of BatchMatMul] [--top 20] [--layout packed|padded]
 *
 * --work-dir (not --dir: node-pre-gyp, which loads tfjs-node's addon, reads --dir from argv as its --directory) is a `rlhf bench --work-dir` folder (it holds <model>-policy and <model>-reward).
 * --shapes-of names the kernel whose calls are also totalled by input shapes (default BatchMatMul; e.g. Transpose).
 * --top is how many kernels (by total time) to list. With RLHF_NATIVE_OPS=0 the tensorflow backend runs plain TF.js ops.
 * Does NOT: compare with TRL (rlhf bench does) or assert anything.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../src/backend';
import { median } from '../src/bench/stats';
import { prepareStep, type StepKind } from '../src/bench/steps';
import { makeWorkload } from '../src/bench/workload';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : dflt;
}

async function main(): Promise<void> {
  await initBackend(arg('backend', 'tensorflow') as BackendName);
  const dir = arg('work-dir', '/tmp/bw');
  const model = arg('model', '15m');
  const kind = arg('kind', 'dpo') as StepKind;
  const w = makeWorkload({ vocab: 512, batch: Number(arg('batch', '8')), seqLen: Number(arg('seq', '256')), promptLen: process.argv.includes('--prompt') ? Number(arg('prompt', '64')) : undefined, seed: 1234, layout: arg('layout', 'packed') as 'packed' | 'padded' });
  const step = await prepareStep(kind, { policy: path.join(dir, `${model}-policy`), reward: path.join(dir, `${model}-reward`) }, w);
  await step.run();
  const ms: number[] = [];
  for (let i = 0; i < Number(arg('steps', '3')); i++) {
    const t0 = performance.now();
    await step.run();
    ms.push(Math.round(performance.now() - t0));
  }
  const prof = await tf.profile(() => step.run());
  const byKernel = new Map<string, { ms: number; n: number }>();
  for (const k of prof.kernels) {
    const e = byKernel.get(k.name) ?? { ms: 0, n: 0 };
    e.ms += Number(k.kernelTimeMs);
    e.n += 1;
    byKernel.set(k.name, e);
  }
  // One kernel's calls by operand shapes (inputShapes), slowest first: e.g. which matmuls cost the most.
  const shapesOf = arg('shapes-of', 'BatchMatMul');
  const byShape = new Map<string, { ms: number; n: number }>();
  for (const k of prof.kernels) {
    if (k.name !== shapesOf) continue;
    const key = `${JSON.stringify(k.inputShapes)}`;
    const e = byShape.get(key) ?? { ms: 0, n: 0 };
    e.ms += Number(k.kernelTimeMs);
    e.n += 1;
    byShape.set(key, e);
  }
  const shapes = [...byShape].sort((a, b) => b[1].ms - a[1].ms).slice(0, 16).map(([k, e]) => `${k}:${e.ms.toFixed(0)}ms/${e.n}`);
  const total = [...byKernel.values()].reduce((s, e) => s + e.ms, 0);
  const top = [...byKernel].sort((a, b) => b[1].ms - a[1].ms).slice(0, Number(arg('top', '20'))).map(([k, e]) => `${k}:${e.ms.toFixed(0)}ms/${e.n}`);
  console.log(JSON.stringify({ kind, model, ms, median_ms: median(ms), tok_s: Math.round(step.tokens / (median(ms) / 1000)), kernels: prof.kernels.length, kernel_ms: Math.round(total), top, shapes }));
  step.dispose();
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : e}\n`);
  process.exit(1);
});
