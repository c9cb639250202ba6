/**
 * How the LM head's chunk size (model/logprobs.ts headLogProbs) trades time for memory: forward + backward of
 * the chunked head + log-softmax + pick over N scored rows, per chunk size, on the active backend.
 *
 *   node bench/run-ts.js bench/head-chunk.ts [--backend tensorflow] [--n 6144] [--d 576] [--vocab 49152]
 *        [--chunks 85,341,682,1365] [--keep FLOATS (default HEAD_KEEP_LOGITS; 0: recompute every chunk)] [--reps 3]
 *
 * Prints one JSON line per chunk size: median ms of a forward + backward, the head's products run (3 of N·D·V
 * each for a chunk whose logits are kept: the logits, dh and dw; 4 for one recomputed in the backward) and the
 * GFLOP/s they make. With RLHF_NATIVE_OPS=0 the log-softmax and pick run as TF.js ops. Does NOT: assert anything.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendRequest } from '../src/backend';
import { HEAD_KEEP_LOGITS, headLogProbs } from '../src/model/logprobs';
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
  const keep = Number(arg('keep', String(HEAD_KEEP_LOGITS)));
  for (const chunk of arg('chunks', '85,341,682,1365').split(',').map(Number)) {
    const step = async () => {
      const { value, grads } = tf.variableGrads(() => headLogProbs(h, w, targets, { chunkRows: chunk, keepLogits: keep }).sum() as tf.Scalar, [w]);
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
    const chunks = Math.ceil(N / chunk);
    const kept = Math.min(chunks, Math.floor(keep / (chunk * V)));
    const products = (3 * kept + 4 * (chunks - kept)) / chunks; // per chunk, on average
    console.log(JSON.stringify({ chunk, N, D, V, kept_chunks: kept, chunks, median_ms: Math.round(m), head_gflops: Math.round((products * 2 * N * D * V) / (m / 1000) / 1e9), chunk_mib: Math.round((chunk * V * 4) / 2 ** 20) }));
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
