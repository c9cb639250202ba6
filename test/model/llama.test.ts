import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { LanguageModel, paddingPrecedesTokens } from '../../src/model/language-model';
import { ModelError } from '../../src/model/errors';
import { KVCache } from '../../src/model/kv-cache';
import { loadLlama2c } from '../../src/io/llama2c';
import { loadHfFolder } from '../../src/io/hf';
import { maxAbsDiff, naiveLogits, snapshot } from './naive';
import { describeIf } from '../helpers/gates';
import { STORIES, stories260K, tinyConfig } from './helpers';

const ids2d = (rows: number[][]) => tf.tensor2d(rows, undefined, 'int32');

/** Random weights with non-trivial norms and biases, so those code paths are really exercised. */
function perturbed(m: LanguageModel, seed: number): void {
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
  for (const [name, v] of m.weights) {
    if (/norm|bias/.test(name)) v.assign(tf.tensor(Float32Array.from({ length: v.size }, () => 1 + rnd()), v.shape));
    else v.assign(v.mul(10)); // std 0.2: attention patterns far from uniform
  }
}

describe('LanguageModel against the naive reference', () => {
  const cases: [string, Parameters<typeof tinyConfig>[0]][] = [
    ['MHA, tied', {}],
    ['GQA (4 heads, 2 kv heads), untied head', { num_key_value_heads: 2, tie_word_embeddings: false }],
    ['MQA with q/k/v biases (Qwen2-style), head_dim != hidden/heads', { num_key_value_heads: 1, attention_bias: true, head_dim: 6, rope_theta: 500 }],
  ];
  test.each(cases)('%s', (_name, over) => {
    const cfg = tinyConfig(over);
    const m = LanguageModel.random(cfg, 3);
    perturbed(m, 7);
    const seq = [1, 5, 9, 30, 2, 17, 4];
    const ours = tf.tidy(() => m.logits(ids2d([seq])).squeeze([0]).arraySync() as number[][]);
    const ref = naiveLogits(cfg, snapshot(m.weights), seq);
    expect(maxAbsDiff(ours, ref)).toBeLessThan(1e-4);
    m.dispose();
  });
});

test('right padding: each row of a padded batch equals that row alone (GQA)', () => {
  const cfg = tinyConfig({ num_key_value_heads: 2 });
  const m = LanguageModel.random(cfg, 11);
  perturbed(m, 5);
  const rows = [[1, 4, 8, 15, 16, 23], [1, 9, 2], [1, 30, 31, 7, 7]];
  const T = 6;
  const padded = rows.map((r) => [...r, ...new Array(T - r.length).fill(0)]);
  const mask = rows.map((r) => Array.from({ length: T }, (_, t) => (t < r.length ? 1 : 0)));
  const batch = tf.tidy(() => m.logits(ids2d(padded), tf.tensor2d(mask)).arraySync() as number[][][]);
  rows.forEach((r, b) => {
    const alone = tf.tidy(() => m.logits(ids2d([r])).arraySync()[0] as number[][]);
    expect(maxAbsDiff(batch[b].slice(0, r.length), alone)).toBeLessThan(1e-5);
  });
  // Pad rows are unspecified here: right padding skips the key-padding bias (a real query never sees a later
  // key), so only the pad positions' own outputs differ from a masked reference.
  m.dispose();
});

test('left padding: the key-padding bias is applied, so real positions equal the row alone', () => {
  const cfg = tinyConfig({ num_key_value_heads: 2 });
  const m = LanguageModel.random(cfg, 12);
  perturbed(m, 6);
  const row = [1, 9, 2, 14];
  const T = 6;
  const padded = [[0, 0, ...row], [1, 4, 8, 15, 16, 23]];
  const mask = [[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]];
  const batch = tf.tidy(() => m.logits(ids2d(padded), tf.tensor2d(mask)).arraySync() as number[][][]);
  // RoPE scores depend on relative positions only, so shifting the row right by two changes nothing once the
  // two pad keys are masked out.
  const alone = tf.tidy(() => m.logits(ids2d([row])).arraySync()[0] as number[][]);
  expect(maxAbsDiff(batch[0].slice(2), alone)).toBeLessThan(1e-4);
  // Without the bias the real tokens would attend to the two pad keys: the outputs would differ.
  const unmasked = tf.tidy(() => m.logits(ids2d([padded[0]])).arraySync()[0] as number[][]);
  expect(maxAbsDiff(unmasked.slice(2), alone)).toBeGreaterThan(1e-3);
  m.dispose();
});

