/**
 * Gradient accumulation is exact: one optimiser step over k micro-batches gives the loss, grad_norm, step
 * metrics and updated weights of one step over a single batch holding all of them (within 1e-5), for each
 * task, through the real loop and tasks on config:tiny with a fixed data order.
 *
 * The micro-batches are chosen so that a wrong weighting shows: SFT micro-batches hold the same number of
 * sequences but very different numbers of completion tokens (TRL's num_items_in_batch case), and the pair
 * tasks are also run with unequal micro-batches (3 pairs + 1, like the last batch of an epoch). Each such
 * case also runs the old weighting (every micro-batch 1/k) and asserts that it does NOT match, so the
 * comparison has the power to see the difference.
 *
 * AdamW's first step is close to lr·sign(g) with the default epsilon, which hides the gradient's scale; these
 * runs use epsilon 1, so the first update is nearly proportional to the gradient and a mis-weighted
 * gradient changes the weights.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { collatePairs, collateSequences, preparePair, prepareSequence } from '../../src/data';
import type { PreferenceRecord } from '../../src/data/types';
import { resolveDpoConfig } from '../../src/losses';
import { loadPolicy, loadRewardModel } from '../../src/io/load-model';
import type { PairBatch, SequenceBatch } from '../../src/data/collate';
import { dpoTask } from '../../src/train/dpo';
import { BatchSource, LoopOptions, runTrainingLoop, shares, TrainTask } from '../../src/train/loop';
import { rewardTask } from '../../src/train/reward';
import { sftTask } from '../../src/train/sft';
import { trainReward } from '../../src/train/stages';
import { loadRecipe, parseSetOption } from '../../src/recipes/load';
import { readSafetensors } from '../../src/io/safetensors';
import { ByteTokenizer } from '../../src/tokenizer/byte';

const TOL = 1e-5;
const noSave = async () => {};
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-accum-'));

/** Pairs with prompts and completions of varied lengths (chosen and rejected differ in length too). */
function records(): PreferenceRecord[] {
  const rows: Array<[string, string, string]> = [
    ['Q: name a colour.\nA:', ' Blue.', ' I would rather not say which colour I like best today.'],
    ['Q: 2+2?\nA:', ' Four, because two and two make four when added together.', ' 5'],
    ['Q: a fruit?\nA:', ' Apple.', ' Carrot, which is a root vegetable.'],
    ['Q: say hi.\nA:', ' Hello there, nice to meet you, how are you doing this fine morning?', ' Go away.'],
    ['Q: a pet?\nA:', ' A cat.', ' A rock.'],
  ];
  return rows.map(([prompt, chosen, rejected], i) => ({ prompt, chosen, rejected, id: `r${i}`, source: `test:${i + 1}`, margin: 0.25 * i }));
}

class FixedSource<B> implements BatchSource<B> {
  private i = 0;
  constructor(private readonly batches: B[]) {}
  get batchesPerEpoch() {
    return this.batches.length;
  }
  next(): B {
    return this.batches[this.i++ % this.batches.length];
  }
  getState() {
    return { i: this.i };
  }
  setState(s: unknown) {
    this.i = (s as { i: number }).i;
  }
}

function options(k: number): LoopOptions {
  return {
    maxSteps: 1, gradientAccumulationSteps: k, lr: 0.05, schedule: 'constant', warmupSteps: 0,
    adamw: { beta1: 0.9, beta2: 0.999, epsilon: 1, weightDecay: 0.01 }, maxGradNorm: null,
    logEvery: 1, evalEvery: 0, saveEvery: 0, keepLast: 1, outDir: tmp(), quiet: true,
  };
}

interface StepResult {
  train: Record<string, number>;
  weights: Map<string, Float32Array>;
}

