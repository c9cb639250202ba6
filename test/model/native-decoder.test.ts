/**
 * The native decoder session (native/decoder.h via src/model/native-decoder.ts) against the TF.js decoder:
 * the same next-token logits (<= 1e-4) after a ragged prompt pass and after steps with some rows finished, for
 * stories260K and for random models covering GQA/MQA, q/k/v biases, an untied head, widths that are not a
 * multiple of the packed block and products large enough to run on the thread pool; the same sampled and
 * greedy rows for the same seeds; run.c's greedy text; weights refreshed after a change; native memory freed;
 * the fallback to TF.js where the native ops are off, and for a family without native layers (GPT-2).
 *
 * Runs on the tensorflow backend (switched to in beforeAll, as native-ops.test.ts does) where the addon loads; a
 * missing addon is a gate (helpers/gates.ts): skipped locally, a failure with RLHF_REQUIRE_ORACLES=1.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { describeEnvironment, initBackend } from '../../src/backend';
import { nativeDecoderStatus, setNativeOpsEnabled } from '../../src/backend/native-ops';
import { decoderStatus, pickDecoder, TfjsDecoder, type Decoder } from '../../src/model/decoder';
import { NativeDecoder } from '../../src/model/native-decoder';
import { LanguageModel } from '../../src/model/language-model';
import { parseGPT2Config } from '../../src/model/families/gpt2';
import { generate } from '../../src/model/generate';
import { sampleBatch } from '../../src/model/sample-batch';
import { loadLlama2c } from '../../src/io/llama2c';
import { Llama2cTokenizer } from '../../src/tokenizer/llama2c';
import { allOf, describeIf } from '../helpers/gates';
import { nativeOps } from '../helpers/native';
import { STORIES, stories260K, tinyConfig } from './helpers';

/** The suites run on the tensorflow backend with the addon loaded (nativeOps checked that it loads). */
async function onTensorflow(): Promise<void> {
  await initBackend('tensorflow');
  if (nativeDecoderStatus() !== null) throw new Error(`the native decoder should run here but cannot: ${nativeDecoderStatus()}`);
}

const loadStories = () => LanguageModel.fromWeights(loadLlama2c(path.join(STORIES, 'stories260K.bin')));

/** Prompt pass, then `steps` steps where row b is active unless b % 3 == step % 3; logits of every call. */
async function trace(dec: Decoder, prompts: number[][], steps: number, V: number): Promise<{ logits: Float32Array[]; active: Uint8Array[] }> {
  const B = prompts.length;
  const logits = [(await dec.prefill(prompts, prompts.map((p) => p.length + steps))).slice()];
  const actives: Uint8Array[] = [Uint8Array.from({ length: B }, () => 1)];
  for (let s = 0; s < steps; s++) {
    const active = Uint8Array.from({ length: B }, (_, b) => (b % 3 === s % 3 ? 0 : 1));
    const tokens = Int32Array.from({ length: B }, (_, b) => (7 * b + 3 * s + 1) % V);
    logits.push((await dec.step(tokens, active)).slice());
    actives.push(active);
  }
  return { logits, active: actives };
}

/** Largest |a − b| over active rows, relative to the largest |b| of the call (logits differ in scale per model). */
function worst(a: Float32Array[], b: Float32Array[], active: Uint8Array[], V: number): number {
  let w = 0;
  a.forEach((x, call) => {
    let scale = 0;
    for (const v of b[call]) scale = Math.max(scale, Math.abs(v));
    active[call].forEach((on, row) => {
      if (!on) return;
      for (let i = row * V; i < (row + 1) * V; i++) w = Math.max(w, Math.abs(x[i] - b[call][i]) / Math.max(1, scale));
    });
  });
  return w;
}

/** The native and TF.js decoders' logits after a ragged prompt pass and 12 steps with finished rows (<= 1e-4); disposes m. */
async function sameLogits(m: LanguageModel): Promise<void> {
  const V = m.config.vocab_size;
  const prompts = [[1, 5, 9, 13, 2, 40], [1], [1, 33, 7], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21], [1, 8]];
  const native = NativeDecoder.create(m);
  const tfjs = new TfjsDecoder(m);
  const a = await trace(native, prompts, 12, V);
  const b = await trace(tfjs, prompts, 12, V);
  expect(worst(a.logits, b.logits, a.active, V)).toBeLessThan(1e-4);
  native.dispose();
  tfjs.dispose();
  m.dispose();
}

