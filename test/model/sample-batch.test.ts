/**
 * Batched sampling (src/model/sample-batch.ts, sampling.ts, decoder.ts) on the backend of this run:
 *  - the filters (temperature, top-k, top-p, min-p) on hand-worked logit rows, and against transformers' own
 *    logits warpers on random rows (Python oracle);
 *  - ragged batches equal one sequence at a time: greedy token for token, and sampled rows equal generate()
 *    with the row's seed, against the cache-free recomputation (an independent path) and the cached one;
 *  - per-token log-probs equal a full forward's log-softmax at the sampled tokens;
 *  - per-row stop tokens and lengths, finish reasons, bad input, no leaked tensors.
 * The native decoder has its own suite (native-decoder.test.ts); here the TF.js decoder runs everywhere, on Llama
 * models and on a GPT-2 one (learned positions: the family the native decoder does not implement, so `auto` must
 * fall back to TF.js for it).
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { LanguageModel } from '../../src/model/language-model';
import { generate } from '../../src/model/generate';
import { tokenLogProbs } from '../../src/model/logprobs';
import { rowSeed, Rng } from '../../src/model/rng';
import { sampleBatch, type SampledRow } from '../../src/model/sample-batch';
import { sampleLogits, samplingDistribution, type SamplingOptions } from '../../src/model/sampling';
import { PRESETS } from '../../src/model/families';
import { parseLlamaConfig, type LlamaConfig } from '../../src/model/families/llama';
import { parseGPT2Config } from '../../src/model/families/gpt2';
import { loadLlama2c } from '../../src/io/llama2c';
import { ByteTokenizer } from '../../src/tokenizer/byte';
import { describeIf, type Requirement } from '../helpers/gates';
import { pythonWith, runPython } from '../helpers/python';
import { STORIES, stories260K, tinyConfig } from './helpers';

/** An Rng stand-in that returns the given uniforms in turn. */
function fixed(...us: number[]): Rng {
  let i = 0;
  return { next: () => us[i++] } as unknown as Rng;
}

