/**
 * Child process for wasm-threads.test.ts (a backend initialises once per process): starts wasm with the
 * RLHF_WASM_THREADS it was given, runs one forward and backward of a small Llama on fixed ids and prints
 * {threads, loss, grads (base64 float32, HF name order), threadsNote} as one JSON line.
 * Run with bench/run-ts.js (transpiles TypeScript on require).
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../src/backend';
import { LanguageModel } from '../../../src/model/language-model';
import { tokenLogProbs } from '../../../src/model/logprobs';
import { leanVariableGrads } from '../../../src/train/grads';
import { tinyConfig } from '../../model/helpers';

async function main(): Promise<void> {
  const info = await initBackend('wasm');
  // Wide enough that XNNPACK splits its products across threads (256 rows, 64..172 columns).
  const cfg = tinyConfig({ vocab_size: 96, hidden_size: 64, intermediate_size: 172, num_attention_heads: 8, num_key_value_heads: 4, head_dim: 8 });
  const model = LanguageModel.random(cfg, 11);
  const B = 4;
  const T = 64;
  const ids = tf.tensor2d(Array.from({ length: B * T }, (_, i) => (i * 37 + 5) % cfg.vocab_size), [B, T], 'int32');
  const { value, grads } = leanVariableGrads(() => tokenLogProbs(model.logits(ids), ids).mean().neg() as tf.Scalar, model.variables());
  const flat = model.variables().map((v) => grads[v.name].dataSync() as Float32Array);
  const all = new Float32Array(flat.reduce((s, a) => s + a.length, 0));
  let o = 0;
  for (const a of flat) { all.set(a, o); o += a.length; }
  process.stdout.write(`${JSON.stringify({
    threads: info.threads, threadsNote: info.threadsNote ?? null, loss: value.dataSync()[0],
    grads: Buffer.from(all.buffer).toString('base64'),
  })}\n`);
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : e}\n`);
  process.exit(1);
});
