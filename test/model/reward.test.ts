import * as tf from '@tensorflow/tfjs';
import { LanguageModel } from '../../src/model/language-model';
import { RewardModel } from '../../src/model/reward';
import { ModelError } from '../../src/model/errors';
import { tinyConfig } from './helpers';
import { PRESETS } from '../../src/model/families';
import { parseLlamaConfig } from '../../src/model/families/llama';
import { withPadToken, EMBEDDING_WEIGHT } from '../../src/model/vocab';

test('scores are score·hidden at the last non-pad token of each row', () => {
  const cfg = tinyConfig({ num_key_value_heads: 2, tie_word_embeddings: false });
  const rm = RewardModel.random(cfg, 3);
  expect(rm.weights.has('lm_head.weight')).toBe(false); // HF's sequence-classifier layout has no LM head
  expect(rm.weights.get('score.weight')!.shape).toEqual([1, 16]);
  const ids = tf.tensor2d([[1, 5, 6, 7], [1, 8, 0, 0], [1, 9, 9, 0]], undefined, 'int32');
  const mask = tf.tensor2d([[1, 1, 1, 1], [1, 1, 0, 0], [1, 1, 1, 0]]);
  const scores = Array.from(rm.scores(ids, mask).dataSync());
  const h = rm.backbone.hidden(ids, mask).arraySync();
  const w = Array.from(rm.score.dataSync());
  const at = (b: number, t: number) => h[b][t].reduce((s, v, i) => s + v * w[i], 0);
  [3, 1, 2].forEach((t, b) => expect(scores[b]).toBeCloseTo(at(b, t), 5));
  // Each row alone (no padding) gives the same score.
  const alone = Array.from(rm.scores(tf.tensor2d([[1, 8]], undefined, 'int32')).dataSync());
  expect(alone[0]).toBeCloseTo(scores[1], 5);
  rm.dispose();
});

test('fromPolicy copies the backbone (policy untouched), fromWeights round-trips, and errors are actionable', () => {
  const policy = LanguageModel.random(tinyConfig(), 1);
  const rm = RewardModel.fromPolicy(policy, 7);
  const emb = (w: Map<string, tf.Variable>) => w.get('model.embed_tokens.weight')!.dataSync()[3];
  expect(emb(rm.weights)).toBe(emb(policy.weights));
  rm.weights.get('model.embed_tokens.weight')!.assign(tf.zeros([37, 16]));
  expect(emb(policy.weights)).not.toBe(0);
  const std = Math.sqrt(rm.score.square().mean().dataSync()[0]);
  expect(std).toBeGreaterThan(0.03);
  expect(std).toBeLessThan(0.1); // 1/(16+1) = 0.059

  const n0 = tf.memory().numTensors;
  const copy = RewardModel.fromWeights({ config: rm.config, tensors: new Map([...rm.weights].map(([k, v]) => [k, v.clone() as tf.Tensor])) });
  expect(tf.memory().numTensors).toBe(n0 + rm.weights.size); // the bundle became the variables, nothing more
  const ids = tf.tensor2d([[1, 2, 3]], undefined, 'int32');
  expect(copy.scores(ids).dataSync()[0]).toBeCloseTo(rm.scores(ids).dataSync()[0], 6);
  const before = tf.memory().numTensors;
  expect(() => LanguageModel.fromWeights({ config: rm.config, tensors: new Map([...rm.weights].map(([k, v]) => [k, v.clone() as tf.Tensor])) }))
    .toThrow(/unexpected tensor "score\.weight" \(a reward head: load it with RewardModel\.fromWeights\)/);
  expect(() => RewardModel.fromWeights({ config: policy.config, tensors: new Map([...policy.weights].map(([k, v]) => [k, v.clone() as tf.Tensor])) }, { source: 'ckpt/model.safetensors' }))
    .toThrow(ModelError);
  expect(tf.memory().numTensors).toBe(before);
  [policy, rm, copy].forEach((m) => m.dispose());
});

