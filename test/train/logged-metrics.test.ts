/**
 * What the shared loop logs under TRL's names, on a one-parameter task with hand-set values: num_tokens is
 * the running total of every non-pad training token (all micro-batches, continued on resume, absent when a
 * resumed checkpoint did not record it), and eval metrics are TRL's averages (eval_loss weighted by examples,
 * every other metric a plain mean over batches, min_/max_ included). TRL itself is compared in test/parity.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { METRICS_FILE } from '../../src/io/checkpoint';
import { BatchSource, evaluate, LoopOptions, runTrainingLoop, TrainerState, TrainTask } from '../../src/train/loop';

interface Fake {
  n: number;
  tokens: number;
  loss: number;
  accuracy: number;
  min_reward: number;
}

function fakeTask(w: tf.Variable): TrainTask<Fake> {
  return {
    kind: 'reward',
    params: new Map([['w', w]]),
    forward: (b) => tf.tidy(() => ({
      loss: w.mul(b.loss) as tf.Scalar,
      metrics: { accuracy: tf.scalar(b.accuracy), min_reward: tf.scalar(b.min_reward) },
    })),
    tokens: (b) => b.tokens,
    examples: (b) => b.n,
    lossWeight: (b) => b.n,
    save: async () => {},
  };
}

class Cycle implements BatchSource<Fake> {
  i = 0;
  constructor(private readonly batches: Fake[]) {}
  get batchesPerEpoch() {
    return this.batches.length;
  }
  next(): Fake {
    return this.batches[this.i++ % this.batches.length];
  }
  getState() {
    return { i: this.i };
  }
  setState(s: unknown) {
    this.i = (s as { i: number }).i;
  }
}

const batch = (tokens: number): Fake => ({ n: 4, tokens, loss: 1, accuracy: 1, min_reward: 0 });

function options(outDir: string, over: Partial<LoopOptions> = {}): LoopOptions {
  return {
    maxSteps: 2, gradientAccumulationSteps: 2, lr: 1e-3, schedule: 'constant', warmupSteps: 0,
    adamw: { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 }, maxGradNorm: 1, logEvery: 1, evalEvery: 0,
    saveEvery: 0, keepLast: 1, outDir, quiet: true, ...over,
  };
}

const trainRows = (dir: string): Record<string, number>[] =>
  fs.readFileSync(path.join(dir, METRICS_FILE), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => 'loss' in r);

let tmp: string;
beforeAll(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'logged-metrics-'))));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('eval: loss weighted by examples, other metrics (min_reward too) a plain mean over batches, as TRL', async () => {
  const w = tf.variable(tf.scalar(1));
  const out = await evaluate(fakeTask(w), [
    { n: 4, tokens: 0, loss: 1, accuracy: 1, min_reward: -1 },
    { n: 2, tokens: 0, loss: 4, accuracy: 0, min_reward: -3 },
  ]);
  expect(out).toEqual({ loss: (4 * 1 + 2 * 4) / 6, accuracy: 0.5, min_reward: -2 });
  w.dispose();
});

test('num_tokens: every micro-batch\'s tokens, summed over the run (not per step)', async () => {
  const w = tf.variable(tf.scalar(1));
  const dir = path.join(tmp, 'fresh');
  const res = await runTrainingLoop(fakeTask(w), new Cycle([batch(10), batch(20), batch(30), batch(40)]), null, options(dir));
  expect(trainRows(dir).map((r) => r.num_tokens)).toEqual([30, 100]);
  expect(res.train.num_tokens).toBe(100);
  w.dispose();
});

test('resume: num_tokens continues from the checkpoint; a checkpoint without it logs none rather than a restarted count', async () => {
  const state = (numTokens?: number): TrainerState => ({
    format: 'rlhf-trainer-state/v1', step: 1, optimizerStep: 0, dataState: { i: 2 }, bestEval: null, options: {},
    ...(numTokens === undefined ? {} : { numTokens }),
  });
  for (const [name, recorded, expected] of [['with', 30, [100]], ['without', undefined, [undefined]]] as const) {
    const w = tf.variable(tf.scalar(1));
    const dir = path.join(tmp, name);
    await runTrainingLoop(fakeTask(w), new Cycle([batch(10), batch(20), batch(30), batch(40)]), null, options(dir, {
      resumeFrom: { dir: path.join(tmp, 'none'), state: state(recorded), optimizerTensors: new Map() },
    }));
    expect(trainRows(dir).map((r) => r.num_tokens)).toEqual(expected);
    w.dispose();
  }
});
