/**
 * The trainers on packed batches (data/packing.ts) against the padded path they replace by default: for every DPO
 * loss type (and reference_free), the reward loss (with margins and centring) and SFT, the loss, the logged
 * metrics and the gradient of every weight agree within 1e-5 between padded rows and each packed layout (shared
 * prompts, padding-free rows, both); the reference log-probs and the reference cache's keys are the same; and
 * a leak test per mechanism (numTensors unchanged over steps after a burn-in). Runs on the suite's backend: the
 * fused segment kernel on tensorflow, the TF.js bias-mask path on wasm and cpu (RLHF_BACKEND=wasm).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { collatePairs, collateSequences, packPairs, packSequences, type PackOptions, type PairExample, type SequenceExample } from '../../src/data';
import { DPO_LOSS_TYPES, resolveDpoConfig, type DpoLossConfigInput } from '../../src/losses';
import { parseLlamaConfig } from '../../src/model/families/llama';
import { LanguageModel } from '../../src/model/language-model';
import { RewardModel } from '../../src/model/reward';
import type { AnyPairBatch } from '../../src/data/packing';
import { dpoTask } from '../../src/train/dpo';
import { leanVariableGrads } from '../../src/train/grads';
import { BatchSource, LoopOptions, runTrainingLoop, StepOutputs, TrainTask } from '../../src/train/loop';
import { DEFAULT_ADAMW } from '../../src/train/optimizer';
import { pairKeys, referenceSums, ReferenceCache } from '../../src/train/reference';
import { rewardTask } from '../../src/train/reward';
import { sftTask } from '../../src/train/sft';

const config = parseLlamaConfig({
  vocab_size: 40, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 4,
  num_key_value_heads: 2, max_position_embeddings: 64, rms_norm_eps: 1e-5, tie_word_embeddings: true,
});

/** Seeded pairs: prompts of 1-8 tokens shared by both sides, completions of 1-12, some with a common opening. */
function makePairs(n: number, seed: number): PairExample[] {
  let s = seed;
  const rnd = (k: number) => ((s = (s * 1103515245 + 12345) % 2147483648) % k);
  return Array.from({ length: n }, (_, i) => {
    const prompt = [1, ...Array.from({ length: rnd(8) }, () => 3 + rnd(36))];
    const c = Array.from({ length: 1 + rnd(12) }, () => 3 + rnd(36));
    const r = rnd(3) === 0 ? [...c.slice(0, 2), ...Array.from({ length: 1 + rnd(5) }, () => 3 + rnd(36))] : Array.from({ length: 1 + rnd(12) }, () => 3 + rnd(36));
    const record = { prompt: 'p', chosen: 'c', rejected: 'r', id: `p${i}`, source: `t:${i}`, margin: (i % 3) - 1 };
    return { record, chosen: { ids: [...prompt, ...c], completionStart: prompt.length }, rejected: { ids: [...prompt, ...r], completionStart: prompt.length } };
  });
}

const LAYOUTS: [string, PackOptions][] = [
  ['shared prompts', { sharePrompt: true }],
  ['shared prompts, padding-free', { sharePrompt: true, paddingFree: true }],
  ['padding-free', { sharePrompt: false, paddingFree: true }],
  ['shared prompts, padding-free, one row', { sharePrompt: true, paddingFree: true, oneRow: true }],
  ['padding-free, one row', { sharePrompt: false, paddingFree: true, oneRow: true }],
];

interface Step {
  loss: number;
  metrics: Record<string, number>;
  grads: Map<string, Float32Array>;
}

