/**
 * Forward+backward throughput of the ~15M-parameter Llama (PRESETS['15m'], vocab 512) on each backend,
 * measured in one run so the numbers are comparable:
 *
 *   node bench/run-ts.js bench/backends.ts [--backends tensorflow,wasm,cpu] [--steps 3] [--cpu-steps 1]
 *                                          [--batch 8] [--seq 256]
 *
 * Does: one warm-up step (not on cpu, where one step takes minutes), then the median of timed steps of
 * `variableGrads(next-token cross-entropy)` over all weights; tokens/s = batch * seq / step time.
 * Progress on stderr, one JSON object on stdout. Does NOT: apply an optimiser or assert anything.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../src/backend';
import { PRESETS } from '../src/model/families';
import { parseLlamaConfig } from '../src/model/families/llama';
import { LanguageModel } from '../src/model/language-model';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : dflt;
}

const B = Number(arg('batch', '8'));
const T = Number(arg('seq', '256'));
const config = parseLlamaConfig({ ...PRESETS['15m'], vocab_size: 512 });

function log(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

/** Mean next-token cross-entropy over the batch. */
function loss(model: LanguageModel, ids: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const logp = tf.logSoftmax(model.logits(ids).slice([0, 0, 0], [B, T - 1, config.vocab_size]));
    const target = tf.oneHot(ids.slice([0, 1], [B, T - 1]), config.vocab_size);
    return logp.mul(target).sum(-1).mean().neg() as tf.Scalar;
  });
}

interface Result { backend: string; version: string; threads: number; step_ms: number[]; tokens_per_s: number; loss: number }

async function measure(backend: BackendName, steps: number, warmup: boolean): Promise<Result> {
  const info = await initBackend(backend);
  const model = LanguageModel.random(config, 42);
  const ids = tf.tensor2d(Array.from({ length: B * T }, (_, i) => (i * 7919 + 13) % config.vocab_size), [B, T], 'int32');
  const times: number[] = [];
  let lastLoss = NaN;
  for (let s = warmup ? -1 : 0; s < steps; s++) {
    const t0 = performance.now();
    const { value, grads } = tf.variableGrads(() => loss(model, ids), model.variables());
    await Promise.all(Object.values(grads).map((g) => g.data())); // wait for the whole backward pass
    lastLoss = (await value.data())[0];
    const ms = performance.now() - t0;
    tf.dispose([value, grads]);
    log(`${backend} step ${s < 0 ? 'warm-up' : s + 1}: ${(ms / 1000).toFixed(2)} s (loss ${lastLoss.toFixed(4)})`);
    if (s >= 0) times.push(ms);
  }
  ids.dispose();
  model.dispose();
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  return {
    backend: info.name, version: info.version, threads: info.threads,
    step_ms: times.map((t) => Math.round(t)), tokens_per_s: Math.round((B * T) / (median / 1000)), loss: lastLoss,
  };
}

async function main(): Promise<void> {
  const wanted = arg('backends', 'tensorflow,wasm,cpu').split(',') as BackendName[];
  const steps = Number(arg('steps', '3'));
  const cpuSteps = Number(arg('cpu-steps', '1'));
  const results: Result[] = [];
  const skipped: Record<string, string> = {};
  for (const b of wanted) {
    try {
      results.push(await measure(b, b === 'cpu' ? cpuSteps : steps, b !== 'cpu'));
    } catch (e) {
      skipped[b] = e instanceof Error ? e.message : String(e);
      log(`${b}: skipped (${skipped[b]})`);
    }
  }
  const counter = LanguageModel.random(config, 1);
  const nParams = counter.numParameters();
  counter.dispose();
  const ref = results.find((r) => r.backend === 'cpu');
  process.stdout.write(`${JSON.stringify({
    model: { preset: '15m', params: nParams, vocab: config.vocab_size, batch: B, seq: T },
    results: results.map((r) => ({ ...r, vs_cpu: ref ? +(r.tokens_per_s / ref.tokens_per_s).toFixed(1) : undefined })),
    skipped,
  })}\n`);
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.message : e}\n`);
  process.exit(1);
});
