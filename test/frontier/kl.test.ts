/**
 * Sampled KL of a policy from a start policy on two tiny random models: the completion log-probs form a
 * distribution over every possible completion (they sum to 1 when enumerated, stop token included), padding
 * does not change them, and the sampled estimate from generate()'s draws matches the exact KL from enumeration.
 */
import { LanguageModel } from '../../src/model/language-model';
import { generate } from '../../src/model/generate';
import { completionLogProbs, sampledKl, type SampledSequence } from '../../src/frontier/kl';
import { tinyConfig } from '../model/helpers';

const V = 10;
const STOP = 2;
const PROMPT = [1, 5, 7];
const MAX_NEW = 2;

/** Every completion of up to MAX_NEW tokens: ended by a stop token, or by the length limit. */
function allCompletions(stops: number[] = [STOP]): SampledSequence[] {
  const out: SampledSequence[] = [{ prompt: PROMPT, tokens: [], stops }];
  for (let a = 0; a < V; a++) {
    if (stops.includes(a)) continue;
    out.push({ prompt: PROMPT, tokens: [a], stops });
    for (let b = 0; b < V; b++) if (!stops.includes(b)) out.push({ prompt: PROMPT, tokens: [a, b], stops: null });
  }
  return out;
}

describe('sampled KL from the start policy', () => {
  const cfg = tinyConfig({ vocab_size: V });
  let start: LanguageModel;
  let policy: LanguageModel;
  beforeAll(() => {
    start = LanguageModel.random(cfg, 1, { std: 0.3 });
    policy = LanguageModel.random(cfg, 2, { std: 0.3 });
  });
  afterAll(() => {
    start.dispose();
    policy.dispose();
  });

  test('enumerated completion probabilities sum to 1 under each model; padding changes nothing', async () => {
    const all = allCompletions();
    for (const m of [start, policy]) {
      const lp = await completionLogProbs(m, all, 7); // batches of mixed lengths
      expect(lp.reduce((a, x) => a + Math.exp(x), 0)).toBeCloseTo(1, 5);
      const one = await completionLogProbs(m, all.slice(0, 12), 1);
      one.forEach((x, i) => expect(x).toBeCloseTo(lp[i], 4));
      // two stop tokens: "stopped" is one event, of probability p(2) + p(4)
      const two = await completionLogProbs(m, allCompletions([STOP, 4]), 16);
      expect(two.reduce((a, x) => a + Math.exp(x), 0)).toBeCloseTo(1, 5);
    }
  });

  test('KL of a policy from itself is 0; sampled KL matches the exact KL within 4 standard errors', async () => {
    const all = allCompletions();
    const lpPolicy = await completionLogProbs(policy, all, 64);
    const lpStart = await completionLogProbs(start, all, 64);
    let exact = 0;
    lpPolicy.forEach((lp, i) => (exact += Math.exp(lp) * (lp - lpStart[i])));
    expect(exact).toBeGreaterThan(0.05); // the two random models differ enough for the check to mean something

    const draws: SampledSequence[] = [];
    for (let s = 0; s < 1000; s++) {
      const g = await generate(policy, PROMPT, { maxNewTokens: MAX_NEW, temperature: 1, seed: s, stopTokenIds: [STOP] });
      draws.push({ prompt: PROMPT, tokens: g.tokens, stops: g.finishReason === 'stop' ? [STOP] : null });
    }
    const p = await completionLogProbs(policy, draws, 256);
    const q = await completionLogProbs(start, draws, 256);
    const est = sampledKl(p, q);
    expect(est.samples).toBe(1000);
    expect(Math.abs(est.kl - exact)).toBeLessThan(4 * est.se);
    expect(sampledKl(p, p)).toEqual({ kl: 0, se: 0, samples: 1000 });
  }, 120000);

  test('hand-worked estimate and one-line errors', () => {
    expect(sampledKl([-1, -2], [-2, -2])).toEqual({ kl: 0.5, se: 0.5, samples: 2 });
    expect(() => sampledKl([1], [])).toThrow(/1 policy log-probs but 0 start log-probs/);
    expect(() => sampledKl([], [])).toThrow(/no samples/);
  });
});