/** Sampled and greedy rows of both decoders for the same seeds: the same tokens, log-probs within 1e-4; disposes m. */
async function sameRows(m: LanguageModel): Promise<void> {
  const prompts = [[1, 400, 30, 90], [1], [1, 200, 201, 202, 203, 204, 205], [1, 60]].map((p) => p.map((id) => id % m.config.vocab_size));
  for (const o of [{ temperature: 0 }, { temperature: 1, topP: 0.9, seed: 9 }, { temperature: 0.7, topK: 20, minP: 0.05, seed: 2 }]) {
    const opts = { n: 3, maxNewTokens: 40, stopTokenIds: [], ...o };
    const native = await sampleBatch(m, prompts, { ...opts, decoder: 'native' });
    const tfjs = await sampleBatch(m, prompts, { ...opts, decoder: 'tfjs' });
    expect(native.map((r) => r.tokens)).toEqual(tfjs.map((r) => r.tokens));
    native.forEach((r, i) => r.logprobs.forEach((lp, t) => expect(Math.abs(lp - tfjs[i].logprobs[t])).toBeLessThan(1e-4)));
  }
  m.dispose();
}

describeIf(nativeOps, 'native decoder session', () => {
  beforeAll(onTensorflow);

  const models: [string, () => LanguageModel][] = [
    ['GQA, q/k/v biases, untied head, odd widths', () => LanguageModel.random(tinyConfig({ vocab_size: 61, hidden_size: 24, intermediate_size: 50, num_attention_heads: 6, num_key_value_heads: 2, head_dim: 6, attention_bias: true, tie_word_embeddings: false, num_hidden_layers: 3 }), 5, { std: 0.3 })],
    ['MQA with products on the thread pool', () => LanguageModel.random(tinyConfig({ vocab_size: 300, hidden_size: 256, intermediate_size: 700, num_attention_heads: 8, num_key_value_heads: 1, head_dim: 32, max_position_embeddings: 128 }), 6, { std: 0.05 })],
  ];

  test.each(models)('%s: logits equal the TF.js decoder after a ragged prompt pass and steps with finished rows (<= 1e-4)', async (_name, build) => sameLogits(build()));

  test('sampled and greedy rows equal the TF.js decoder\'s for the same seeds', async () => sameRows(LanguageModel.random(tinyConfig({ vocab_size: 80 }), 3, { std: 0.3 })));

  test('refresh() copies changed weights; until then the session keeps the ones it copied', async () => {
    const m = LanguageModel.random(tinyConfig({ vocab_size: 40 }), 8, { std: 0.3 });
    const V = 40;
    const native = NativeDecoder.create(m);
    const before = (await native.prefill([[1, 2, 3]], [3])).slice();
    const w = m.weights.get('model.layers.1.mlp.down_proj.weight')!;
    w.assign(tf.tidy(() => w.mul(1.5)));
    expect(Array.from(await native.prefill([[1, 2, 3]], [3]))).toEqual(Array.from(before));
    native.refresh();
    const after = (await native.prefill([[1, 2, 3]], [3])).slice();
    const tfjs = new TfjsDecoder(m);
    const want = await tfjs.prefill([[1, 2, 3]], [3]);
    expect(worst([after], [want], [Uint8Array.of(1)], V)).toBeLessThan(1e-5);
    expect(worst([before], [want], [Uint8Array.of(1)], V)).toBeGreaterThan(1e-3);
    tfjs.dispose();
    native.dispose();
    m.dispose();
  });

  test('dispose frees the session: no growth over many sessions, and a disposed one says so', async () => {
    // ~2.4M parameters: a leaked session (weights packed, plus the cache) would keep > 10 MB each.
    const m = LanguageModel.random(tinyConfig({ vocab_size: 512, hidden_size: 256, intermediate_size: 1024, num_hidden_layers: 2, num_attention_heads: 8, num_key_value_heads: 8, head_dim: 32, max_position_embeddings: 256 }), 2);
    const once = async () => {
      const d = NativeDecoder.create(m);
      await d.prefill([[1, 2, 3], [4]], [200, 200]);
      await d.step(Int32Array.of(5, 6), Uint8Array.of(1, 1));
      d.dispose();
    };
    for (let i = 0; i < 3; i++) await once();
    const rss0 = process.memoryUsage().rss;
    for (let i = 0; i < 30; i++) await once();
    const grown = (process.memoryUsage().rss - rss0) / 2 ** 20;
    expect(grown).toBeLessThan(100); // 30 leaked sessions would be > 300 MB
    const d = NativeDecoder.create(m);
    d.dispose();
    await expect(d.step(Int32Array.of(1), Uint8Array.of(1))).rejects.toThrow(/this native decoder was disposed/);
    m.dispose();
  });

  test('the addon rejects what does not fit, with one line naming it', () => {
    const m = LanguageModel.random(tinyConfig({ vocab_size: 30 }), 1);
    const d = NativeDecoder.create(m);
    const addon = (d as unknown as { addon: { decoderPrefill: (...a: unknown[]) => void; decoderSetWeights: (...a: unknown[]) => void }; handle: object });
    expect(() => addon.addon.decoderPrefill(addon.handle, Int32Array.of(1, 2), Int32Array.of(2), Int32Array.of(100), new Float32Array(30))).toThrow(/^rlhf decoder: row 0: length 2, capacity 100; expected 1 <= length <= capacity <= max positions 64$/);
    expect(() => addon.addon.decoderPrefill(addon.handle, Int32Array.of(1, 99), Int32Array.of(2), Int32Array.of(2), new Float32Array(30))).toThrow(/token id 99 is outside the vocabulary \[0, 30\)/);
    expect(() => addon.addon.decoderSetWeights(addon.handle, [new Float32Array(3)])).toThrow(/expected an array of \d+ weight arrays, got 1/);
    d.dispose();
    m.dispose();
  });

  test('with the native ops off, auto picks the TF.js decoder and says why; asking for native is an error', () => {
    const m = LanguageModel.random(tinyConfig(), 1);
    expect(decoderStatus()).toEqual({ name: 'native' });
    expect(describeEnvironment().text).toMatch(/^decoder: +native \(native\/decoder\.h: batched sampling, a whole step per call, \d+ threads\)$/m);
    const was = setNativeOpsEnabled(false);
    try {
      expect(decoderStatus()).toEqual({ name: 'tfjs', reason: expect.stringMatching(/turned off/) });
      expect(describeEnvironment().decoder).toEqual({ name: 'tfjs', reason: expect.stringMatching(/turned off/) });
      expect(describeEnvironment().text).toMatch(/^decoder: +tfjs \(TF\.js ops with a tensor KV cache; native not used: .*turned off.*\)$/m);
      const d = pickDecoder(m, 'auto');
      expect(d.name).toBe('tfjs');
      d.dispose();
      expect(() => pickDecoder(m, 'native')).toThrow(/^the native decoder cannot run: .*turned off.*; use decoder "tfjs" or "auto"$/);
    } finally {
      setNativeOpsEnabled(was);
    }
    m.dispose();
  });
});

