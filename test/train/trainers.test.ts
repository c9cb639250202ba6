/**
 * The three trainers on the shared loop with a tiny random model and hand-built batches:
 * weights change, the DPO reference does not, and no tensor leaks after a burn-in step.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { parseLlamaConfig } from '../../src/model/families/llama';
import { LanguageModel } from '../../src/model/language-model';
import { RewardModel } from '../../src/model/reward';
import { resolveDpoConfig } from '../../src/losses';
import { BatchSource, runTrainingLoop, LoopOptions, TrainTask } from '../../src/train/loop';
import type { PairBatch } from '../../src/data/collate';
import { sftTask } from '../../src/train/sft';
import { rewardTask } from '../../src/train/reward';
import { dpoTask } from '../../src/train/dpo';
import { ReferenceCache, fingerprintWeights, pairKeys } from '../../src/train/reference';
import { DEFAULT_ADAMW } from '../../src/train/optimizer';

const config = parseLlamaConfig({
  vocab_size: 32, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 1, num_attention_heads: 2,
  num_key_value_heads: 1, max_position_embeddings: 32, rms_norm_eps: 1e-5, tie_word_embeddings: true,
});

/** Pairs whose chosen completions use even token ids and rejected ones odd ids (learnable). */
function makePairBatch(B: number, T: number, seed: number): PairBatch {
  const ids = new Int32Array(2 * B * T);
  const attn = new Float32Array(2 * B * T);
  const comp = new Float32Array(2 * B * T);
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let i = 0; i < B; i++) {
    const len = T - (i % 3);
    for (const [row, parity] of [[i, 0], [B + i, 1]] as const) {
      for (let t = 0; t < len; t++) {
        ids[row * T + t] = t < 3 ? 1 + t : 2 * Math.floor(rnd() * 15) + parity + 2;
        attn[row * T + t] = 1;
        comp[row * T + t] = t >= 3 ? 1 : 0;
      }
    }
  }
  return { size: B, seqLen: T, inputIds: ids, attentionMask: attn, completionMask: comp, records: [] };
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

const noSave = async () => {};

function loopOptions(dir: string, steps: number): LoopOptions {
  return {
    maxSteps: steps, gradientAccumulationSteps: 1, lr: 1e-2, schedule: 'constant', warmupSteps: 0,
    adamw: DEFAULT_ADAMW, maxGradNorm: 1, logEvery: 100, evalEvery: 0, saveEvery: 0, keepLast: 1, outDir: dir, quiet: true,
  };
}

const snapshot = (w: Map<string, tf.Variable>) => new Map([...w].map(([k, v]) => [k, Array.from(v.dataSync())]));
const changed = (a: Map<string, number[]>, w: Map<string, tf.Variable>) =>
  [...w].filter(([k, v]) => Array.from(v.dataSync()).some((x, i) => x !== a.get(k)![i])).length;

async function leakCheck<B>(task: TrainTask<B>, batches: B[], dir: string) {
  await runTrainingLoop(task, new FixedSource(batches), null, loopOptions(dir, 1)); // burn-in (Adam slots)
  const before = tf.memory().numTensors;
  await runTrainingLoop(task, new FixedSource(batches), null, loopOptions(dir, 3));
  // The optimiser is created and disposed per run, so a leak-free loop ends where it started.
  expect(tf.memory().numTensors).toBe(before);
}

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-train-'));