describe('sampling filters on hand-worked rows', () => {
  // Probabilities 0.15, 0.5, 0.05, 0.3 (deliberately not sorted by id): descending order is ids 1, 3, 0, 2.
  const probs = [0.15, 0.5, 0.05, 0.3];
  const row = probs.map(Math.log);
  const dist = (o: SamplingOptions) => {
    const d = samplingDistribution(row, o);
    return Object.fromEntries(d.ids.map((id, i) => [id, +d.probs[i].toFixed(6)]));
  };

  test('temperature 1 keeps everything; temperature 2 takes square roots; 0 is the argmax', () => {
    expect(dist({})).toEqual({ 0: 0.15, 1: 0.5, 2: 0.05, 3: 0.3 });
    const r = probs.map(Math.sqrt);
    const z = r.reduce((a, b) => a + b, 0);
    expect(dist({ temperature: 2 })).toEqual(Object.fromEntries(r.map((x, i) => [i, +(x / z).toFixed(6)])));
    expect(dist({ temperature: 0 })).toEqual({ 1: 1 });
  });

  test('top-k keeps the k largest, renormalised', () => {
    expect(dist({ topK: 2 })).toEqual({ 1: 0.625, 3: 0.375 });
    expect(dist({ topK: 1 })).toEqual({ 1: 1 });
    expect(dist({ topK: 4 })).toEqual(dist({})); // k >= vocabulary: off
  });

  test('top-p keeps the shortest most-likely run reaching p (after top-k, renormalised)', () => {
    expect(dist({ topP: 0.75 })).toEqual({ 1: 0.625, 3: 0.375 }); // 0.5 < 0.75 <= 0.8
    expect(dist({ topP: 0.5 })).toEqual({ 1: 1 }); // 0.5 reaches 0.5
    expect(dist({ topP: 0.81 })).toEqual({ 1: 0.526316, 3: 0.315789, 0: 0.157895 }); // 0.8 < 0.81: the third joins
    // top-k 3 renormalises to 0.526, 0.316, 0.158: 0.842 reaches 0.8 but not 0.9
    expect(dist({ topK: 3, topP: 0.8 })).toEqual({ 1: 0.625, 3: 0.375 });
    expect(Object.keys(dist({ topK: 3, topP: 0.9 })).length).toBe(3);
  });

  test('min-p keeps tokens with at least min_p × the top probability (after temperature)', () => {
    expect(dist({ minP: 0.25 })).toEqual({ 0: 0.157895, 1: 0.526316, 3: 0.315789 }); // 0.05 < 0.125
    expect(dist({ minP: 0.55 })).toEqual({ 1: 0.625, 3: 0.375 }); // 0.15 < 0.275 <= 0.3
    expect(dist({ minP: 0.7, temperature: 2 })).toEqual({ 1: 0.563508, 3: 0.436492 }); // √0.3/√0.5 = 0.775 >= 0.7
  });

  test('the draw walks the kept tokens in order; both log-probs of the pick', () => {
    // top-k 2 keeps ids 1 (0.625) and 3 (0.375): u·0.8 below 0.5 picks 1, above it picks 3.
    expect(sampleLogits(row, { topK: 2 }, fixed(0.6)).id).toBe(1);
    const s = sampleLogits(row, { topK: 2 }, fixed(0.7));
    expect(s.id).toBe(3);
    expect(s.logprob).toBeCloseTo(Math.log(0.3), 12); // full softmax at temperature 1
    expect(s.samplingLogprob).toBeCloseTo(Math.log(0.375), 12); // the distribution drawn from
    // No filter that sorts: token-id order, cumulative 0.15 | 0.65 | 0.70 | 1.
    expect([0.1, 0.2, 0.66, 0.69, 0.71].map((u) => sampleLogits(row, { temperature: 1 }, fixed(u)).id)).toEqual([0, 1, 2, 2, 3]);
    const g = sampleLogits(row, { temperature: 0 }, fixed());
    expect([g.id, g.logprob, g.samplingLogprob]).toEqual([1, expect.closeTo(Math.log(0.5), 12), expect.closeTo(Math.log(0.5), 12)]);
  });
});

describeIf(pythonWith(['torch', 'transformers']), 'sampling filters equal transformers\' logits warpers', () => {
  test('kept tokens and their probabilities on random rows, every combination of filters', () => {
    const rng = new Rng(5);
    const rows = Array.from({ length: 12 }, (_, r) => Array.from({ length: 40 }, () => Math.fround(rng.normal() * (1 + (r % 4)))));
    const settings: SamplingOptions[] = [
      { temperature: 0.7 }, { topK: 5 }, { topP: 0.9 }, { minP: 0.1 }, { temperature: 1.3, topK: 10, topP: 0.8 },
      { temperature: 0.5, topP: 0.95, minP: 0.05 }, { topK: 20, minP: 0.2 }, { temperature: 2, topK: 7, topP: 0.6, minP: 0.3 },
    ];
    const script = `
import json, sys, torch
from transformers.generation.logits_process import LogitsProcessorList, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper, MinPLogitsWarper
req = json.load(sys.stdin)
out = []
for o in req["settings"]:
    procs = LogitsProcessorList()
    if o.get("temperature", 1) != 1: procs.append(TemperatureLogitsWarper(float(o["temperature"])))
    if o.get("topK", 0) > 0: procs.append(TopKLogitsWarper(o["topK"]))
    if o.get("topP", 1) < 1: procs.append(TopPLogitsWarper(o["topP"]))
    if o.get("minP", 0) > 0: procs.append(MinPLogitsWarper(o["minP"]))
    scores = procs(None, torch.tensor(req["rows"], dtype=torch.float64))
    p = scores.softmax(-1)
    out.append([{str(i): float(p[r, i]) for i in range(p.shape[1]) if p[r, i] > 0} for r in range(p.shape[0])])
print(json.dumps(out))
`;
    const hf = runPython<Record<string, number>[][]>(script, { rows, settings });
    settings.forEach((o, s) => rows.forEach((row, r) => {
      const d = samplingDistribution(row, o);
      const ours = Object.fromEntries(d.ids.map((id, i) => [String(id), d.probs[i]]));
      const where = `${JSON.stringify(o)} row ${r}`;
      expect({ where, ids: Object.keys(ours).sort() }).toEqual({ where, ids: Object.keys(hf[s][r]).sort() });
      for (const id of Object.keys(ours)) expect(Math.abs(ours[id] - hf[s][r][id])).toBeLessThan(1e-9);
    }));
  });
});

