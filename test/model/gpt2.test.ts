/**
 * The GPT-2 family without an oracle (transformers parity is gpt2-reference.test.ts): config parsing with HF's
 * defaults, both spellings and the refusals; the weight table (Conv1D [in, out] layout, unprefixed names);
 * right padding leaves real positions unchanged; the KV cache (cached == uncached greedy, chunked cached
 * forwards, a left-padded batch with per-row positions) gives the full forward's logits; every weight gets a
 * gradient; the reward head and an added pad token on a GPT-2 backbone; positions past n_positions are refused;
 * nothing leaks. Runs on whichever backend the suite runs on (RLHF_BACKEND=wasm for the wasm pass).
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../../src/model/config';
import { familyOf, hfConfigJson, parseModelConfig, presetConfig, weightSpecs } from '../../src/model/families';
import { parseGPT2Config, type GPT2Config } from '../../src/model/families/gpt2';
import { geluTanh, layerNorm } from '../../src/model/families/gpt2/model';
import { canonicalGPT2Name } from '../../src/model/families/gpt2/weights';
import { ModelError } from '../../src/model/errors';
import { generate } from '../../src/model/generate';
import { KVCache } from '../../src/model/kv-cache';
import { LanguageModel } from '../../src/model/language-model';
import { RewardModel } from '../../src/model/reward';

/** A 2-layer GPT-2 with an even head size (so the fused attention kernel applies where it loads). */
export function gpt2Config(over: Partial<GPT2Config> = {}): GPT2Config {
  return parseGPT2Config({ vocab_size: 41, n_embd: 24, n_layer: 2, n_head: 3, n_positions: 32, n_inner: 40, bos_token_id: 1, eos_token_id: 2, ...over });
}

const maxAbsDiff = (a: number[], b: number[]) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

