/**
 * One benchmark step of each kind, on the active backend, done the way the toolkit does it:
 *   dpo     DPO sigmoid loss, policy chosen+rejected in one forward with each prompt computed once (the default
 *           layout, data/packing.ts; --layout padded: 2B padded rows, as TRL reads them), reference log-probs
 *           precomputed (ReferenceCache, filled before timing, as `rlhf dpo` does by default)
 *   reward  Bradley-Terry on a LlamaForSequenceClassification-layout reward model
 *   sft     next-token NLL on completion tokens
 *   score   compare's per-batch scoring: reward scores, then policy and reference log-probs (no gradients)
 *   sample  batched sampling (model/sample-batch.ts) of the workload's ragged prompts, exactly newTokens new tokens
 *           per row, top-p 0.9; the decoder (native on tensorflow) made once, as a loaded model is, and reused
 *   greedy  the same, greedy
 *   grpo    one GRPO step of the real trainer (grpo-step.ts): 8 prompts × 8 samples × newTokens tokens, reward-model
 *           scores, reference log-probs (β 0.04), advantages, then the update; a fresh rollout every step
 * A training step is train/loop.ts's steps 3)-5) with one micro-batch: leanVariableGrads(task.forward),
 * global-norm clip (1.0), one host read of loss + metrics + grad norm, AdamW update.
 *
 * Does: build the models from checkpoint folders and return a step closure. Does NOT: time it
 * (worker.ts does) or write anything.
 */
import * as tf from '@tensorflow/tfjs';
import { loadPolicy, loadRewardModel } from '../io/load-model';
import type { LanguageModel } from '../model/language-model';
import type { RewardModel } from '../model/reward';
import { resolveDpoConfig } from '../losses';
import type { AnyPairBatch } from '../data/packing';
import { batchLogProbs, batchRewards } from '../model/batch';
import { clipByGlobalNorm } from '../train/clip';
import { dpoTask } from '../train/dpo';
import type { StepOutputs, TrainTask } from '../train/loop';
import { AdamW, DEFAULT_ADAMW } from '../train/optimizer';
import { ReferenceCache } from '../train/reference';
import { rewardTask } from '../train/reward';
import { sftTask } from '../train/sft';
import { leanVariableGrads } from '../train/grads';
import { pairsAsRead, samplePromptIds, sequenceBatch, type Workload } from './workload';
import { pickDecoder } from '../model/decoder';
import { sampleBatch } from '../model/sample-batch';
import { grpoBenchStep } from './grpo-step';

export const STEP_KINDS = ['dpo', 'reward', 'sft', 'score', 'sample', 'greedy', 'grpo'] as const;
export type StepKind = (typeof STEP_KINDS)[number];
/** What `rlhf bench` runs without --kinds (the sampling kinds and grpo are asked for by name). */
export const DEFAULT_KINDS: StepKind[] = ['dpo', 'reward', 'sft', 'score'];
/** The sampling kinds' settings (both sides): top-p 0.9 at temperature 1 (top-k off), or greedy. */
export const SAMPLE_SETTINGS = { sample: { temperature: 1, topP: 0.9 }, greedy: { temperature: 0 } } as const;

/** Settings both sides use (TRL's defaults where it has them). */
export const BENCH_HYPER = { lr: 1e-6, maxGradNorm: 1.0, beta: 0.1, weightDecay: 0 } as const;

export interface ModelDirs {
  /** HF-layout causal LM folder (the policy, and the reference's weights). */
  policy: string;
  /** HF-layout sequence classifier folder (the reward model). */
  reward: string;
}

export interface PreparedStep {
  /** Runs one step to completion (its results read on the host). */
  run(): Promise<void>;
  /** Tokens one step processes (all rows, no padding in the workload); new tokens for the sampling kinds. */
  tokens: number;
  /** Which model's FLOPs count: the LM (policy) or the headless reward model. */
  head: 'lm' | 'score';
  /** Sampling kinds: the decoder that ran (model/decoder.ts). */
  decoder?: string;
  dispose(): void;
}

const noSave = async () => {};