/** One optimiser step of a fresh task (same seed, same start) over `batches` with accumulation k. */
async function oneStep<B>(make: () => { task: TrainTask<B>; dispose: () => void }, batches: B[], k: number, equalWeights = false): Promise<StepResult> {
  const { task, dispose } = make();
  // equalWeights: the weighting before this change (each micro-batch's mean loss / k), to show the test can tell.
  const t: TrainTask<B> = equalWeights ? { ...task, lossWeight: () => 1 } : task;
  try {
    const res = await runTrainingLoop(t, new FixedSource(batches), null, options(k));
    return { train: res.train, weights: new Map([...task.params].map(([n, v]) => [n, v.dataSync().slice() as Float32Array])) };
  } finally {
    dispose();
  }
}

function maxWeightDiff(a: StepResult, b: StepResult): number {
  let worst = 0;
  for (const [n, w] of a.weights) {
    const o = b.weights.get(n)!;
    for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(w[i] - o[i]));
  }
  return worst;
}

/** Loss, grad_norm, the given metrics and every weight agree within TOL. */
function expectSame(acc: StepResult, big: StepResult, metrics: string[]): void {
  for (const k of ['loss', 'grad_norm', ...metrics]) {
    expect(acc.train).toHaveProperty([k]);
    expect({ k, diff: Math.abs(acc.train[k] - big.train[k]) <= TOL * Math.max(1, Math.abs(big.train[k])) }).toEqual({ k, diff: true });
  }
  expect(maxWeightDiff(acc, big)).toBeLessThan(TOL);
}

/**
 * TRL's rule for the logged metrics under accumulation: each is the plain mean of the values its micro-batches
 * report alone (computed here by a one-step run of each micro-batch from the same start).
 */
async function expectTrlMetrics<B>(acc: StepResult, make: () => { task: TrainTask<B>; dispose: () => void }, parts: B[], metrics: string[]): Promise<void> {
  const alone = [];
  for (const p of parts) alone.push(await oneStep(make, [p], 1));
  for (const k of metrics) {
    const want = alone.reduce((a, r) => a + r.train[k], 0) / alone.length;
    expect({ k, diff: Math.abs(acc.train[k] - want) <= TOL * Math.max(1, Math.abs(want)) }).toEqual({ k, diff: true });
  }
}

/** The old equal weighting is measurably off: loss, grad_norm and the weights all miss by well over TOL. */
function expectDifferent(wrong: StepResult, big: StepResult): void {
  expect(Math.abs(wrong.train.loss - big.train.loss)).toBeGreaterThan(100 * TOL);
  expect(Math.abs(wrong.train.grad_norm - big.train.grad_norm)).toBeGreaterThan(100 * TOL);
  expect(maxWeightDiff(wrong, big)).toBeGreaterThan(10 * TOL);
}

