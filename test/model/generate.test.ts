import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { LanguageModel } from '../../src/model/language-model';
import { generate } from '../../src/model/generate';
import { ModelError } from '../../src/model/errors';
import { Rng } from '../../src/model/rng';
import { argmax, sampleToken } from '../../src/model/sampling';
import { loadLlama2c } from '../../src/io/llama2c';
import { Llama2cTokenizer } from '../../src/tokenizer/llama2c';
import { testIf } from '../helpers/gates';
import { STORIES, stories260K, tinyConfig } from './helpers';

describe('sampleToken', () => {
  const logits = [0.5, 2.0, 1.0, 2.0, -1.0];
  test('greedy takes the first maximum; top-k 1 and a tiny top-p are greedy too', () => {
    const rng = new Rng(0);
    expect(argmax(logits)).toBe(1);
    expect(sampleToken(logits, { temperature: 0 }, rng)).toBe(1);
    for (let i = 0; i < 20; i++) {
      expect(sampleToken([0, 3, 1], { temperature: 1, topK: 1 }, rng)).toBe(1);
      expect(sampleToken([0, 3, 1], { temperature: 1, topP: 0.01 }, rng)).toBe(1);
    }
  });
  test('frequencies follow softmax(logits / T), restricted by top-k and renormalised by top-p', () => {
    const l = [Math.log(0.5), Math.log(0.3), Math.log(0.15), Math.log(0.05)];
    const freq = (o: Parameters<typeof sampleToken>[1], n = 20000) => {
      const rng = new Rng(123);
      const c = [0, 0, 0, 0];
      for (let i = 0; i < n; i++) c[sampleToken(l, o, rng)]++;
      return c.map((x) => x / n);
    };
    const plain = freq({ temperature: 1 });
    [0.5, 0.3, 0.15, 0.05].forEach((p, i) => expect(Math.abs(plain[i] - p)).toBeLessThan(0.015));
    const k2 = freq({ temperature: 1, topK: 2 });
    [0.625, 0.375, 0, 0].forEach((p, i) => expect(Math.abs(k2[i] - p)).toBeLessThan(0.015));
    const p3 = freq({ temperature: 1, topP: 0.75 }); // 0.5 < 0.75 <= 0.5 + 0.3: two tokens
    [0.625, 0.375, 0, 0].forEach((p, i) => expect(Math.abs(p3[i] - p)).toBeLessThan(0.015));
    const hot = freq({ temperature: 2 }); // ∝ sqrt(p)
    const s = [0.5, 0.3, 0.15, 0.05].map(Math.sqrt);
    const z = s.reduce((a, b) => a + b, 0);
    s.forEach((v, i) => expect(Math.abs(hot[i] - v / z)).toBeLessThan(0.015));
  });
});

describe('generate on a random model', () => {
  const cfg = tinyConfig({ num_key_value_heads: 2, vocab_size: 50 });
  let m: LanguageModel;
  beforeAll(() => {
    m = LanguageModel.random(cfg, 21, { std: 0.3 }); // peaky distributions: sampling choices matter
  });
  afterAll(() => m.dispose());

  test.each([
    ['greedy', { temperature: 0 }],
    ['temperature 0.8, top-k 10, top-p 0.9', { temperature: 0.8, topK: 10, topP: 0.9, seed: 5 }],
  ])('cached generation gives the same tokens as uncached recomputation (%s)', async (_n, o) => {
    const opts = { maxNewTokens: 25, stopTokenIds: [], ...o };
    const cached = await generate(m, [1, 7, 8], opts);
    const uncached = await generate(m, [1, 7, 8], { ...opts, useCache: false });
    expect(cached.tokens).toHaveLength(25);
    expect(cached.tokens).toEqual(uncached.tokens);
    expect(cached.finishReason).toBe('max_new_tokens');
  });

  test('seeded: same seed same tokens, another seed other tokens; streaming sees each token in order', async () => {
    const seen: number[] = [];
    const a = await generate(m, [1], { maxNewTokens: 30, temperature: 1, seed: 1, stopTokenIds: [], onToken: (id, i) => seen.push(id + 0 * i) });
    const b = await generate(m, [1], { maxNewTokens: 30, temperature: 1, seed: 1, stopTokenIds: [] });
    const c = await generate(m, [1], { maxNewTokens: 30, temperature: 1, seed: 2, stopTokenIds: [] });
    expect(a.tokens).toEqual(b.tokens);
    expect(a.tokens).not.toEqual(c.tokens);
    expect(seen).toEqual(a.tokens);
  });

  test('stops at a stop token (not returned) and at max_position_embeddings; no leaks', async () => {
    const free = await generate(m, [1], { maxNewTokens: 20, temperature: 0, stopTokenIds: [] });
    const stopAt = free.tokens[4];
    const firstIdx = free.tokens.indexOf(stopAt);
    const stopped = await generate(m, [1], { maxNewTokens: 20, temperature: 0, stopTokenIds: [stopAt] });
    expect(stopped.finishReason).toBe('stop');
    expect(stopped.tokens).toEqual(free.tokens.slice(0, firstIdx));
    const before = tf.memory().numTensors;
    const long = await generate(m, [1, 2, 3], { maxNewTokens: 1000, temperature: 0.7, stopTokenIds: [] });
    expect(long.finishReason).toBe('max_length');
    expect(long.tokens).toHaveLength(cfg.max_position_embeddings - 3);
    expect(tf.memory().numTensors).toBe(before);
  });

  test('bad options and prompts are clear errors', async () => {
    await expect(generate(m, [], { maxNewTokens: 3 })).rejects.toThrow(/prompt is empty/);
    await expect(generate(m, [1, 50], { maxNewTokens: 3 })).rejects.toThrow(/token id 50 is outside the vocabulary \[0, 50\)/);
    await expect(generate(m, [1], { maxNewTokens: 3, topP: 0 })).rejects.toThrow(ModelError);
    await expect(generate(m, [1], { maxNewTokens: 3, temperature: -1 })).rejects.toThrow(/temperature must be >= 0/);
  });
});

testIf(stories260K('tok512.bin', 'greedy-200.txt'), 'stories260K: greedy from BOS reproduces run.c -t 0 -n 200 (greedy-200.txt)', async () => {
  const m = LanguageModel.fromWeights(loadLlama2c(path.join(STORIES, 'stories260K.bin')));
  const tok = Llama2cTokenizer.fromFile(path.join(STORIES, 'tok512.bin'), { vocabSize: 512 });
  const expected = fs.readFileSync(path.join(STORIES, 'greedy-200.txt'), 'utf8');
  // run.c's -n 200 gives 200 new tokens here; its loop also ends on BOS (id 1), which never comes.
  const { tokens, finishReason } = await generate(m, [1], { maxNewTokens: 200, temperature: 0, stopTokenIds: [1] });
  expect(finishReason).toBe('max_new_tokens');
  expect(tok.runcOutput([1, ...tokens]).toString('utf8')).toBe(expected);
  expect(tok.decode(tokens)).toBe(expected);
  m.dispose();
});
