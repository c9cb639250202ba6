/**
 * How the LM head's chunk size (model/logprobs.ts headLogProbs) trades time for memory: forward + backward of
 * the chunked head + log-softmax + pick over N scored rows, per chunk size, on the active backend.
 *
 *   node bench/run-ts.js bench/head-chunk.ts [--backend tensorflow] [--n 6144] [--d 576] [--vocab 49152]
 *        [--chunks 85,341,682,1365] [--reps 3]
 *
 * Prints one JSON line per chunk size: median ms of a forward + backward and the head's GFLOP/s (4 products of
 * N·D·V: the logits, their recomputation in the backward, dh and dw). Does NOT: assert anything.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendRequest } from '../src/backend';
import { headLogProbs } from '../src/model/logprobs';
import { median } from '../src/bench/stats';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : dflt;
}

async function main(): Promise<void> {
  await initBackend(arg('backend', 'tensorflow') as BackendRequest);
  const [N, D, V, reps] = ['n', 'd', 'vocab', 'reps'].map((k, i) => Number(arg(k, ['6144', '576', '49152', '3'][i])));
  const h = tf.randomNormal([N, D]) as tf.Tensor2D;
  const w = tf.variable(tf.randomNormal([V, D], 0, 0.02)) as tf.Variable<tf.Rank.R2>;
  const targets = Int32Array.from({ length: N }, (_, i) => (i * 7919) % V);
  for (const chunk of arg('chunks', '85,341,682,1365').split(',').map(Number)) {
    const step = async () => {
      const { value, grads } = tf.variableGrads(() => headLogProbs(h, w, targets, chunk).sum() as tf.Scalar, [w]);
      await value.data();
      await grads[w.name].data();
      tf.dispose([value, ...Object.values(grads)]);
    };
    await step();
    const ms: number[] = [];
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      await step();
      ms.push(performance.now() - t0);
    }
    const m = median(ms);
    console.log(JSON.stringify({ chunk, N, D, V, median_ms: Math.round(m), head_gflops: Math.round((4 * 2 * N * D * V) / (m / 1000) / 1e9), chunk_mib: Math.round((chunk * V * 4) / 2 ** 20) }));
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
