/**
 * Leak tests for the inference paths a long session calls over and over: generation (KV cache, sampled
 * and greedy, and an error thrown from the streaming callback mid-generation), pair log-probs, reward
 * scores, and compare's scorePairs / scoreProbes. After one burn-in call (lazy kernels, caches),
 * tf.memory().numTensors and numBytes must not change across further calls. The training loop's own
 * leak tests live with the trainers; bench/soak.ts runs 2,000 DPO steps.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { loadPreferences } from '../../src/data/read';
import { scorePairs, scoreProbes, type ProbeRecord, type Scorers } from '../../src/compare/scoring';
import { presetConfig } from '../../src/io/load-model';
import { generate } from '../../src/model/generate';
import { LanguageModel } from '../../src/model/language-model';
import { pairLogProbs } from '../../src/model/logprobs';
import { RewardModel } from '../../src/model/reward';
import { ByteTokenizer } from '../../src/tokenizer/byte';
import { REPO } from './helpers/build';

const tok = new ByteTokenizer();
const cfg = presetConfig('tiny', tok);
let policy: LanguageModel;
let reference: LanguageModel;
let rm: RewardModel;
beforeAll(() => {
  policy = LanguageModel.random(cfg, 1);
  reference = LanguageModel.random(cfg, 2, { trainable: false });
  rm = RewardModel.random(cfg, 3);
});
afterAll(() => {
  policy.dispose();
  reference.dispose();
  rm.dispose();
});

/** Runs `fn` once to burn in, then `times` more, checking tensor count and bytes after each. */
async function expectFlat(fn: () => Promise<void> | void, times = 5): Promise<void> {
  await fn();
  const m0 = tf.memory();
  for (let i = 0; i < times; i++) {
    await fn();
    const m = tf.memory();
    expect([i, m.numTensors, m.numBytes]).toEqual([i, m0.numTensors, m0.numBytes]);
  }
}

describe('generation', () => {
  test.each([
    ['greedy with the KV cache', { temperature: 0 }],
    ['sampled (top-k, top-p) with the KV cache', { temperature: 1, topK: 20, topP: 0.9 }],
    ['greedy, recomputing without the cache', { temperature: 0, useCache: false }],
  ])('%s', async (_name, opts) => {
    let seed = 0;
    await expectFlat(async () => {
      const r = await generate(policy, [1, 72, 105], { maxNewTokens: 12, seed: seed++, stopTokenIds: [], ...opts });
      expect(r.tokens).toHaveLength(12);
    });
  });

  test('an error thrown by onToken mid-generation frees the cache', async () => {
    await expectFlat(async () => {
      await expect(generate(policy, [1], {
        maxNewTokens: 10, temperature: 0, stopTokenIds: [],
        onToken: (_id, i) => { if (i === 4) throw new Error('stop'); },
      })).rejects.toThrow('stop');
    });
  });
});

describe('scoring', () => {
  const B = 3;
  const T = 17;
  const ids = () => tf.tensor2d(Array.from({ length: B * T }, (_, i) => 3 + ((i * 37) % 250)), [B, T], 'int32');
  const mask = () => tf.tensor2d(Array.from({ length: B * T }, (_, i) => (i % T < T - (i / T | 0) * 3 ? 1 : 0)), [B, T]);
  const completion = () => tf.tensor2d(Array.from({ length: B * T }, (_, i) => (i % T >= 5 && i % T < T - (i / T | 0) * 3 ? 1 : 0)), [B, T]);

  test('pairLogProbs (policy and frozen reference)', async () => {
    const inputs = { ids: ids(), attentionMask: mask(), completionMask: completion() };
    const other = { ids: ids(), attentionMask: mask(), completionMask: completion() };
    await expectFlat(async () => {
      for (const m of [policy, reference]) {
        const lp = pairLogProbs(m, inputs, other);
        const v = await lp.chosen.sum.data();
        expect(v.every(Number.isFinite)).toBe(true);
        tf.dispose([lp.chosen.sum, lp.chosen.count, lp.rejected.sum, lp.rejected.count]);
      }
    });
    tf.dispose([...Object.values(inputs), ...Object.values(other)]);
  });

  test('RewardModel.scores', async () => {
    const x = ids();
    const m = mask();
    await expectFlat(async () => {
      const s = rm.scores(x, m);
      expect(s.shape).toEqual([B]);
      expect((await s.data()).every(Number.isFinite)).toBe(true);
      s.dispose();
    });
    tf.dispose([x, m]);
  });
});

describe('compare scoring', () => {
  test('scorePairs (reward model + policy + reference) and scoreProbes', async () => {
    const { records } = await loadPreferences(path.join(REPO, 'data/prefs.jsonl'), { limit: 10 });
    const probes: ProbeRecord[] = [
      { probe: 'length', prompt: 'Say hi.', a: 'Hi.', b: 'Hi there, it is very nice to meet you today.', source: 'p:1' },
      { probe: 'length', prompt: 'Say bye.', a: 'Bye.', b: 'Goodbye, and take care.', source: 'p:2' },
    ];
    const s: Scorers = {
      reward: { model: rm, tokenizer: tok, lengths: { maxLength: 96, maxPromptLength: 48, truncation: 'keep_end' } },
      policy: { model: policy, tokenizer: tok, reference, beta: 0.1, lengths: { maxLength: 96, maxPromptLength: 48, truncation: 'keep_end' } },
      batchSize: 4,
    };
    await expectFlat(async () => {
      const pairs = await scorePairs(records, s);
      expect(pairs).toHaveLength(10);
      expect(pairs.every((p) => Number.isFinite(p.explicit.chosen) && Number.isFinite(p.implicit.rejected))).toBe(true);
      const scored = await scoreProbes(probes, s);
      expect(scored).toHaveLength(2);
    }, 3);
  });
});

test('the check itself catches a one-tensor-per-call leak', async () => {
  const leaked: tf.Tensor[] = [];
  await expect(expectFlat(() => {
    leaked.push(tf.zeros([1]));
  }, 2)).rejects.toThrow();
  tf.dispose(leaked);
});