test('gradients reach the score head and the backbone; no leaks', () => {
  const rm = RewardModel.random(tinyConfig(), 2);
  const ids = tf.tensor2d([[1, 5, 6], [1, 7, 0]], undefined, 'int32');
  const mask = tf.tensor2d([[1, 1, 1], [1, 1, 0]]);
  const step = () => {
    const { value, grads } = tf.variableGrads(() => rm.scores(ids, mask).sum() as tf.Scalar, rm.variables());
    const norms = Object.values(grads).map((g) => tf.tidy(() => g.abs().sum().dataSync()[0]));
    tf.dispose([value, grads]);
    return norms;
  };
  const norms = step();
  expect(norms.filter((n) => n > 0).length).toBe(norms.length);
  const before = tf.memory().numTensors;
  step();
  expect(tf.memory().numTensors).toBe(before);
  rm.dispose();
  tf.dispose([ids, mask]);
});

test('withPadToken: zero rows appended to the embedding (and an untied head), pad id set; scores unchanged', () => {
  const cfg = parseLlamaConfig({ ...PRESETS.tiny, vocab_size: 40, num_hidden_layers: 1, tie_word_embeddings: false, eos_token_id: 39 });
  const policy = LanguageModel.random(cfg, 9);
  const tensors = new Map<string, tf.Tensor>([...policy.weights].map(([n, v]) => [n, v.clone()]));
  const grown = withPadToken({ config: cfg, tensors }, 40);
  expect([grown.config.vocab_size, grown.config.pad_token_id, grown.config.eos_token_id]).toEqual([41, 40, 39]);
  for (const name of [EMBEDDING_WEIGHT, 'lm_head.weight']) {
    const w = grown.tensors.get(name)!;
    expect(w.shape).toEqual([41, cfg.hidden_size]);
    expect(Array.from(w.slice([0, 0], [40, -1]).dataSync())).toEqual(Array.from(policy.weights.get(name)!.dataSync()));
    expect(Array.from(w.slice([40, 0], [1, -1]).dataSync())).toEqual(new Array(cfg.hidden_size).fill(0));
  }
  expect(grown.tensors.get('model.norm.weight')).toBe(tensors.get('model.norm.weight')); // passed through
  grown.tensors.forEach((t) => t.dispose());
  // An id inside the vocabulary (a padded vocab's spare row) only sets pad_token_id.
  const same = withPadToken({ config: cfg, tensors: new Map([[EMBEDDING_WEIGHT, tf.zeros([40, cfg.hidden_size])]]) }, 35);
  expect([same.config.vocab_size, same.config.pad_token_id, same.tensors.get(EMBEDDING_WEIGHT)!.shape[0]]).toEqual([40, 35, 40]);
  same.tensors.forEach((t) => t.dispose());
  expect(() => withPadToken({ config: cfg, tensors: new Map() }, -1)).toThrow(/non-negative integer; got -1/);

  // fromPolicy with a pad past the vocabulary scores exactly as without: the new row is never read.
  const plain = RewardModel.fromPolicy(policy, 2);
  const padded = RewardModel.fromPolicy(policy, 2, { padTokenId: 40 });
  expect([padded.config.vocab_size, padded.config.pad_token_id, plain.config.vocab_size]).toEqual([41, 40, 40]);
  const ids = tf.tensor2d([[1, 5, 7, 39, 0], [1, 3, 39, 0, 0]], undefined, 'int32');
  const mask = tf.tensor2d([[1, 1, 1, 1, 0], [1, 1, 1, 0, 0]]);
  const padIds = tf.tensor2d([[1, 5, 7, 39, 40], [1, 3, 39, 40, 40]], undefined, 'int32');
  expect(Array.from(padded.scores(padIds, mask).dataSync())).toEqual(Array.from(plain.scores(ids, mask).dataSync()));
  tf.dispose([ids, mask, padIds]);
  plain.dispose();
  padded.dispose();
  policy.dispose();
});