/** A task's loss, metrics and gradients on one batch (as the loop computes them: prepare, then forward under leanVariableGrads). */
async function step<B>(task: TrainTask<B>, batch: B): Promise<Step> {
  if (task.prepare) await task.prepare(batch);
  let metrics: Record<string, number> = {};
  const vars = [...task.params.values()];
  const { value, grads } = leanVariableGrads(() => {
    const out: StepOutputs = task.forward(batch, true);
    metrics = Object.fromEntries(Object.entries(out.metrics).map(([k, v]) => [k, v.dataSync()[0]]));
    return out.loss;
  }, vars);
  const names = new Map([...task.params].map(([n, v]) => [v.name, n]));
  const out = new Map<string, Float32Array>();
  for (const [vn, g] of Object.entries(grads)) out.set(names.get(vn)!, g.dataSync().slice() as Float32Array);
  const loss = value.dataSync()[0];
  tf.dispose([value, grads]);
  return { loss, metrics, grads: out };
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

/** Loss, every metric and every gradient within `tol`; the gradients are not all zero. */
function expectSame(a: Step, b: Step, tol = 1e-5): void {
  expect(Math.abs(a.loss - b.loss)).toBeLessThan(tol);
  expect(Object.keys(b.metrics).sort()).toEqual(Object.keys(a.metrics).sort());
  for (const k of Object.keys(a.metrics)) expect({ k, diff: Math.abs(a.metrics[k] - b.metrics[k]) < tol }).toEqual({ k, diff: true });
  expect([...b.grads.keys()].sort()).toEqual([...a.grads.keys()].sort());
  for (const [k, g] of a.grads) expect({ k, diff: maxDiff(g, b.grads.get(k)!) < tol }).toEqual({ k, diff: true });
  expect(Math.max(...[...a.grads.values()].map((g) => maxDiff(g, new Float32Array(g.length))))).toBeGreaterThan(1e-6);
}

const noSave = async () => {};
const EX = makePairs(6, 17);

describe('DPO: packed batches give the padded path\'s loss, metrics and gradients', () => {
  let policy: LanguageModel;
  let reference: LanguageModel;
  beforeAll(() => {
    policy = LanguageModel.random(config, 1, { std: 0.1 });
    reference = LanguageModel.random(config, 2, { trainable: false, std: 0.1 });
  });
  afterAll(() => {
    policy.dispose();
    reference.dispose();
  });

  /** Settings per loss type: the ones that need a positive label_smoothing get one. */
  const lossFor = (t: string): DpoLossConfigInput => ({ loss_type: t, beta: 0.3, label_smoothing: t === 'exo_pair' ? 1e-3 : t === 'robust' ? 0.1 : 0 });
  const cases: [string, DpoLossConfigInput][] = [
    ...DPO_LOSS_TYPES.map((t) => [t, lossFor(t)] as [string, DpoLossConfigInput]),
    ['sigmoid + sft (weighted), cDPO smoothing', { loss_type: ['sigmoid', 'sft'], loss_weights: [1, 0.5], label_smoothing: 0.2, beta: 0.3 }],
    ['sigmoid, reference_free', { loss_type: 'sigmoid', reference_free: true, beta: 0.3 }],
  ];

  test.each(cases)('%s', async (_name, loss) => {
    // The live reference (prepare) scores each batch in its own layout: the reference pass is shared too.
    const task = dpoTask(policy, { loss: resolveDpoConfig(loss), cache: null, reference }, noSave);
    const padded = await step(task, collatePairs(EX, 0));
    for (const [, opts] of LAYOUTS) expectSame(padded, await step(task, packPairs(EX, 0, opts)));
  });
});

test('the reference pass: the same sums and the same cache keys for padded and packed batches of the same pairs', async () => {
  const reference = LanguageModel.random(config, 2, { trainable: false, std: 0.1 });
  const padded = collatePairs(EX, 0);
  const a = await referenceSums(reference, padded);
  for (const [, opts] of LAYOUTS) {
    const packed = packPairs(EX, 0, opts);
    const b = await referenceSums(reference, packed);
    expect(maxDiff(a.chosen, b.chosen)).toBeLessThan(1e-5);
    expect(maxDiff(a.rejected, b.rejected)).toBeLessThan(1e-5);
    expect(pairKeys(packed)).toEqual(pairKeys(padded));
  }
  // A cache filled from padded batches serves packed ones.
  const cache = new ReferenceCache(null, 'test');
  await cache.fill(reference, [padded]);
  const packed = packPairs(EX, 0, { sharePrompt: true, paddingFree: true });
  await cache.fill(reference, [packed]);
  expect([cache.computed, cache.hits]).toEqual([EX.length, EX.length]);
  expect(Array.from(cache.lookup(packed).chosen)).toEqual(Array.from(cache.lookup(padded).chosen));
  reference.dispose();
});

test('reward (margins, centring): packed batches give the padded path\'s loss, metrics and gradients', async () => {
  const rm = RewardModel.random(config, 3, { scoreStd: 0.5 });
  const task = rewardTask(rm, { centerRewardsCoefficient: 0.01, useMargin: true }, noSave);
  const padded = await step(task, collatePairs(EX, 0));
  for (const [, opts] of LAYOUTS) expectSame(padded, await step(task, packPairs(EX, 0, opts)));
  rm.dispose();
});

test('SFT: padding-free batches (and one row) give the padded path\'s loss and gradients', async () => {
  const model = LanguageModel.random(config, 4, { std: 0.1 });
  const seqs: SequenceExample[] = EX.map((e) => ({ record: e.record, seq: e.chosen }));
  const task = sftTask(model, noSave);
  const padded = collateSequences(seqs, 0);
  const packed = packSequences(seqs, 0);
  expect(packed.rows).toBeLessThan(seqs.length); // several sequences share a row
  expectSame(await step(task, padded), await step(task, packed));
  expect(task.lossWeight(packed)).toBe(task.lossWeight(padded));
  expect(task.tokens(packed)).toBe(task.tokens(padded));
  const one = packSequences(seqs, 0, { oneRow: true });
  expect(one.rows).toBe(1);
  expectSame(await step(task, padded), await step(task, one));
  expect(task.tokens(one)).toBe(task.tokens(padded));
  model.dispose();
});

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

function loopOptions(dir: string, steps: number): LoopOptions {
  return {
    maxSteps: steps, gradientAccumulationSteps: 1, lr: 1e-2, schedule: 'constant', warmupSteps: 0,
    adamw: DEFAULT_ADAMW, maxGradNorm: 1, logEvery: 100, evalEvery: 0, saveEvery: 0, keepLast: 1, outDir: dir, quiet: true,
  };
}

/** One burn-in run (Adam slots, kernels), then 4 steps with an eval: numTensors ends where it started. */
async function leakCheck<B>(task: TrainTask<B>, batches: B[]): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-packed-'));
  await runTrainingLoop(task, new FixedSource(batches), () => batches, loopOptions(dir, 1));
  const before = tf.memory().numTensors;
  await runTrainingLoop(task, new FixedSource(batches), () => batches, loopOptions(dir, 4));
  expect(tf.memory().numTensors).toBe(before);
}

