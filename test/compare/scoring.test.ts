/**
 * The numbers scorePairs and `rlhf score` produce, against independent computations (test/train/oracle.ts):
 *   explicit  = RewardModel.scores of each hand-tokenised, unpadded row
 *   implicit  = β·(log πθ − log πref), each a plain sum of logSoftmax(model.logits) over the completion
 *   reference_free.sum / .mean accuracies (summarise) = the share of pairs where Σ log πθ (resp. its
 *               per-token mean) is higher for the chosen response
 * Policy and reference are different random models, the pairs are asymmetric (different lengths and
 * texts) and scored in unequal batches (padded rows, or rows with each prompt computed once: both layouts are
 * checked), so a swapped chosen/rejected, a dropped reference term, a sum/mean mix-up or a padding or prompt-sharing
 * leak each moves a number far beyond the tolerance (checked below).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { scorePairs, type ScoringLengths } from '../../src/compare/scoring';
import { summarise } from '../../src/compare/summary';
import type { ScoredPair } from '../../src/compare/types';
import type { PreferenceRecord } from '../../src/data/types';
import { saveCheckpoint } from '../../src/io/checkpoint';
import { loadPolicy, loadRewardModel } from '../../src/io/load-model';
import type { LanguageModel } from '../../src/model/language-model';
import type { RewardModel } from '../../src/model/reward';
import { ByteTokenizer } from '../../src/tokenizer/byte';
import { rlhf } from '../cli/helpers';
import { completionTokens, handRow, logpSum, rewardScore } from '../train/oracle';

const BETA = 0.3;
/** Limits no test pair reaches: nothing is cut, so the hand-computed rows are the scored ones. */
const UNCUT: ScoringLengths = { maxLength: 256, maxPromptLength: null, truncation: 'keep_end' };
/** Scores are read at float32 precision from differently padded batches: 1e-5 of the value, at least 1e-5. */
const near = (a: number, b: number) => Math.abs(a - b) <= 1e-5 * Math.max(1, Math.abs(b));
/**
 * The implicit reward β·(log πθ − log πref) is a difference of two sums of ~-175 each, so its error is the two
 * sums' errors scaled by β, not 1e-5 of the (small) difference: e.g. on the plain TF.js kernels the sums are
 * each 2e-5 off (1e-7 relative) and the difference 1.4e-5. Bound it by what `near` allows each sum.
 */
const nearImplicit = (a: number, h: Hand, side: 'chosen' | 'rejected') =>
  Math.abs(a - BETA * (h.policy[side] - h.reference[side])) <= BETA * 1e-5 * (Math.max(1, Math.abs(h.policy[side])) + Math.max(1, Math.abs(h.reference[side])));

const PAIRS: Array<[string, string, string]> = [
  ['Q: name a colour.\nA:', ' Blue.', ' I would rather not say which colour I like.'],
  ['Q: 2+2?\nA:', ' Four, since two and two make four.', ' 5'],
  ['Q: a fruit?\nA:', ' Apple.', ' Carrot, a root vegetable.'],
  ['Q: say hi.\nA:', ' Hello there, nice to meet you!', ' Go away.'],
  ['Q: a pet?\nA:', ' A cat.', ' A rock.'],
  ['Q: a number?\nA:', ' Seven.', ' Seventy-seven thousand and one.'],
  ['Tell me something kind about rainy days, please.\n', ' They water the gardens.', ' No.'],
];

interface Hand {
  explicit: { chosen: number; rejected: number };
  policy: { chosen: number; rejected: number };
  reference: { chosen: number; rejected: number };
  tokens: { chosen: number; rejected: number };
}