describeIf(allOf(nativeOps, stories260K('greedy-200.txt', 'tok512.bin')), 'native decoder on stories260K', () => {
  beforeAll(onTensorflow);

  test('logits equal the TF.js decoder after a ragged prompt pass and steps with finished rows (<= 1e-4)', () => sameLogits(loadStories()));

  test('sampled and greedy rows equal the TF.js decoder\'s for the same seeds', () => sameRows(loadStories()));

  test('greedy from BOS on the native decoder reproduces run.c -t 0 -n 200', async () => {
    const m = loadStories();
    const tok = Llama2cTokenizer.fromFile(path.join(STORIES, 'tok512.bin'), { vocabSize: 512 });
    const { tokens } = await generate(m, [1], { maxNewTokens: 200, temperature: 0, stopTokenIds: [1], decoder: 'native' });
    expect(tok.decode(tokens)).toBe(fs.readFileSync(path.join(STORIES, 'greedy-200.txt'), 'utf8'));
    m.dispose();
  });
});

describeIf(nativeOps, 'a family without native layers (GPT-2)', () => {
  beforeAll(onTensorflow);

  test('auto picks the TF.js decoder and says why; asking for native is an error naming the family', async () => {
    const m = LanguageModel.random(parseGPT2Config({ vocab_size: 41, n_embd: 24, n_layer: 2, n_head: 3, n_positions: 32, n_inner: 40, bos_token_id: 1, eos_token_id: 2 }), 4, { std: 0.3 });
    expect(decoderStatus()).toEqual({ name: 'native' }); // the addon runs here ...
    expect(decoderStatus(m)).toEqual({ name: 'tfjs', reason: expect.stringMatching(/Llama-family layers only; this model is gpt2/) }); // ... but not this family
    const d = pickDecoder(m, 'auto');
    expect(d.name).toBe('tfjs');
    d.dispose();
    expect(() => pickDecoder(m, 'native')).toThrow(/^the native decoder cannot run: the native decoder implements Llama-family layers only; this model is gpt2 \(model_type gpt2\); use decoder "tfjs" or "auto"$/);
    expect(() => NativeDecoder.create(m)).toThrow(/Llama-family layers only/);
    // auto samples it (TF.js) as the TF.js decoder does.
    const prompts = [[1, 5, 9], [1], [1, 30, 31, 32, 33]];
    const opts = { n: 2, maxNewTokens: 12, stopTokenIds: [], temperature: 0.8, seed: 5 };
    const auto = await sampleBatch(m, prompts, opts);
    expect(auto).toEqual(await sampleBatch(m, prompts, { ...opts, decoder: 'tfjs' }));
    expect(auto.every((r) => r.tokens.length === 12)).toBe(true);
    m.dispose();
  });
});
