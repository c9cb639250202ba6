/**
 * Forward+backward speed of the Llama model: tokens/s of one gradient computation of the
 * next-token loss (mean token log-prob) over a [batch, seq] batch, on one backend.
 *
 *   node bench/run-ts.js bench/model-step.ts [--backend auto|tensorflow|wasm|cpu] [--preset 15m]
 *        [--vocab 512] [--seq 256] [--batch 8] [--steps 3] [--profile]
 *
 * Does: time warm steps (after one warm-up step) of forward alone and forward+backward; prints one
 * JSON line on stdout (progress on stderr); --profile adds TF.js's per-kernel time of one step.
 * Does NOT: run an optimizer (the trainer bench does) or assert anything.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendRequest } from '../src/backend';
import { LLAMA_PRESETS, type LlamaConfig } from '../src/model/families/llama';
import { LanguageModel } from '../src/model/language-model';
import { tokenLogProbs } from '../src/model/logprobs';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : dflt;
}

async function main(): Promise<void> {
  const info = await initBackend(arg('backend', 'auto') as BackendRequest);
  const preset = arg('preset', '15m');
  const config: LlamaConfig = { ...LLAMA_PRESETS[preset], vocab_size: Number(arg('vocab', '512')), bos_token_id: 1, eos_token_id: 2, pad_token_id: 0 };
  const [B, T, steps] = [Number(arg('batch', '8')), Number(arg('seq', '256')), Number(arg('steps', '3'))];
  const model = LanguageModel.random(config, 0);
  const ids = tf.tidy(() => tf.randomUniform([B, T], 0, config.vocab_size, 'int32', 1)) as tf.Tensor2D;
  const mask = tf.ones([B, T]) as tf.Tensor2D;
  const loss = () => tokenLogProbs(model.logits(ids, mask), ids).mean().neg() as tf.Scalar;

  const forward = async () => {
    const l = tf.tidy(loss);
    await l.data();
    l.dispose();
  };
  const step = async () => {
    const { value, grads } = tf.variableGrads(loss, model.variables());
    await Promise.all([value.data(), ...Object.values(grads).map((g) => g.data())]);
    tf.dispose([value, grads]);
  };
  const time = async (fn: () => Promise<void>, n: number) => {
    await fn(); // warm-up: kernels, kept RoPE/mask tables
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      await fn();
      process.stderr.write('.');
    }
    return (performance.now() - t0) / n;
  };
  process.stderr.write(`${info.name} ${info.version}, ${(model.numParameters() / 1e6).toFixed(2)}M params, batch ${B} x seq ${T}\n`);
  const fwdMs = await time(forward, steps);
  const stepMs = await time(step, steps);
  process.stderr.write('\n');
  const result: Record<string, unknown> = {
    backend: info.name, version: info.version, threads: info.threads, preset, params: model.numParameters(), batch: B, seq: T,
    forward_ms: +fwdMs.toFixed(1), forward_backward_ms: +stepMs.toFixed(1),
    forward_tokens_per_s: Math.round((B * T) / (fwdMs / 1000)), forward_backward_tokens_per_s: Math.round((B * T) / (stepMs / 1000)),
    num_tensors_after: tf.memory().numTensors,
  };
  if (process.argv.includes('--profile')) {
    const prof = await tf.profile(async () => step());
    const byKernel = new Map<string, number>();
    for (const k of prof.kernels) byKernel.set(k.name, (byKernel.get(k.name) ?? 0) + Number(k.kernelTimeMs));
    result.profile_ms = Object.fromEntries([...byKernel].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([k, v]) => [k, +v.toFixed(1)]));
  }
  model.dispose();
  tf.dispose([ids, mask]);
  console.log(JSON.stringify(result));
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.message : e}\n`);
  process.exit(1);
});