test('paddingPrecedesTokens: true only for a padding slot before a real token', () => {
  expect(paddingPrecedesTokens(tf.tensor2d([[1, 1, 0], [1, 0, 0]]))).toBe(false);
  expect(paddingPrecedesTokens(tf.tensor2d([[1, 1, 1]]))).toBe(false);
  expect(paddingPrecedesTokens(tf.tensor2d([[1, 1, 1], [0, 1, 1]]))).toBe(true);
  expect(paddingPrecedesTokens(tf.tensor2d([[1, 0, 1]]))).toBe(true);
});

test('a masked key in the middle is ignored (mask is applied to keys, not only by causality)', () => {
  const cfg = tinyConfig();
  const m = LanguageModel.random(cfg, 2);
  perturbed(m, 3);
  const seq = [1, 5, 6, 7];
  const mask = [1, 0, 1, 1];
  const ours = tf.tidy(() => m.logits(ids2d([seq]), tf.tensor2d([mask])).arraySync()[0] as number[][]);
  const ref = naiveLogits(cfg, snapshot(m.weights), seq, mask);
  expect(maxAbsDiff(ours, ref)).toBeLessThan(1e-4);
  m.dispose();
});

test('cached forward (prompt, then one token at a time) equals the full forward', () => {
  const cfg = tinyConfig({ num_key_value_heads: 2, attention_bias: true });
  const m = LanguageModel.random(cfg, 4);
  perturbed(m, 9);
  const seq = [1, 3, 5, 7, 11, 13, 17, 19];
  const full = tf.tidy(() => m.logits(ids2d([seq])).arraySync()[0] as number[][]);
  const cache = new KVCache();
  const parts: number[][] = [];
  const take = (chunk: number[]) => {
    const l = m.forwardCached(ids2d([chunk]), cache);
    parts.push(...(l.arraySync()[0] as number[][]));
    l.dispose();
  };
  take(seq.slice(0, 3)); // a multi-token step with an offset-0 causal mask
  take(seq.slice(3, 5)); // a multi-token step at offset 3
  for (const t of seq.slice(5)) take([t]);
  expect(cache.length).toBe(seq.length);
  expect(maxAbsDiff(parts, full)).toBeLessThan(1e-5);
  cache.dispose();
  m.dispose();
});

describe('weights', () => {
  test('random init is seeded, HF-named, with ones for norms and std ~0.02', () => {
    const cfg = tinyConfig({ tie_word_embeddings: false, attention_bias: true, num_key_value_heads: 2 });
    const a = LanguageModel.random(cfg, 42);
    const b = LanguageModel.random(cfg, 42);
    const c = LanguageModel.random(cfg, 43);
    expect([...a.weights.keys()]).toContain('lm_head.weight');
    expect(a.weights.get('model.layers.1.self_attn.k_proj.weight')!.shape).toEqual([8, 16]);
    expect(a.weights.get('model.layers.0.self_attn.v_proj.bias')!.shape).toEqual([8]);
    expect(Array.from(a.weights.get('model.norm.weight')!.dataSync())).toEqual(new Array(16).fill(1));
    const emb = (m: LanguageModel) => Array.from(m.weights.get('model.embed_tokens.weight')!.dataSync());
    expect(emb(a)).toEqual(emb(b));
    expect(emb(a)).not.toEqual(emb(c));
    const up = Array.from(a.weights.get('model.layers.0.mlp.up_proj.weight')!.dataSync());
    const std = Math.sqrt(up.reduce((s, v) => s + v * v, 0) / up.length);
    expect(std).toBeGreaterThan(0.015);
    expect(std).toBeLessThan(0.025);
    [a, b, c].forEach((m) => m.dispose());
  });

  test('fromWeights rejects missing, unexpected and mis-shaped tensors, naming them, and frees the bundle', () => {
    const cfg = tinyConfig();
    const src = LanguageModel.random(cfg, 1);
    const bundle = () => new Map([...src.weights].map(([k, v]) => [k, v.clone() as tf.Tensor]));
    const before = tf.memory().numTensors;
    const t1 = bundle();
    t1.get('model.layers.1.mlp.up_proj.weight')!.dispose();
    t1.delete('model.layers.1.mlp.up_proj.weight');
    expect(() => LanguageModel.fromWeights({ config: cfg, tensors: t1 }, { source: 'x.safetensors' }))
      .toThrow(/x\.safetensors: .*missing "model\.layers\.1\.mlp\.up_proj\.weight" \(expected shape \[24,16\]\)/);
    const t2 = bundle();
    t2.get('model.norm.weight')!.dispose();
    t2.set('model.norm.weight', tf.ones([15]));
    t2.set('score.weight', tf.ones([1, 16]));
    expect(() => LanguageModel.fromWeights({ config: cfg, tensors: t2 })).toThrow(ModelError);
    expect(() => LanguageModel.fromWeights({ config: { ...cfg, num_key_value_heads: 2 }, tensors: bundle() }))
      .toThrow(/"model\.layers\.0\.self_attn\.k_proj\.weight" has shape \[16,16\]; expected \[8,16\]/);
    expect(tf.memory().numTensors).toBe(before);
    // A tied config tolerates a saved lm_head copy (HF sometimes writes both) and drops it.
    const t3 = bundle();
    t3.set('lm_head.weight', src.weights.get('model.embed_tokens.weight')!.clone());
    t3.get('model.norm.weight')!.dispose();
    t3.set('model.norm.weight', tf.ones([16], 'int32')); // a non-float tensor is converted, without leaking
    const m = LanguageModel.fromWeights({ config: cfg, tensors: t3 });
    expect(m.weights.get('model.norm.weight')!.dtype).toBe('float32');
    expect(m.weights.has('lm_head.weight')).toBe(false);
    m.dispose();
    expect(tf.memory().numTensors).toBe(before);
    src.dispose();
  });

  test('clone is deep; setTrainable flips every variable', () => {
    const m = LanguageModel.random(tinyConfig(), 5);
    const ref = m.clone({ trainable: false });
    expect([...ref.weights.values()].every((v) => !v.trainable)).toBe(true);
    m.weights.get('model.norm.weight')!.assign(tf.zeros([16]));
    expect(ref.weights.get('model.norm.weight')!.dataSync()[0]).toBe(1);
    ref.setTrainable(true);
    expect([...ref.weights.values()].every((v) => v.trainable)).toBe(true);
    m.dispose();
    ref.dispose();
  });
});

