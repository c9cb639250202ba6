/**
 * Step time (forward + backward) of a small transformer-like stack on one backend, with the plain TF.js
 * products ("before") and with src/backend/ops.ts's routing ("after"), to show what the wasm routing buys.
 *
 *   node bench/run-ts.js bench/wasm-ops.ts [--backend wasm] [--steps 5] [--dim 128] [--heads 4] [--seq 128] [--batch 4]
 *
 * Does: time three variants in one process: baseline (tf.matMul with transpose flags everywhere),
 * linear (ops.linear, attention still tf.matMul), all (ops.linear + ops.batchMatMul). Prints one JSON
 * line on stdout. Does NOT: assert anything (unit tests do) or model a real Llama (bench/backends.ts does).
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendRequest } from '../src/backend';
import { linear, batchMatMul } from '../src/backend/ops';

type Lin = (x: tf.Tensor, w: tf.Tensor) => tf.Tensor;
type Bmm = (a: tf.Tensor, b: tf.Tensor, ta?: boolean, tb?: boolean) => tf.Tensor;

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : dflt;
}

const dim = Number(arg('dim', '128'));
const T = Number(arg('seq', '128'));
const B = Number(arg('batch', '4'));
const heads = Number(arg('heads', '4'));
const layers = 2;
const vocab = 256;
const hd = dim / heads;

function makeWeights(): Record<string, tf.Variable> {
  const w: Record<string, tf.Variable> = {};
  const v = (name: string, shape: number[]) => { w[name] = tf.variable(tf.randomNormal(shape, 0, 0.02, 'float32', 7), true, name); };
  v('emb', [vocab, dim]);
  for (let l = 0; l < layers; l++) {
    for (const p of ['q', 'k', 'v', 'o']) v(`${l}.${p}`, [dim, dim]);
    v(`${l}.up`, [4 * dim, dim]);
    v(`${l}.down`, [dim, 4 * dim]);
  }
  return w;
}

function loss(w: Record<string, tf.Variable>, ids: tf.Tensor2D, targets: tf.Tensor2D, lin: Lin, bmm: Bmm): tf.Scalar {
  let x = tf.gather(w.emb, ids); // [B, T, dim]
  const heads4 = (t: tf.Tensor) => t.reshape([B, T, heads, hd]).transpose([0, 2, 1, 3]); // [B, H, T, hd]
  const causal = tf.linalg.bandPart(tf.ones([T, T]), -1, 0).sub(1).mul(1e9);
  for (let l = 0; l < layers; l++) {
    const q = heads4(lin(x, w[`${l}.q`]));
    const k = heads4(lin(x, w[`${l}.k`]));
    const v = heads4(lin(x, w[`${l}.v`]));
    const p = tf.softmax(bmm(q, k, false, true).mul(1 / Math.sqrt(hd)).add(causal));
    const a = bmm(p, v).transpose([0, 2, 1, 3]).reshape([B, T, dim]);
    x = x.add(lin(a, w[`${l}.o`]));
    x = x.add(lin(tf.relu(lin(x, w[`${l}.up`])), w[`${l}.down`]));
  }
  const logits = lin(x, w.emb).reshape([B * T, vocab]);
  return tf.losses.softmaxCrossEntropy(tf.oneHot(targets.reshape([-1]) as tf.Tensor1D, vocab), logits) as tf.Scalar;
}

/** Times the variants round-robin (A, B, C, A, B, C, ...) so that load from other processes hits all alike. */
async function timeVariants(variants: [Lin, Bmm][], steps: number): Promise<{ ms: number; loss: number }[]> {
  const w = makeWeights();
  const ids = tf.randomUniform([B, T], 0, vocab, 'int32', 1) as tf.Tensor2D;
  const targets = tf.randomUniform([B, T], 0, vocab, 'int32', 2) as tf.Tensor2D;
  const times: number[][] = variants.map(() => []);
  const losses: number[] = variants.map(() => NaN);
  for (let s = 0; s <= steps; s++) { // step 0 warms up
    for (const [i, [lin, bmm]] of variants.entries()) {
      const t0 = performance.now();
      const { value, grads } = tf.variableGrads(() => loss(w, ids, targets, lin, bmm));
      await Promise.all(Object.values(grads).map((g) => g.data()));
      losses[i] = (await value.data())[0];
      if (s > 0) times[i].push(performance.now() - t0);
      tf.dispose([value, grads]);
    }
  }
  tf.dispose([ids, targets, Object.values(w)]);
  return times.map((t, i) => ({ ms: [...t].sort((a, b) => a - b)[Math.floor(t.length / 2)], loss: losses[i] }));
}

async function main(): Promise<void> {
  const info = await initBackend(arg('backend', 'wasm') as BackendRequest);
  const steps = Number(arg('steps', '5'));
  const plainLin: Lin = (x, w) => tf.tidy(() => {
    const s = x.shape;
    return tf.matMul(x.reshape([-1, s[s.length - 1]]), w, false, true).reshape([...s.slice(0, -1), w.shape[0]]);
  });
  const plainBmm: Bmm = (a, b, ta, tb) => tf.matMul(a, b, ta, tb);
  const [baseline, linOnly, all] = await timeVariants([[plainLin, plainBmm], [linear, plainBmm], [linear, batchMatMul]], steps);
  process.stdout.write(`${JSON.stringify({
    backend: info.name, dim, seq: T, batch: B, layers, heads, steps,
    median_step_ms: { baseline: +baseline.ms.toFixed(1), linear: +linOnly.ms.toFixed(1), linear_and_bmm: +all.ms.toFixed(1) },
    speedup: +(baseline.ms / all.ms).toFixed(2),
    loss: { baseline: baseline.loss, linear: linOnly.loss, linear_and_bmm: all.loss },
  })}\n`);
}

main().catch((e) => { process.stderr.write(`${e instanceof Error ? e.message : e}\n`); process.exit(1); });