describe('scoring values against independent computations', () => {
  let dir: string;
  let rm: RewardModel;
  let policy: LanguageModel;
  let reference: LanguageModel;
  let hand: Hand[];
  const tokenizer = new ByteTokenizer();
  const records: PreferenceRecord[] = PAIRS.map(([prompt, chosen, rejected], i) => ({ prompt, chosen, rejected, id: `p${i}`, source: `test:${i + 1}` }));

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-scoring-'));
    rm = loadRewardModel('config:tiny', { seed: 21, trainable: false }).model;
    policy = loadPolicy('config:tiny', { seed: 22, trainable: false }).model;
    reference = loadPolicy('config:tiny', { seed: 23, trainable: false }).model;
    hand = PAIRS.map(([p, c, r]) => {
      const rows = { chosen: handRow(p, c), rejected: handRow(p, r) };
      const each = (f: (row: ReturnType<typeof handRow>) => number) => ({ chosen: f(rows.chosen), rejected: f(rows.rejected) });
      return {
        explicit: each((row) => rewardScore(rm, row)),
        policy: each((row) => logpSum(policy, row)),
        reference: each((row) => logpSum(reference, row)),
        tokens: each(completionTokens),
      };
    });
  });

  afterAll(() => [rm, policy, reference].forEach((m) => m.dispose()));

  const implicitOf = (h: Hand, side: 'chosen' | 'rejected') => BETA * (h.policy[side] - h.reference[side]);

  test('the checks have power: chosen vs rejected and policy vs reference differ by over 10x the tolerance', () => {
    for (const h of hand) {
      // A random score head gives small rewards (~0.1): their differences are still over 10x the tolerance.
      expect(Math.abs(h.explicit.chosen - h.explicit.rejected)).toBeGreaterThan(1e-4);
      expect(Math.abs(implicitOf(h, 'chosen') - implicitOf(h, 'rejected'))).toBeGreaterThan(1e-2);
      // Dropping the reference term would move the implicit reward by β·log πref: large.
      expect(Math.abs(BETA * h.reference.chosen)).toBeGreaterThan(1);
      expect(Math.abs(h.policy.chosen - h.reference.chosen)).toBeGreaterThan(1e-2);
    }
  });

  test.each([
    ['prompts shared (the default: one row per pair, the prompt computed once)', true],
    ['one padded row per side', false],
  ])('scorePairs, %s: explicit = RewardModel.scores per row; implicit = β·(log πθ − log πref); log-probs and token counts as computed by hand', async (_name, sharePrompt) => {
    // Batches of 3 (3 + 3 + 1): rows are padded to the longest of their batch.
    const scored = await scorePairs(records, {
      reward: { model: rm, tokenizer, lengths: UNCUT }, policy: { model: policy, tokenizer, reference, beta: BETA, lengths: UNCUT }, batchSize: 3, sharePrompt,
    });
    expect(scored.map((s) => s.id)).toEqual(records.map((r) => r.id));
    const worst = { explicit: 0, implicit: 0, logp: 0 };
    scored.forEach((s, i) => {
      const h = hand[i];
      for (const side of ['chosen', 'rejected'] as const) {
        expect({ i, side, explicit: near(s.explicit[side], h.explicit[side]) }).toEqual({ i, side, explicit: true });
        expect({ i, side, implicit: nearImplicit(s.implicit[side], h, side) }).toEqual({ i, side, implicit: true });
        expect({ i, side, policy: near(s.policyLogps[side], h.policy[side]) }).toEqual({ i, side, policy: true });
        expect({ i, side, reference: near(s.referenceLogps[side], h.reference[side]) }).toEqual({ i, side, reference: true });
        expect(s.tokenCounts[side]).toBe(h.tokens[side]);
        worst.explicit = Math.max(worst.explicit, Math.abs(s.explicit[side] - h.explicit[side]));
        worst.implicit = Math.max(worst.implicit, Math.abs(s.implicit[side] - implicitOf(h, side)));
        worst.logp = Math.max(worst.logp, Math.abs(s.policyLogps[side] - h.policy[side]), Math.abs(s.referenceLogps[side] - h.reference[side]));
      }
    });
    console.log(`scorePairs vs independent: max |Δ| explicit ${worst.explicit.toExponential(2)}, implicit ${worst.implicit.toExponential(2)}, log-prob sums ${worst.logp.toExponential(2)}`);
  });

  test('summarise: reference_free.sum and .mean accuracies follow their definitions (and differ here, as do their mirror images)', async () => {
    const scored: ScoredPair[] = await scorePairs(records, {
      reward: { model: rm, tokenizer, lengths: UNCUT }, policy: { model: policy, tokenizer, reference, beta: BETA, lengths: UNCUT }, batchSize: 4,
    });
    const n = hand.length;
    const sumCorrect = hand.filter((h) => h.policy.chosen > h.policy.rejected).length;
    const meanCorrect = hand.filter((h) => h.policy.chosen / h.tokens.chosen > h.policy.rejected / h.tokens.rejected).length;
    // The data separate the variants: a sum/mean mix-up or a swapped orientation changes the counts.
    expect(sumCorrect).not.toBe(meanCorrect);
    expect(2 * sumCorrect).not.toBe(n);
    expect(2 * meanCorrect).not.toBe(n);
    const summary = summarise(scored, [], { bootstrap: 0 });
    expect(summary.reference_free.sum.correct).toBe(sumCorrect);
    expect(summary.reference_free.sum.accuracy).toBeCloseTo(sumCorrect / n, 12);
    expect(summary.reference_free.mean.correct).toBe(meanCorrect);
    expect(summary.reference_free.mean.accuracy).toBeCloseTo(meanCorrect / n, 12);
    expect(summary.explicit.correct).toBe(hand.filter((h) => h.explicit.chosen > h.explicit.rejected).length);
  });

  test('scorePairs without a reference: the implicit reward is β·log πθ (reference term 0, referenceLogps NaN)', async () => {
    const scored = await scorePairs(records, {
      reward: null, policy: { model: policy, tokenizer, reference: null, beta: BETA, lengths: UNCUT }, batchSize: 4,
    });
    scored.forEach((s, i) => {
      for (const side of ['chosen', 'rejected'] as const) expect({ i, side, ok: near(s.implicit[side], BETA * hand[i].policy[side]) }).toEqual({ i, side, ok: true });
      expect(s.referenceLogps.chosen).toBeNaN();
      expect(s.explicit.chosen).toBeNaN();
    });
  });

  test('rlhf score: reward rows and implicit rows (with --reference, --beta) equal the independent values', async () => {
    const data = path.join(dir, 'pairs.jsonl');
    fs.writeFileSync(data, PAIRS.map(([prompt, chosen, rejected]) => JSON.stringify({ prompt, chosen, rejected })).join('\n') + '\n');
    const rmDir = path.join(dir, 'rm');
    const rw = new Map(rm.weights);
    rw.delete('lm_head.weight'); // what a reward stage saves (LlamaForSequenceClassification)
    saveCheckpoint(rmDir, { kind: 'reward', config: rm.config, weights: rw, tokenizer, step: 0 });
    saveCheckpoint(path.join(dir, 'policy'), { kind: 'policy', config: policy.config, weights: policy.weights, tokenizer, step: 0 });
    saveCheckpoint(path.join(dir, 'ref'), { kind: 'policy', config: reference.config, weights: reference.weights, tokenizer, step: 0 });

    const explicit = await rlhf('score', '--model', rmDir, '--data', data, '--batch-size', '3', '--quiet');
    expect(explicit.code).toBe(0);
    const eRows = explicit.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(eRows).toHaveLength(2 * PAIRS.length);
    eRows.forEach((r, k) => {
      const h = hand[Math.floor(k / 2)];
      const side = k % 2 === 0 ? 'chosen' : 'rejected';
      expect(r.side).toBe(side);
      expect(r.id).toBe(`${data}:${Math.floor(k / 2) + 1}`);
      expect({ k, ok: near(r.reward, h.explicit[side]) }).toEqual({ k, ok: true });
    });

    const implicit = await rlhf('score', '--model', path.join(dir, 'policy'), '--reference', path.join(dir, 'ref'), '--beta', String(BETA), '--data', data, '--batch-size', '2', '--quiet');
    expect(implicit.code).toBe(0);
    const iRows = implicit.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(iRows).toHaveLength(2 * PAIRS.length);
    iRows.forEach((r, k) => {
      const h = hand[Math.floor(k / 2)];
      const side = k % 2 === 0 ? 'chosen' : 'rejected';
      expect(r.side).toBe(side);
      expect({ k, implicit: nearImplicit(r.implicit_reward, h, side) }).toEqual({ k, implicit: true });
      expect({ k, policy: near(r.policy_logp, h.policy[side]) }).toEqual({ k, policy: true });
      expect({ k, reference: near(r.reference_logp, h.reference[side]) }).toEqual({ k, reference: true });
      expect(r.tokens).toBe(h.tokens[side]);
    });
  });
});