/** One full forward of prompt + completion (an independent computation): per completion token, its log-prob and the logits row it was drawn from. */
function forwardRows(model: LanguageModel, prompt: number[], tokens: number[]): { logprobs: number[]; rows: Float32Array[] } {
  return tf.tidy(() => {
    const ids = tf.tensor2d([[...prompt, ...tokens]], undefined, 'int32');
    const logits = model.logits(ids);
    const lp = tokenLogProbs(logits, ids).dataSync();
    const V = logits.shape[2];
    const all = logits.dataSync() as Float32Array;
    return {
      logprobs: Array.from(lp.slice(prompt.length, prompt.length + tokens.length)),
      rows: tokens.map((_, t) => all.slice((prompt.length - 1 + t) * V, (prompt.length + t) * V)),
    };
  });
}

const maxDiff = (a: number[], b: number[]) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

/** The suite every model runs: ragged prompts, n samples, greedy and sampled, against one-at-a-time. */
function batchSuite(name: string, build: () => LanguageModel, prompts: number[][], stopless: boolean, needs?: Requirement) {
  const suite = (title: string, fn: () => void) => (needs ? describeIf(needs, title, fn) : describe(title, fn));
  suite(`batched sampling on ${name} (TF.js decoder)`, () => {
    let model: LanguageModel;
    beforeAll(() => {
      model = build();
    });
    afterAll(() => model.dispose());
    const base = { maxNewTokens: 24, decoder: 'tfjs' as const, ...(stopless ? { stopTokenIds: [] } : {}) };

    test('greedy: every row of a ragged (left-padded) batch equals one sequence at a time, token for token', async () => {
      const rows = await sampleBatch(model, prompts, { ...base, n: 2, temperature: 0 });
      expect(rows.map((r) => [r.promptIndex, r.sampleIndex])).toEqual(prompts.flatMap((_, i) => [[i, 0], [i, 1]]));
      for (const [i, p] of prompts.entries()) {
        const alone = await generate(model, p, { ...base, temperature: 0, useCache: false });
        for (const r of rows.filter((x) => x.promptIndex === i)) {
          expect({ row: i, tokens: r.tokens, finish: r.finishReason }).toEqual({ row: i, tokens: alone.tokens, finish: alone.finishReason });
        }
      }
      expect(rows.some((r) => r.tokens.length > 0)).toBe(true);
    });

    test('sampled: row (i, j) equals generate() of prompt i with seed rowSeed(seed, i, j), cached and recomputed', async () => {
      const o = { ...base, n: 3, temperature: 0.9, topP: 0.95, minP: 0.02, seed: 11 };
      const rows = await sampleBatch(model, prompts, o);
      const distinct = new Set(rows.filter((r) => r.promptIndex === 0).map((r) => r.tokens.join(',')));
      expect(distinct.size).toBeGreaterThan(1); // the samples of one prompt differ
      for (const r of rows) {
        const seed = rowSeed(11, r.promptIndex, r.sampleIndex);
        expect(r.seed).toBe(seed);
        const opts = { ...o, seed };
        const cached = await generate(model, prompts[r.promptIndex], opts);
        expect({ row: [r.promptIndex, r.sampleIndex], tokens: r.tokens }).toEqual({ row: [r.promptIndex, r.sampleIndex], tokens: cached.tokens });
        if (r.sampleIndex === 0) expect((await generate(model, prompts[r.promptIndex], { ...opts, useCache: false })).tokens).toEqual(r.tokens);
      }
      // A row's stream does not depend on its batch: prompt 2 sampled alone gives the same rows.
      const alone = await sampleBatch(model, [{ ids: prompts[2], index: 2 }], o);
      expect(alone.map((r) => r.tokens)).toEqual(rows.filter((r) => r.promptIndex === 2).map((r) => r.tokens));
    });

    test('per-token log-probs equal a full forward\'s log-softmax at the sampled tokens (<= 1e-4)', async () => {
      const o = { ...base, n: 2, temperature: 1.2, topK: 40, topP: 0.9, seed: 3 };
      const rows = await sampleBatch(model, prompts, o);
      for (const r of rows) {
        expect(r.logprobs).toHaveLength(r.tokens.length);
        const ref = forwardRows(model, prompts[r.promptIndex], r.tokens);
        expect(maxDiff(r.logprobs, ref.logprobs)).toBeLessThan(1e-4);
        // The sampling log-prob: the token's probability in the filtered distribution of that step's logits.
        const filtered = r.tokens.map((id, t) => {
          const d = samplingDistribution(ref.rows[t], o);
          return Math.log(d.probs[d.ids.indexOf(id)]);
        });
        expect(maxDiff(r.samplingLogprobs, filtered)).toBeLessThan(1e-4);
      }
      expect(rows.some((r) => r.tokens.length > 3)).toBe(true);
    });
  });
}