describe('GPT-2 config', () => {
  test('HF GPT2Config defaults fill what is absent; the generic names are read as GPT-2\'s', () => {
    const c = parseGPT2Config({ model_type: 'gpt2' });
    expect(c).toEqual({
      model_type: 'gpt2', vocab_size: 50257, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, max_position_embeddings: 1024,
      n_inner: 3072, layer_norm_epsilon: 1e-5, activation_function: 'gelu_new', tie_word_embeddings: true,
      bos_token_id: 50256, eos_token_id: 50256, pad_token_id: null,
    });
    // GPT2Config's default special id 50256 is only taken over where the vocabulary has such a token.
    expect(parseGPT2Config({ vocab_size: 64 })).toMatchObject({ bos_token_id: null, eos_token_id: null });
    const generic = parseGPT2Config({ hidden_size: 32, num_hidden_layers: 3, num_attention_heads: 4, max_position_embeddings: 64, n_inner: null });
    expect([generic.hidden_size, generic.num_hidden_layers, generic.num_attention_heads, generic.max_position_embeddings, generic.n_inner]).toEqual([32, 3, 4, 64, 128]);
    // The registry picks the family by model_type; config.json written back reads as the same config.
    const cfg = gpt2Config({ tie_word_embeddings: false, pad_token_id: 0 });
    const json = hfConfigJson(cfg);
    expect(json).toMatchObject({ architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', n_embd: 24, n_layer: 2, n_head: 3, n_positions: 32, n_inner: 40 });
    expect(json).not.toHaveProperty('hidden_size');
    expect(parseModelConfig(json)).toEqual(cfg);
    expect(hfConfigJson(cfg, 'sequence_classification').architectures).toEqual(['GPT2ForSequenceClassification']);
    expect(familyOf(cfg).name).toBe('gpt2');
  });

  test.each([
    [{ activation_function: 'relu' }, /field "activation_function" is "relu"; this toolkit implements only "gelu_new"/],
    [{ scale_attn_weights: false }, /field "scale_attn_weights" is false; this toolkit implements only true/],
    [{ scale_attn_by_inverse_layer_idx: true }, /"scale_attn_by_inverse_layer_idx" is true/],
    [{ add_cross_attention: true }, /"add_cross_attention" is true/],
    [{ n_embd: 30, n_head: 4 }, /n_embd 30 is not divisible by n_head 4/],
    [{ n_layer: 0 }, /field "n_layer" must be an integer in \[1, 1024\]; got 0/],
    [{ eos_token_id: 60, bos_token_id: 1, vocab_size: 50 }, /eos_token_id 60 is outside the vocabulary \(vocab_size 50\)/],
  ])('refuses %j, naming the field', (over, pattern) => {
    expect(() => parseGPT2Config({ model_type: 'gpt2', ...over }, 'x/config.json')).toThrow(ConfigError);
    expect(() => parseGPT2Config({ model_type: 'gpt2', ...over }, 'x/config.json')).toThrow(pattern);
  });

  test('an unknown model_type names the supported ones', () => {
    expect(() => parseModelConfig({ model_type: 'mistral' }, 'm/config.json')).toThrow(/m\/config.json: model_type "mistral" is not supported; expected one of "llama", "qwen2", "gpt2"/);
  });
});

describe('GPT-2 weight table', () => {
  test('HF names and Conv1D shapes [in, out]; lm_head only when untied; score for the classifier', () => {
    const cfg = gpt2Config();
    const specs = weightSpecs(cfg, 'causal_lm');
    const shapes = new Map(specs.map((s) => [s.name, s.shape]));
    expect(specs.slice(0, 6).map((s) => s.name)).toEqual([
      'transformer.wte.weight', 'transformer.wpe.weight', 'transformer.h.0.ln_1.weight', 'transformer.h.0.ln_1.bias',
      'transformer.h.0.attn.c_attn.weight', 'transformer.h.0.attn.c_attn.bias',
    ]);
    expect(shapes.get('transformer.wpe.weight')).toEqual([32, 24]);
    expect(shapes.get('transformer.h.1.attn.c_attn.weight')).toEqual([24, 72]);
    expect(shapes.get('transformer.h.1.mlp.c_fc.weight')).toEqual([24, 40]);
    expect(shapes.get('transformer.h.1.mlp.c_proj.weight')).toEqual([40, 24]);
    expect(shapes.get('transformer.ln_f.bias')).toEqual([24]);
    expect(specs.length).toBe(2 + 2 * 12 + 2);
    expect(shapes.has('lm_head.weight')).toBe(false);
    expect(weightSpecs(gpt2Config({ tie_word_embeddings: false }), 'causal_lm').at(-1)).toMatchObject({ name: 'lm_head.weight', shape: [41, 24] });
    expect(weightSpecs(cfg, 'sequence_classification').at(-1)).toMatchObject({ name: 'score.weight', shape: [1, 24] });
    // GPT-2's residual projections start smaller (1/√(2·n_layer)), as HF initialises them.
    expect(specs.find((s) => s.name === 'transformer.h.0.mlp.c_proj.weight')!.stdScale).toBeCloseTo(0.5, 12);
    expect(['h.3.attn.c_attn.weight', 'wte.weight', 'ln_f.bias', 'lm_head.weight', 'score.weight'].map(canonicalGPT2Name)).toEqual([
      'transformer.h.3.attn.c_attn.weight', 'transformer.wte.weight', 'transformer.ln_f.bias', 'lm_head.weight', 'score.weight',
    ]);
  });

  test('the gpt2-tiny preset takes its vocabulary from the tokenizer', () => {
    const cfg = presetConfig('gpt2-tiny', { vocab_size: 259, bos_token_id: 1, eos_token_id: 2, pad_token_id: 0 });
    expect(cfg).toMatchObject({ model_type: 'gpt2', vocab_size: 259, hidden_size: 32, num_hidden_layers: 2, max_position_embeddings: 512 });
    const m = LanguageModel.random(cfg, 0);
    expect(m.family.name).toBe('gpt2');
    expect(m.weights.get('transformer.wte.weight')!.shape).toEqual([259, 32]);
    m.dispose();
  });
});

describe('GPT-2 layers', () => {
  test('geluTanh and layerNorm on hand-worked values', () => {
    // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) at 1: tanh(0.7978846·1.044715) = tanh(0.8335623) = 0.6823801.
    const g = tf.tidy(() => Array.from(geluTanh(tf.tensor1d([1, -1, 0, 3])).dataSync()));
    [0.8411920, -0.1588080, 0, 2.9963627].forEach((v, i) => expect(g[i]).toBeCloseTo(v, 5));
    // [1, 2, 3]: mean 2, biased variance 2/3 -> (x − 2)/√(2/3) = [−1.2247449, 0, 1.2247449]; then ·w + b.
    const y = tf.tidy(() => Array.from(layerNorm(tf.tensor2d([[1, 2, 3]]), tf.tensor1d([1, 2, 1]), tf.tensor1d([0, 0, 0.5]), 0).dataSync()));
    [-1.2247449, 0, 1.7247449].forEach((v, i) => expect(y[i]).toBeCloseTo(v, 5));
  });
});

describe('GPT-2 forward', () => {
  const cfg = gpt2Config();
  let m: LanguageModel<GPT2Config>;
  beforeAll(() => {
    m = LanguageModel.random(cfg, 5, { std: 0.3 });
    // LayerNorm weights and biases away from their init, so those paths are exercised.
    for (const [k, v] of m.weights) if (/ln_|bias/.test(k)) v.assign(tf.randomUniform(v.shape, -0.5, 1.5, 'float32', 9));
  });
  afterAll(() => m.dispose());

  const logitsOf = (ids: number[][], mask?: number[][]) =>
    tf.tidy(() => m.logits(tf.tensor2d(ids, undefined, 'int32'), mask ? tf.tensor2d(mask) : undefined).arraySync());

  test('right padding leaves the real positions\' logits as they are unpadded', () => {
    const row = [1, 5, 9, 3];
    const alone = logitsOf([row])[0];
    const padded = logitsOf([[...row, 0, 0], [4, 4, 2, 8, 6, 1]], [[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]])[0];
    expect(maxAbsDiff(alone.flat(), padded.slice(0, 4).flat())).toBeLessThan(1e-5);
  });

  test('the KV cache: chunked cached forwards give the full forward\'s logits', () => {
    const ids = [3, 7, 11, 2, 19, 23, 5];
    const full = logitsOf([ids])[0];
    const cache = new KVCache();
    const parts = [ids.slice(0, 4), ids.slice(4, 5), ids.slice(5)].map((chunk) =>
      tf.tidy(() => m.forwardCached(tf.tensor2d([chunk], undefined, 'int32'), cache).arraySync()[0]));
    cache.dispose();
    expect(maxAbsDiff(full.flat(), parts.flat(2))).toBeLessThan(1e-5);
  });

  test('a left-padded batch with per-row positions, prompt then steps: each row\'s logits as if alone', () => {
    const rows = [[3, 7, 11, 2], [19, 23]];
    const next = [[5, 6], [8, 9]];
    const cache = new KVCache();
    // Prompt pass: row 1 left-padded by 2, its positions counted from its first real token.
    const prompt = tf.tidy(() => m.forwardCachedBatch(tf.tensor2d([[3, 7, 11, 2], [0, 0, 19, 23]], undefined, 'int32'), cache,
      Int32Array.from([0, 1, 2, 3, 0, 0, 0, 1]), tf.tensor2d([[1, 1, 1, 1], [0, 0, 1, 1]])).arraySync());
    const steps: number[][][] = [];
    let mask = [[1, 1, 1, 1], [0, 0, 1, 1]];
    next[0].forEach((_, s) => {
      mask = mask.map((r) => [...r, 1]);
      const positions = Int32Array.from([4 + s, 2 + s]);
      steps.push(tf.tidy(() => m.forwardCachedBatch(tf.tensor2d([[next[0][s]], [next[1][s]]], undefined, 'int32'), cache, positions, tf.tensor2d(mask))
        .arraySync().map((r) => r[0])));
    });
    cache.dispose();
    rows.forEach((row, b) => {
      const alone = logitsOf([[...row, ...next[b]]])[0];
      const ours = [prompt[b][3], ...steps.map((s) => s[b])];
      const theirs = [alone[row.length - 1], ...next[b].map((_, s) => alone[row.length + s])];
      expect({ row: b, diff: maxAbsDiff(ours.flat(), theirs.flat()) < 1e-5 }).toEqual({ row: b, diff: true });
    });
  });

  test('cached generation gives the same greedy tokens as uncached recomputation', async () => {
    const opts = { maxNewTokens: 20, stopTokenIds: [], temperature: 0 };
    const cached = await generate(m, [1, 7, 8], opts);
    const uncached = await generate(m, [1, 7, 8], { ...opts, useCache: false });
    expect(cached.tokens).toHaveLength(20);
    expect(cached.tokens).toEqual(uncached.tokens);
    // Generation stops at n_positions (32): 3 prompt tokens + 29 new.
    expect(await generate(m, [1, 7, 8], { ...opts, maxNewTokens: 100 })).toMatchObject({ finishReason: 'max_length' });
  });

  test('every weight gets a gradient (wpe through its slice, c_attn\'s q, k and v parts)', () => {
    const ids = tf.tensor2d([[1, 5, 9, 3, 2]], undefined, 'int32');
    const { grads, value } = tf.variableGrads(() => m.logits(ids).square().mean() as tf.Scalar, m.variables());
    expect(Object.keys(grads).length).toBe(m.weights.size);
    for (const [name, v] of m.weights) {
      const g = grads[v.name];
      expect({ name, finite: g.isFinite().all().dataSync()[0] === 1, nonzero: g.abs().max().dataSync()[0] > 0 }).toEqual({ name, finite: true, nonzero: true });
    }
    // A whole forward touches only wpe's first T rows; the rest of the table gets exactly zero.
    const wpe = grads[m.weights.get('transformer.wpe.weight')!.name];
    expect(wpe.slice([5, 0], [27, 24]).abs().max().dataSync()[0]).toBe(0);
    tf.dispose([ids, value, ...Object.values(grads)]);
  });

  test('positions past n_positions are refused with the way out', () => {
    const ids = tf.zeros([1, 33], 'int32') as tf.Tensor2D;
    expect(() => m.logits(ids)).toThrow(ModelError);
    expect(() => m.logits(ids)).toThrow(/position 32 is past GPT-2's learned positions \(n_positions 32\)/);
    ids.dispose();
  });

  test('a forward leaks no tensor', () => {
    const ids = tf.tensor2d([[1, 5, 9, 3, 2]], undefined, 'int32');
    const mask = tf.tensor2d([[1, 1, 1, 0, 0]]);
    tf.dispose(m.logits(ids)); // warm-up: the causal bias for T = 5 is kept
    const before = tf.memory().numTensors;
    tf.dispose(m.logits(ids, mask));
    tf.dispose(m.logits(ids));
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([ids, mask]);
  });
});

describe('a reward model on a GPT-2 backbone', () => {
  test('scores read at each row\'s last real token; a pad id past the vocabulary grows transformer.wte with a zero row', () => {
    const cfg = gpt2Config({ eos_token_id: 40 });
    const policy = LanguageModel.random(cfg, 3, { std: 0.3 });
    const rm = RewardModel.fromPolicy(policy, 7, { padTokenId: 41 });
    policy.dispose();
    expect(rm.config).toMatchObject({ model_type: 'gpt2', vocab_size: 42, pad_token_id: 41 });
    const wte = rm.weights.get('transformer.wte.weight')!;
    expect(wte.shape).toEqual([42, 24]);
    expect(Array.from(wte.slice([41, 0], [1, 24]).dataSync()).every((v) => v === 0)).toBe(true);
    expect(rm.weights.has('lm_head.weight')).toBe(false);
    const scores = tf.tidy(() => Array.from(rm.scores(tf.tensor2d([[1, 5, 9, 40], [1, 5, 41, 41]], undefined, 'int32'), tf.tensor2d([[1, 1, 1, 1], [1, 1, 0, 0]])).dataSync()));
    const alone = tf.tidy(() => Array.from(rm.scores(tf.tensor2d([[1, 5]], undefined, 'int32')).dataSync()));
    expect(Math.abs(scores[1] - alone[0])).toBeLessThan(1e-5);
    expect(scores[0]).not.toBeCloseTo(scores[1], 3);
    rm.dispose();
  });
});