describe('trainers on the shared loop', () => {
  test('SFT: loss falls, weights change, no leaks', async () => {
    const model = LanguageModel.random(config, 1);
    const b = makePairBatch(4, 10, 3);
    const seq = { ...b, inputIds: b.inputIds.slice(0, 40), attentionMask: b.attentionMask.slice(0, 40), completionMask: b.completionMask.slice(0, 40) };
    const before = snapshot(model.weights);
    const dir = tmp();
    const res = await runTrainingLoop(sftTask(model, noSave), new FixedSource([seq]), () => [seq], loopOptions(dir, 15));
    expect(changed(before, model.weights)).toBe(model.weights.size);
    const rows = fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(rows[rows.length - 2].loss).toBeLessThan(rows[0].loss);
    expect(res.eval!.eval_loss).toBeLessThan(rows[0].loss);
    await leakCheck(sftTask(model, noSave), [seq], dir);
    model.dispose();
  });

  test('reward: accuracy rises to 1 on a separable toy, every weight moves, no leaks', async () => {
    const rm = RewardModel.random(config, 2);
    const before = snapshot(rm.weights);
    const batches = [makePairBatch(4, 10, 5), makePairBatch(4, 10, 6)];
    const dir = tmp();
    const res = await runTrainingLoop(rewardTask(rm, { centerRewardsCoefficient: null, useMargin: false }, noSave), new FixedSource(batches), () => batches, loopOptions(dir, 30));
    expect(res.eval!.eval_accuracy).toBe(1);
    // Tied model: every backbone weight and the score head take part.
    expect(changed(before, rm.weights)).toBe(rm.weights.size);
    await leakCheck(rewardTask(rm, { centerRewardsCoefficient: null, useMargin: false }, noSave), batches, dir);
    rm.dispose();
  });

  test('DPO with a precomputed reference: policy moves, reference untouched, rewards/accuracies rise, no leaks', async () => {
    const policy = LanguageModel.random(config, 3);
    const reference = LanguageModel.random(config, 3, { trainable: false });
    const refBefore = snapshot(reference.weights);
    const polBefore = snapshot(policy.weights);
    const batches = [makePairBatch(4, 10, 7), makePairBatch(4, 10, 8)];
    const cache = ReferenceCache.at(null, await fingerprintWeights(reference.weights));
    await cache.fill(reference, batches);
    expect(cache.size).toBe(8);
    // At step 0 the policy equals the reference, so the implicit rewards are exactly 0.
    const task = dpoTask(policy, { loss: resolveDpoConfig({ beta: 0.5 }), cache, reference: null }, noSave);
    const first = tf.tidy(() => task.forward(batches[0], false) as unknown as tf.TensorContainer) as unknown as ReturnType<typeof task.forward>;
    expect(first.loss.dataSync()[0]).toBeCloseTo(Math.log(2), 5);
    expect(first.metrics['rewards/accuracies'].dataSync()[0]).toBe(0);
    tf.dispose(first as unknown as tf.TensorContainer);
    const dir = tmp();
    const res = await runTrainingLoop(task, new FixedSource(batches), () => batches, loopOptions(dir, 30));
    expect(res.eval!['eval_rewards/accuracies']).toBe(1);
    expect(changed(refBefore, reference.weights)).toBe(0);
    expect(changed(polBefore, policy.weights)).toBe(policy.weights.size);
    await leakCheck(task, batches, dir);
    policy.dispose();
    reference.dispose();
  });

  test('DPO with an on-the-fly reference equals the cached one', async () => {
    const policy = LanguageModel.random(config, 4);
    const reference = LanguageModel.random(config, 9, { trainable: false });
    const batch = makePairBatch(3, 9, 11);
    const cache = ReferenceCache.at(null, 'x');
    await cache.fill(reference, [batch]);
    const loss = resolveDpoConfig({ beta: 0.1, loss_type: ['sigmoid', 'ipo'] });
    const a = tf.tidy(() => dpoTask(policy, { loss, cache, reference: null }, noSave).forward(batch, false).loss.dataSync()[0]);
    const live = dpoTask(policy, { loss, cache: null, reference }, noSave);
    expect(() => live.forward(batch, false)).toThrow(/call prepare\(batch\) before forward/);
    await live.prepare!(batch);
    const b = tf.tidy(() => live.forward(batch, false).loss.dataSync()[0]);
    expect(Math.abs(a - b)).toBeLessThan(1e-6);
    policy.dispose();
    reference.dispose();
  });

  test('reference cache persists, is reused by key, and keys depend on the exact tokens', async () => {
    const reference = LanguageModel.random(config, 5, { trainable: false });
    const dir = tmp();
    const fp = await fingerprintWeights(reference.weights);
    const batch = makePairBatch(2, 8, 1);
    const c1 = ReferenceCache.at(dir, fp);
    await c1.fill(reference, [batch]);
    c1.save();
    const c2 = ReferenceCache.at(dir, fp);
    await c2.fill(reference, [batch]);
    expect(c2.computed).toBe(0);
    expect(c2.hits).toBe(2);
    expect(c2.lookup(batch)).toEqual(c1.lookup(batch));
    const other = makePairBatch(2, 8, 2);
    expect(pairKeys(other)).not.toEqual(pairKeys(batch));
    // A different reference gets a different file.
    const fp2 = await fingerprintWeights(LanguageModel.random(config, 6).weights);
    expect(fp2).not.toBe(fp);
    reference.dispose();
  });

  test('a NaN loss stops the run with a clear message and no update', async () => {
    const model = LanguageModel.random(config, 1);
    const b = makePairBatch(2, 8, 3);
    const seq = { ...b, inputIds: b.inputIds.slice(0, 16), attentionMask: b.attentionMask.slice(0, 16), completionMask: b.completionMask.slice(0, 16) };
    const base = sftTask(model, noSave);
    const bad: TrainTask<typeof seq> = { ...base, forward: (x, tr) => { const o = base.forward(x, tr); return { loss: tf.tidy(() => o.loss.mul(NaN)) as tf.Scalar, metrics: o.metrics }; } };
    const before = snapshot(model.weights);
    await expect(runTrainingLoop(bad, new FixedSource([seq]), null, loopOptions(tmp(), 3))).rejects.toThrow(
      /step 1: the loss \(NaN\) is not finite; the run stopped without applying this update/,
    );
    expect(changed(before, model.weights)).toBe(0);
    model.dispose();
  });
});