const storyPrompts = [[1], [1, 400, 30, 90], [1, 200, 201, 202, 203, 204, 205, 206, 207], [1, 300, 300]];
batchSuite('stories260K', () => LanguageModel.fromWeights(loadLlama2c(path.join(STORIES, 'stories260K.bin'))), storyPrompts, true, stories260K());

// config:tiny as `rlhf ... --model config:tiny` builds it (the tiny preset with the byte tokenizer's vocabulary and
// ids), with weights of std 0.2 instead of 0.02 so that distributions are peaked and choices matter.
const byte = new ByteTokenizer();
const tinyPreset: LlamaConfig = parseLlamaConfig({ ...PRESETS.tiny, vocab_size: byte.vocabSize, bos_token_id: byte.bosId, eos_token_id: byte.eosId, pad_token_id: byte.padId });
const bytePrompts = ['Hi', 'What is two plus two?', '', 'abc'].map((s) => [byte.bosId!, ...byte.encode(s)]);
batchSuite('config:tiny', () => LanguageModel.random(tinyPreset, 4, { std: 0.2 }), bytePrompts, false);

// A 2-layer GPT-2 (learned positions, LayerNorm, GELU) on the byte vocabulary: left padding must shift its
// position embeddings per row as RoPE's are shifted for Llama.
const gpt2Tiny = parseGPT2Config({
  vocab_size: byte.vocabSize, n_embd: 24, n_layer: 2, n_head: 3, n_positions: 64, n_inner: 40,
  bos_token_id: byte.bosId, eos_token_id: byte.eosId,
});
const gpt2Model = () => {
  const m = LanguageModel.random(gpt2Tiny, 7, { std: 0.2 });
  // LayerNorm weights and biases away from their init, so those paths are exercised.
  for (const [k, v] of m.weights) if (/ln_|bias/.test(k)) v.assign(tf.randomUniform(v.shape, -0.5, 1.5, 'float32', 9));
  return m;
};
batchSuite('a tiny GPT-2', gpt2Model, bytePrompts, false);

describe('GPT-2 with the default decoder (auto)', () => {
  test('greedy rows of a ragged batch equal generate() one prompt at a time, without the cache', async () => {
    const m = gpt2Model();
    // auto: the native decoder where it runs, for the families it implements; GPT-2 is not one, so TF.js.
    const rows = await sampleBatch(m, bytePrompts, { maxNewTokens: 16, temperature: 0 });
    for (const [i, p] of bytePrompts.entries()) {
      const alone = await generate(m, p, { maxNewTokens: 16, temperature: 0, useCache: false });
      expect({ row: i, tokens: rows[i].tokens }).toEqual({ row: i, tokens: alone.tokens });
      expect((await generate(m, p, { maxNewTokens: 16, temperature: 0 })).tokens).toEqual(alone.tokens);
    }
    expect(rows.some((r) => r.tokens.length > 3)).toBe(true);
    m.dispose();
  });
});