describe('gradient accumulation equals one big batch (config:tiny, real loop and tasks)', () => {
  const tokenizer = new ByteTokenizer(); // config:tiny's tokenizer
  const recs = records();
  const pairs = recs.map((r) => preparePair(r, tokenizer, { maxLength: 128 })!);
  const seqs = recs.map((r) => prepareSequence(r, tokenizer, { maxLength: 128, loss: 'completion' })!);

  test('shares: n_i / Σ n, equal shares when everything is zero', () => {
    expect(shares([30, 10])).toEqual([0.75, 0.25]);
    expect(shares([5])).toEqual([1]);
    expect(shares([0, 0])).toEqual([0.5, 0.5]);
  });

  test('SFT: 2 micro-batches of 2 sequences with 2x+ different token counts = one batch of 4, normalised by the step\'s tokens', async () => {
    const make = () => {
      const { model } = loadPolicy('config:tiny', { seed: 3 });
      return { task: sftTask(model, noSave), dispose: () => model.dispose() };
    };
    // Short completions together, long ones together: the token counts of the micro-batches differ a lot.
    const short = collateSequences([seqs[0], seqs[4]], tokenizer.padId);
    const long = collateSequences([seqs[1], seqs[3]], tokenizer.padId);
    const all = collateSequences([seqs[0], seqs[4], seqs[1], seqs[3]], tokenizer.padId);
    const tokens = (b: SequenceBatch) => b.completionMask.reduce((a, x) => a + x, 0);
    expect(tokens(long)).toBeGreaterThan(4 * tokens(short));
    const big = await oneStep(make, [all], 1);
    const acc = await oneStep(make, [short, long], 2);
    expectSame(acc, big, []);
    // num_tokens (TRL's): every attention-mask token of the step, prompt included.
    expect(acc.train.num_tokens).toBe(all.attentionMask.reduce((a, x) => a + x, 0));
    expect(big.train.num_tokens).toBe(acc.train.num_tokens);
    // Equal weighting (mean of the micro-batches' token means) is what TRL fixed with num_items_in_batch.
    expectDifferent(await oneStep(make, [short, long], 2, true), big);
  });

  const rewardMake = () => {
    const { model } = loadRewardModel('config:tiny', { seed: 5 });
    return { task: rewardTask(model, { centerRewardsCoefficient: 0.05, useMargin: true }, noSave), dispose: () => model.dispose() };
  };
  const rewardMeans = ['accuracy', 'margin', 'mean_reward'];
  const rewardMetrics = [...rewardMeans, 'min_reward', 'max_reward'];

  test('reward (margin column and centring on): 2 micro-batches of 2 pairs = one batch of 4', async () => {
    const big = await oneStep(rewardMake, [collatePairs(pairs.slice(0, 4), tokenizer.padId)], 1);
    const parts = [collatePairs(pairs.slice(0, 2), tokenizer.padId), collatePairs(pairs.slice(2, 4), tokenizer.padId)];
    const acc = await oneStep(rewardMake, parts, 2);
    // Equal micro-batches: the means are those of the big batch; min/max_reward are TRL's means of extremes.
    expectSame(acc, big, rewardMeans);
    await expectTrlMetrics(acc, rewardMake, parts, rewardMetrics);
  });

  test('reward: unequal micro-batches (3 pairs + the 1-pair tail) = one batch of 4; pairs weigh, not micro-batches', async () => {
    const big = await oneStep(rewardMake, [collatePairs(pairs.slice(0, 4), tokenizer.padId)], 1);
    const parts = [collatePairs(pairs.slice(0, 3), tokenizer.padId), collatePairs(pairs.slice(3, 4), tokenizer.padId)];
    const acc = await oneStep(rewardMake, parts, 2);
    expectSame(acc, big, []);
    await expectTrlMetrics(acc, rewardMake, parts, rewardMetrics);
    expectDifferent(await oneStep(rewardMake, parts, 2, true), big);
  });

  // A reference that differs from the policy (another seed), run live through prepare().
  const dpoMake = () => {
    const { model: policy } = loadPolicy('config:tiny', { seed: 7 });
    const { model: reference } = loadPolicy('config:tiny', { seed: 8, trainable: false });
    const task = dpoTask(policy, { loss: resolveDpoConfig({ beta: 0.5, loss_type: ['sigmoid', 'ipo'], loss_weights: [1, 0.5] }), cache: null, reference }, noSave);
    return { task, dispose: () => { policy.dispose(); reference.dispose(); } };
  };
  const dpoMetrics = ['rewards/chosen', 'rewards/rejected', 'rewards/accuracies', 'rewards/margins', 'logps/chosen', 'logps/rejected'];

  test('DPO (sigmoid + ipo, live reference): 2 micro-batches of 2 pairs = one batch of 4', async () => {
    const all = collatePairs(pairs.slice(0, 4), tokenizer.padId);
    const big = await oneStep(dpoMake, [all], 1);
    const acc = await oneStep(dpoMake, [collatePairs(pairs.slice(0, 2), tokenizer.padId), collatePairs(pairs.slice(2, 4), tokenizer.padId)], 2);
    expectSame(acc, big, [...dpoMetrics, 'num_tokens']);
    expect(acc.train.num_tokens).toBe(all.attentionMask.reduce((a, x) => a + x, 0));
  });

  test('DPO: unequal micro-batches (1 pair + 3) = one batch of 4', async () => {
    const big = await oneStep(dpoMake, [collatePairs(pairs.slice(1, 5), tokenizer.padId)], 1);
    const parts = [collatePairs(pairs.slice(1, 2), tokenizer.padId), collatePairs(pairs.slice(2, 5), tokenizer.padId)];
    const acc = await oneStep(dpoMake, parts, 2);
    expectSame(acc, big, []);
    await expectTrlMetrics(acc, dpoMake, parts, dpoMetrics);
    expectDifferent(await oneStep(dpoMake, parts, 2, true), big);
  });

  test('through trainReward: one step of 3 micro-batches (2 + 2 + the 1-pair end of the epoch) = one batch of all 5 pairs', async () => {
    const dir = tmp();
    const file = path.join(dir, 'five.jsonl');
    fs.writeFileSync(file, recs.map((r) => JSON.stringify({ prompt: r.prompt, chosen: r.chosen, rejected: r.rejected, margin: r.margin })).join('\n') + '\n');
    const run = (batch: number, k: number) =>
      trainReward(
        loadRecipe(undefined, [
          parseSetOption(`data.train=${file}`),
          ...['max_steps=1', `batch_size=${batch}`, `gradient_accumulation_steps=${k}`, 'adam_epsilon=1', 'learning_rate=0.05', 'center_rewards_coefficient=0.1'].map((x) => parseSetOption(`reward.${x}`)),
        ]),
        { out: path.join(dir, `b${batch}k${k}`), quiet: true },
      );
    // The epoch's 5 pairs come in batches of 2, 2, 1 (shuffled), so step 1 holds each pair exactly once.
    const acc = await run(2, 3);
    const big = await run(5, 1);
    const row = (s: { out: string }) => JSON.parse(fs.readFileSync(path.join(s.out, 'metrics.jsonl'), 'utf8').split('\n')[0]);
    const weights = (s: { out: string }) => readSafetensors(path.join(s.out, 'final', 'model.safetensors')).tensors;
    for (const k of ['loss', 'grad_norm']) expect(Math.abs(row(acc)[k] - row(big)[k])).toBeLessThan(TOL);
    const wa = weights(acc);
    let worst = 0;
    for (const [n, t] of weights(big)) {
      const a = wa.get(n)!.data as Float32Array;
      (t.data as Float32Array).forEach((x, i) => (worst = Math.max(worst, Math.abs(x - a[i]))));
    }
    expect(worst).toBeLessThan(TOL);
  });

  test('no tensor leaks under accumulation (k = 3, DPO with a live reference)', async () => {
    const { task, dispose } = dpoMake();
    try {
      const batches = [collatePairs(pairs.slice(0, 2), tokenizer.padId), collatePairs(pairs.slice(2, 3), tokenizer.padId), collatePairs(pairs.slice(3, 5), tokenizer.padId)];
      await runTrainingLoop(task, new FixedSource(batches), null, options(3)); // burn-in
      const before = tf.memory().numTensors;
      await runTrainingLoop(task, new FixedSource(batches), null, { ...options(3), maxSteps: 2 });
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      dispose();
    }
  });

  test('a task reporting a bad lossWeight is named', async () => {
    const { task, dispose } = rewardMake();
    try {
      const bad: TrainTask<PairBatch> = { ...task, lossWeight: () => NaN };
      await expect(runTrainingLoop(bad, new FixedSource([collatePairs(pairs.slice(0, 2), tokenizer.padId)]), null, options(1))).rejects.toThrow(
        /reward task: lossWeight of micro-batch 1 is NaN; expected a finite number >= 0/,
      );
    } finally {
      dispose();
    }
  });
});
