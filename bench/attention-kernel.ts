/**
 * Times the fused attention kernels alone (native/rlhf_ops.cc: RlhfSegmentAttention(+Grad) on the benchmark's
 * packed pairs, RlhfCausalAttention(+Grad) on its 2B padded rows), outside any model: for kernel work.
 *
 *   node bench/run-ts.js bench/attention-kernel.ts [--H 8] [--kvH 4] [--d 8] [--batch 8] [--seq 256] [--prompt N (default seq/4)] [--reps 20]
 *        [--kernel segment|causal] [--dump file.bin]
 *
 * Prints one JSON line: median and least wall ms and mean CPU ms per forward and per backward call, and the pool's thread count
 * (RLHF_NATIVE_THREADS sets it). --dump writes the outputs (o, lse, dq, dk, dv as float32) for comparing builds.
 * Does NOT: assert anything, or time TF.js's own ops.
 */
import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { nativeOpsStatus } from '../src/backend/native-ops';
import { median } from '../src/bench/stats';
import { makeWorkload, sharedPairBatch } from '../src/bench/workload';
import { layoutTensor } from '../src/model/packed';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : dflt;
}

interface Backend {
  binding: { TF_ATTR_FLOAT: number };
  executeMultipleOutputs(name: string, attrs: { name: string; type: number; value: unknown }[], inputs: tf.TensorInfo[], n: number): tf.Tensor[];
}

async function main(): Promise<void> {
  await initBackend('tensorflow');
  const st = nativeOpsStatus();
  if (!st?.loaded) throw new Error(`bench/attention-kernel.ts: the fused ops are not loaded (${st?.reason ?? 'RLHF_NATIVE_OPS=0?'}); build them: node scripts/build-native-ops.js`);
  const H = Number(arg('H', '8')), kvH = Number(arg('kvH', '4')), d = Number(arg('d', '8')), reps = Number(arg('reps', '20'));
  const kernel = arg('kernel', 'segment');
  const w = makeWorkload({ vocab: 512, batch: Number(arg('batch', '8')), seqLen: Number(arg('seq', '256')), promptLen: process.argv.includes('--prompt') ? Number(arg('prompt', '64')) : undefined, seed: 1234 });
  const packed = sharedPairBatch(w);
  const [B, T] = kernel === 'segment' ? [packed.rows, packed.seqLen] : [2 * w.batch, w.seqLen];
  const be = tf.engine().backend as unknown as Backend;
  const q = tf.randomNormal([B, T, H, d], 0, 1, 'float32', 1);
  const k = tf.randomNormal([B, T, kvH, d], 0, 1, 'float32', 2);
  const v = tf.randomNormal([B, T, kvH, d], 0, 1, 'float32', 3);
  const dO = tf.randomNormal([B, T, H, d], 0, 1, 'float32', 4);
  const ang = tf.randomUniform([T, d / 2], 0, 6.28, 'float32', 5);
  const [cos, sin] = [tf.cos(ang), tf.sin(ang)];
  const extra = kernel === 'segment' ? [layoutTensor(packed)] : [];
  const name = kernel === 'segment' ? 'RlhfSegmentAttention' : 'RlhfCausalAttention';
  const attrs = [{ name: 'scale', type: be.binding.TF_ATTR_FLOAT, value: 1 / Math.sqrt(d) }];
  const fwd = () => be.executeMultipleOutputs(name, attrs, [q, k, v, cos, sin, ...extra], 2);
  const [o, lse] = fwd();
  const bwd = () => be.executeMultipleOutputs(`${name}Grad`, attrs, [q, k, v, cos, sin, ...extra, o, lse, dO], 3);
  // Median and least wall ms per call, and the process's mean CPU ms per call (all threads: on a busy machine, with
  // RLHF_NATIVE_THREADS=1, the work done rather than the time waited for a core).
  const time = (f: () => tf.Tensor[]) => {
    const ms: number[] = [];
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      const out = f();
      ms.push(performance.now() - t0);
      tf.dispose(out);
    }
    const cpu = process.cpuUsage(cpu0);
    return [Number(median(ms).toFixed(2)), Number(Math.min(...ms).toFixed(2)), Number(((cpu.user + cpu.system) / 1000 / reps).toFixed(2))];
  };
  tf.dispose(bwd());
  const [fwdMs, fwdMin, fwdCpu] = time(fwd), [bwdMs, bwdMin, bwdCpu] = time(bwd);
  const dump = arg('dump', '');
  if (dump) {
    const grads = bwd();
    const parts = [o, lse, ...grads].map((t) => Buffer.from((t.dataSync() as Float32Array).buffer));
    fs.writeFileSync(dump, Buffer.concat(parts));
  }
  console.log(JSON.stringify({ kernel, B, T, H, kvH, d, threads: st.threads, fwd_ms: fwdMs, bwd_ms: bwdMs, fwd_min_ms: fwdMin, bwd_min_ms: bwdMin, fwd_cpu_ms: fwdCpu, bwd_cpu_ms: bwdCpu }));
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : e}\n`);
  process.exit(1);
});
