/**
 * The frontier end to end on tiny random byte-level models: plain reward functions as proxies, the oracle as
 * gold on shipped prompts. Checks the points' shape, that the estimator's ends agree with the pool (n = 1 is
 * the pool mean, n = N the proxy's pick), a policy point's KL, and the one-line errors.
 */
import { LanguageModel } from '../../src/model/language-model';
import { ByteTokenizer } from '../../src/tokenizer/byte';
import { oracleReward } from '../../src/rewards/oracle';
import type { RewardSource } from '../../src/rewards/types';
import { runFrontier, FrontierError, type FrontierPrompt, type LoadedLM } from '../../src/frontier';
import { klBon } from '../../src/frontier/bon';
import { headlineSentence, policySentence } from '../../src/frontier/points';
import { tinyConfig } from '../model/helpers';

const tok = new ByteTokenizer();
const cfg = tinyConfig({ vocab_size: tok.vocabSize, max_position_embeddings: 64 });
const prompt = (text: string, i: number): FrontierPrompt => ({ text, ids: [tok.bosId, ...tok.encode(text)], source: `test:${i + 1}` });
const PROMPTS = ['Compute 1 + 5.', "Where is Fay's ladder?", 'What is 3 + 4?'].map(prompt);

/** A proxy from a function of the completion (what an fn: spec gives). */
const fnReward = (name: string, f: (c: string) => number): RewardSource => ({
  name,
  score: async (_p, cs) => cs.map(f),
});
const LENGTH = fnReward('fn:length', (c) => c.length);
const DIGITS = fnReward('fn:digits', (c) => (c.match(/[0-9]/g) ?? []).length);

describe('rlhf frontier on tiny models', () => {
  let start: LoadedLM;
  beforeAll(() => {
    start = { model: LanguageModel.random(cfg, 3, { std: 0.2 }), tokenizer: tok };
  });
  afterAll(() => start.model.dispose());

  test('bon points for every proxy and n, policy and rl points, headline', async () => {
    const policy = (seed: number) => () => ({ model: LanguageModel.random(cfg, seed, { std: 0.2 }), tokenizer: tok });
    const r = await runFrontier(start, PROMPTS, [LENGTH, DIGITS], oracleReward, [
      { method: 'policy', label: 'other', load: policy(4) },
      { method: 'rl', label: 'run', step: 10, load: () => ({ model: LanguageModel.random(cfg, 3, { std: 0.2 }), tokenizer: tok }) },
    ], { nMax: 6, seed: 1, maxNewTokens: 12, samplesPerPolicy: 3 });

    const bon = r.points.filter((p) => p.method === 'bon');
    expect(bon.map((p) => `${p.proxy}:${p.n}`)).toEqual(['fn:length', 'fn:digits'].flatMap((x) => [1, 2, 4, 6].map((n) => `${x}:${n}`)));
    bon.forEach((p) => expect(p.kl).toBeCloseTo(klBon(p.n!), 12));
    expect(r.counts).toEqual({ prompts: 3, pool_samples: 18, policy_samples: 18 });
    expect(r.pool).toHaveLength(18);

    // n = 1: the pool's mean (per prompt, then over prompts); n = N: the proxy's argmax (lengths tie: mean gold of the tied).
    const byPrompt = [0, 1, 2].map((i) => r.pool.filter((s) => s.promptIndex === i));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const n1 = bon.find((p) => p.proxy === 'fn:length' && p.n === 1)!;
    expect(n1.gold_reward).toBeCloseTo(mean(byPrompt.map((pool) => mean(pool.map((s) => s.gold)))), 12);
    expect(n1.proxy_reward).toBeCloseTo(mean(byPrompt.map((pool) => mean(pool.map((s) => s.completion.length)))), 12);
    const nN = bon.find((p) => p.proxy === 'fn:length' && p.n === 6)!;
    const pickGold = byPrompt.map((pool) => {
      const best = Math.max(...pool.map((s) => s.proxies[0]));
      return mean(pool.filter((s) => s.proxies[0] === best).map((s) => s.gold));
    });
    expect(nN.gold_reward).toBeCloseTo(mean(pickGold), 12);
    r.pool.forEach((s) => expect(s.proxies[0]).toBe(s.completion.length));

    const other = r.points.filter((p) => p.method === 'policy');
    expect(other.map((p) => p.proxy)).toEqual(['fn:length', 'fn:digits']);
    expect(other[0].kl).toBeGreaterThan(0); // another random model is far from the start
    expect(other[0].kl).toBe(other[1].kl);
    expect(other[0].gold_reward).toBe(other[1].gold_reward);
    const rl = r.points.filter((p) => p.method === 'rl');
    expect(rl[0]).toMatchObject({ step: 10, label: 'run' });
    expect(rl[0].kl).toBeCloseTo(0, 5); // the start policy itself

    expect(Object.keys(r.headline)).toEqual(['fn:length', 'fn:digits']);
    const h = r.headline['fn:length'];
    expect(h.start_gold).toBe(n1.gold_reward);
    expect(h.peak_gold).toBe(Math.max(...r.points.filter((p) => p.proxy === 'fn:length' && p.method !== 'policy').map((p) => p.gold_reward)));
    // The verdict's logic is tested on hand-made points (points.test.ts); here: it is built from these headlines.
    expect(r.sentence).toBe(`${headlineSentence(r.headline)} ${policySentence(r.points)}`);
    expect(r.sentence).toMatch(/optimising fn:length: .*; optimising fn:digits: /);
  }, 120000);

  test('a gold that cannot score a prompt stops before sampling, naming it', async () => {
    const bad = [...PROMPTS, prompt('Tell me a joke about cats.', 3)];
    await expect(runFrontier(start, bad, [LENGTH], oracleReward, [], { nMax: 2, seed: 0, maxNewTokens: 4 }))
      .rejects.toThrow(/^the gold reward "oracle" cannot score the prompts: .*Tell me a joke about cats/);
  });

  test('bad sizes and proxies are one-line errors', async () => {
    const run = (nMax: number, proxies: RewardSource[]) => runFrontier(start, PROMPTS, proxies, oracleReward, [], { nMax, seed: 0, maxNewTokens: 4 });
    await expect(run(0, [LENGTH])).rejects.toThrow(new FrontierError('--n-max must be an integer >= 1; got 0'));
    await expect(run(2, [])).rejects.toThrow(/no proxy reward/);
    await expect(run(2, [LENGTH, LENGTH])).rejects.toThrow(/--proxy fn:length is given twice/);
  });
});