describe('no leaks, per mechanism', () => {
  const pairBatches = (opts: PackOptions): AnyPairBatch[] => [packPairs(makePairs(4, 5), 0, opts), packPairs(makePairs(4, 6), 0, opts)];

  test.each(LAYOUTS)('DPO, %s (live reference, shared reference pass too)', async (_n, opts) => {
    const policy = LanguageModel.random(config, 1);
    const reference = LanguageModel.random(config, 2, { trainable: false });
    await leakCheck(dpoTask(policy, { loss: resolveDpoConfig({ loss_type: ['sigmoid', 'sft'] }), cache: null, reference }, noSave), pairBatches(opts));
    policy.dispose();
    reference.dispose();
  });

  test.each(LAYOUTS)('reward, %s', async (_n, opts) => {
    const rm = RewardModel.random(config, 3);
    await leakCheck(rewardTask(rm, { centerRewardsCoefficient: null, useMargin: true }, noSave), pairBatches(opts));
    rm.dispose();
  });

  test('SFT, padding-free', async () => {
    const model = LanguageModel.random(config, 4);
    const batches = [5, 6].map((seed) => packSequences(makePairs(5, seed).map((e) => ({ record: e.record, seq: e.chosen })), 0));
    await leakCheck(sftTask(model, noSave), batches);
    model.dispose();
  });

  test('DPO on padded rows with the head in chunks (the default log-prob path)', async () => {
    const policy = LanguageModel.random(config, 1);
    const cache = new ReferenceCache(null, 'leak');
    const batches = [collatePairs(makePairs(4, 5), 0), collatePairs(makePairs(4, 6), 0)];
    const reference = LanguageModel.random(config, 2, { trainable: false });
    await cache.fill(reference, batches);
    reference.dispose();
    await leakCheck(dpoTask(policy, { loss: resolveDpoConfig({}), cache, reference: null }, noSave), batches);
    policy.dispose();
  });
});