export async function prepareStep(kind: StepKind, dirs: ModelDirs, w: Workload): Promise<PreparedStep> {
  if (kind === 'sample' || kind === 'greedy') return sampler(kind, dirs, w);
  if (kind === 'grpo') {
    const g = grpoBenchStep(dirs, w);
    return trainer(g.task, g.nextBatch, g.tokens, 'lm', () => g.dispose());
  }
  if (kind === 'sft') {
    const policy = loadPolicy(dirs.policy).model;
    return trainer(sftTask(policy, noSave), sequenceBatch(w), w.batch * w.seqLen, 'lm', () => policy.dispose());
  }
  if (kind === 'reward') {
    const rm = loadRewardModel(dirs.reward).model;
    return trainer(rewardTask(rm, { centerRewardsCoefficient: null, useMargin: false }, noSave), pairsAsRead(w), 2 * w.batch * w.seqLen, 'score', () => rm.dispose());
  }
  if (kind === 'dpo') {
    const policy = loadPolicy(dirs.policy).model;
    const reference = policy.clone({ trainable: false });
    const batch = pairsAsRead(w);
    const cache = new ReferenceCache(null, 'bench');
    await cache.fill(reference, [batch]); // precomputed before training, as `rlhf dpo` does
    reference.dispose();
    const task = dpoTask(policy, { loss: resolveDpoConfig({ loss_type: 'sigmoid', beta: BENCH_HYPER.beta }), cache, reference: null }, noSave);
    return trainer(task, batch, 2 * w.batch * w.seqLen, 'lm', () => policy.dispose());
  }
  const policy = loadPolicy(dirs.policy, { trainable: false }).model;
  const reference = policy.clone({ trainable: false });
  const rm = loadRewardModel(dirs.reward, { trainable: false }).model;
  const batch = pairsAsRead(w);
  return {
    run: () => scoreBatch(policy, reference, rm, batch),
    tokens: 2 * w.batch * w.seqLen,
    head: 'lm',
    dispose: () => [policy, reference, rm].forEach((m) => m.dispose()),
  };
}

/** A training step as the loop runs it (one micro-batch); `batch` may be a function giving each step's batch. */
function trainer<B>(task: TrainTask<B>, batchOrNext: B | (() => B), tokens: number, head: 'lm' | 'score', free: () => void): PreparedStep {
  const nextBatch = typeof batchOrNext === 'function' ? (batchOrNext as () => B) : () => batchOrNext;
  const optimizer = new AdamW(task.params, { ...DEFAULT_ADAMW, weightDecay: BENCH_HYPER.weightDecay });
  const varToName = new Map<string, string>();
  for (const [name, v] of task.params) varToName.set(v.name, name);
  const vars = [...task.params.values()];
  return {
    tokens,
    head,
    async run() {
      const batch = nextBatch();
      if (task.prepare) await task.prepare(batch);
      let kept: StepOutputs | null = null;
      const { value, grads } = leanVariableGrads(() => {
        const out = task.forward(batch, true);
        kept = { loss: tf.keep(out.loss.clone()), metrics: Object.fromEntries(Object.entries(out.metrics).map(([k, v]) => [k, tf.keep(v.clone())])) };
        return out.loss;
      }, vars);
      value.dispose();
      const named = new Map<string, tf.Tensor>();
      for (const [vn, g] of Object.entries(grads)) named.set(varToName.get(vn) ?? vn, g);
      const { grads: clipped, norm } = clipByGlobalNorm(named, BENCH_HYPER.maxGradNorm);
      tf.dispose(Object.values(grads));
      const out = kept! as StepOutputs;
      const packed = tf.tidy(() => tf.stack([out.loss, ...Object.values(out.metrics), norm]));
      const values = await packed.data(); // the step's one host sync
      tf.dispose([packed, out.loss, ...Object.values(out.metrics), norm]);
      if (!Number.isFinite(values[0])) throw new Error(`bench ${task.kind} step: loss is ${values[0]}`);
      optimizer.apply(clipped, BENCH_HYPER.lr);
      tf.dispose([...clipped.values()]);
    },
    dispose() {
      optimizer.dispose();
      free();
    },
  };
}

/** compare/scoring.ts's work for one batch of B pairs: explicit scores, then summed log-probs. */
async function scoreBatch(policy: LanguageModel, reference: LanguageModel, rm: RewardModel, b: AnyPairBatch): Promise<void> {
  const B = b.size;
  const scores = tf.tidy(() => batchRewards(rm, b));
  await scores.data();
  scores.dispose();
  const packed = tf.tidy(() => {
    const pol = batchLogProbs(policy, b, 2 * B);
    return tf.concat([pol.sum, pol.count, batchLogProbs(reference, b, 2 * B).sum]);
  });
  await packed.data();
  packed.dispose();
}

/** One batched sampling run over the workload's prompts; fails if a row stopped short (then tokens would lie). */
function sampler(kind: 'sample' | 'greedy', dirs: ModelDirs, w: Workload): PreparedStep {
  const policy = loadPolicy(dirs.policy, { trainable: false }).model;
  const decoder = pickDecoder(policy);
  const prompts = samplePromptIds(w);
  return {
    tokens: prompts.length * w.newTokens,
    head: 'lm',
    decoder: decoder.name,
    async run() {
      const rows = await sampleBatch(policy, prompts, { ...SAMPLE_SETTINGS[kind], maxNewTokens: w.newTokens, stopTokenIds: [], seed: 1, decoder });
      const short = rows.find((r) => r.tokens.length !== w.newTokens);
      if (short) throw new Error(`bench ${kind}: row ${short.promptIndex} made ${short.tokens.length} tokens, not ${w.newTokens} (${short.finishReason})`);
    },
    dispose() {
      decoder.dispose();
      policy.dispose();
    },
  };
}