test('no tensor leaks: forward, cached forward and a gradient step leave the count unchanged', () => {
  const cfg = tinyConfig({ num_key_value_heads: 2, attention_bias: true, tie_word_embeddings: false });
  const m = LanguageModel.random(cfg, 6);
  const ids = ids2d([[1, 2, 3, 4], [1, 5, 6, 0]]);
  const mask = tf.tensor2d([[1, 1, 1, 1], [1, 1, 1, 0]]);
  const once = () => {
    m.logits(ids, mask).dispose();
    tf.tidy(() => {
      const cache = new KVCache();
      m.forwardCached(ids2d([[1, 2]]), cache);
      m.forwardCached(ids2d([[3]]), cache);
      cache.dispose();
    });
    const { value, grads } = tf.variableGrads(() => m.logits(ids, mask).square().mean() as tf.Scalar, m.variables());
    expect(Object.keys(grads)).toHaveLength(m.weights.size);
    value.dispose();
    tf.dispose(grads);
  };
  once(); // first call builds the kept RoPE tables and causal bias
  const before = tf.memory().numTensors;
  once();
  once();
  expect(tf.memory().numTensors).toBe(before);
  const held = tf.memory().numTensors;
  m.dispose();
  expect(tf.memory().numTensors).toBe(held - m.weights.size - 3); // weights, cos, sin, one causal bias
  tf.dispose([ids, mask]);
});

describeIf(stories260K('golden-logits.json'), 'stories260K golden logits (llama2.c run.c)', () => {
  let golden: { cases: { prompt: string; tokens: number[]; logits: number[][] }[] };
  beforeAll(() => {
    golden = JSON.parse(fs.readFileSync(path.join(STORIES, 'golden-logits.json'), 'utf8')) as typeof golden;
  });
  const check = (m: LanguageModel) => {
    for (const c of golden.cases) {
      const ours = tf.tidy(() => m.logits(ids2d([c.tokens])).arraySync()[0] as number[][]);
      expect(ours).toHaveLength(c.logits.length);
      expect(maxAbsDiff(ours, c.logits)).toBeLessThanOrEqual(1e-4);
    }
  };
  test('from hf/ (HF safetensors layout)', () => {
    const m = LanguageModel.fromWeights(loadHfFolder(path.join(STORIES, 'hf')).bundle);
    check(m);
    m.dispose();
  });
  test('from stories260K.bin (llama2.c format)', () => {
    const m = LanguageModel.fromWeights(loadLlama2c(path.join(STORIES, 'stories260K.bin')));
    check(m);
    // All prompts as one right-padded batch: same numbers on real positions.
    const T = Math.max(...golden.cases.map((c) => c.tokens.length));
    const ids = golden.cases.map((c) => [...c.tokens, ...new Array(T - c.tokens.length).fill(0)]);
    const mask = golden.cases.map((c) => Array.from({ length: T }, (_, t) => (t < c.tokens.length ? 1 : 0)));
    const batch = tf.tidy(() => m.logits(ids2d(ids), tf.tensor2d(mask)).arraySync() as number[][][]);
    golden.cases.forEach((c, b) => expect(maxAbsDiff(batch[b].slice(0, c.tokens.length), c.logits)).toBeLessThanOrEqual(1e-4));
    m.dispose();
  });
});