describe('rows end on their own terms', () => {
  const cfg = tinyConfig({ vocab_size: 50, max_position_embeddings: 20 });
  let m: LanguageModel;
  beforeAll(() => {
    m = LanguageModel.random(cfg, 21, { std: 0.3 });
  });
  afterAll(() => m.dispose());

  test('per-prompt stop tokens and length limits; max_length at max_position_embeddings', async () => {
    const free = await sampleBatch(m, [[1, 7]], { maxNewTokens: 10, temperature: 0, stopTokenIds: [] });
    const stopAt = free[0].tokens[3];
    const first = free[0].tokens.indexOf(stopAt);
    const rows = await sampleBatch(m, [
      { ids: [1, 7], stopTokenIds: [stopAt] },
      { ids: [1, 7], maxNewTokens: 2 },
      { ids: [1, 7] },
      { ids: Array.from({ length: 17 }, (_, i) => 1 + i) },
      { ids: [1, 7], maxNewTokens: 0 },
    ], { maxNewTokens: 10, temperature: 0, stopTokenIds: [], decoder: 'tfjs' });
    expect(rows.map((r) => r.finishReason)).toEqual(['stop', 'max_new_tokens', 'max_new_tokens', 'max_length', 'max_new_tokens']);
    expect(rows[0].tokens).toEqual(free[0].tokens.slice(0, first)); // the stop token is not returned
    expect(rows[1].tokens).toEqual(free[0].tokens.slice(0, 2));
    expect(rows[2].tokens).toEqual(free[0].tokens);
    expect(rows[3].tokens).toHaveLength(3); // 17 + 3 = max_position_embeddings 20
    expect(rows[4].tokens).toEqual([]);
    // The default stop is the config's eos_token_id.
    expect((await sampleBatch(m, [[1, 7]], { maxNewTokens: 10, temperature: 0 }))[0].tokens.includes(cfg.eos_token_id!)).toBe(false);
  });

  test('bad input is a one-line error naming the cause', async () => {
    const one = (p: Promise<unknown>, re: RegExp) => expect(p).rejects.toThrow(re);
    await one(sampleBatch(m, [[1]], { n: 0, maxNewTokens: 3 }), /^n \(samples per prompt\) must be an integer >= 1; got 0$/);
    await one(sampleBatch(m, [[1], []], { maxNewTokens: 3 }), /^prompt 1 is empty; start it with the BOS token/);
    await one(sampleBatch(m, [Array(21).fill(1)], { maxNewTokens: 3 }), /^prompt 0 has 21 tokens; the model takes at most max_position_embeddings = 20$/);
    await one(sampleBatch(m, [[1, 50]], { maxNewTokens: 3 }), /^prompt 0: token id 50 is outside the vocabulary \[0, 50\)$/);
    await one(sampleBatch(m, [[1]], { maxNewTokens: 3, minP: 2 }), /^minP must be in \[0, 1\]/);
    await one(sampleBatch(m, [{ ids: [1], seeds: [1, 2] }], { maxNewTokens: 3 }), /^prompt 0: 2 seeds for n = 1 samples$/);
    expect(await sampleBatch(m, [], { maxNewTokens: 3 })).toEqual([]);
  });

  test('repeated batched sampling on the TF.js decoder leaves no tensors behind', async () => {
    const run = () => sampleBatch(m, [[1, 2, 3], [1], [1, 9]], { n: 2, maxNewTokens: 6, temperature: 0.8, seed: 1, decoder: 'tfjs' });
    await run(); // first use grows the model's kept RoPE tables
    const before = tf.memory().numTensors;
    const all: SampledRow[][] = [];
    for (let i = 0; i < 3; i++) all.push(await run());
    expect(tf.memory().numTensors).toBe(before);
    expect(all[1]).toEqual(all[0]); // seeded: reproducible
  });
});
