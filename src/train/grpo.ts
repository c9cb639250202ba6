/**
 * GRPO / RLOO task (TRL 1.13's GRPOTrainer and RLOOTrainer on the shared loop). What differs from the offline
 * trainers: a batch is a rollout request (online.ts), and prepare() does the RL part outside the gradient tape:
 * sample num_generations completions per prompt with the current policy, score them, pack the rows, reference
 * log-probs (β > 0, and always for held-out rollouts so eval_kl is measured), old log-probs (num_iterations > 1,
 * or RLOO's KL-in-reward) and the advantages. forward() is one policy forward at the sampling temperature and the
 * loss of losses/grpo.ts.
 *
 * Metrics (TRL's names): reward, reward_std, rewards/<name>/mean|std, frac_reward_zero_std, completions/*, kl
 * (GRPO: masked token mean of k3; RLOO: of log πold − log πref), entropy (masked token mean at the sampling
 * temperature), clip_ratio/*. Held-out rollouts give the same names with eval_ (eval_reward, eval_kl); with β = 0
 * the reference is loaded for them only (loadReference) and freed at once, so training holds none.
 * Accumulation: dapo's loss is a sum over tokens / the step's tokens, so micro-batches weigh by their loss tokens;
 * the other aggregations are means over completions (equal micro-batches weigh equally), as TRL.
 *
 * Does NOT: read prompt files or build rewards (stages do), or define the loss formulas (losses/grpo.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { grpoAdvantages, grpoLoss, perTokenKl, rlooAdvantages, rlooLoss, type GrpoLossConfig } from '../losses';
import type { LanguageModel } from '../model/language-model';
import type { Tokenizer } from '../tokenizer/types';
import type { CheckpointExtras, StepOutputs, TrainTask } from './loop';
import {
  EVAL_ROLLOUT, f32, hostTokenLogps, packedTensors, packRollout, rolloutMetrics, sampleRollout, scaledTokenLogps, scoreRollout, sequenceSums, tokenEntropies,
  type OnlineBatch, type PackedRollout, type RewardSet, type SamplingSettings,
} from './online';

export interface GrpoTaskOptions {
  loss: GrpoLossConfig;
  sampling: SamplingSettings;
  reward: RewardSet;
  tokenizer: Tokenizer;
  /** The frozen reference, held when β > 0. */
  reference: LanguageModel | null;
  /** Loads the reference for held-out rollouts when none is held (β = 0); the task disposes what it returns. */
  loadReference: (() => LanguageModel) | null;
  /** Base seed of the sampling streams. */
  seed: number;
}

/** What prepare() computes once per rollout (reused by num_iterations steps; checkpointed between them). */
export interface GrpoPrepared {
  packed: PackedRollout;
  advantages: number[];
  oldLogps?: Float32Array;
  refLogps?: Float32Array;
  /** Host metrics of the rollout (reward, completions/*, frac_reward_zero_std, RLOO's kl). */
  host: Record<string, number>;
}

export type GrpoBatch = OnlineBatch<GrpoPrepared>;

export function grpoTask(policy: LanguageModel, o: GrpoTaskOptions, save: (dir: string, extra: CheckpointExtras) => Promise<void>): TrainTask<GrpoBatch> {
  const c = o.loss;
  const T = o.sampling.temperature > 0 ? o.sampling.temperature : 1; // greedy rollouts: log-probs at T = 1
  const rloo = c.advantage === 'rloo';
  const prepared = (b: GrpoBatch) => {
    if (!b.prepared) throw new Error(`${rloo ? 'rloo' : 'grpo'} task: batch ${b.index} was not prepared; call prepare(batch) before forward(batch)`);
    return b.prepared;
  };
  return {
    kind: rloo ? 'rloo' : 'grpo',
    params: policy.weights,
    async prepare(b: GrpoBatch): Promise<void> {
      if (b.prepared) return; // a reused rollout (num_iterations > 1)
      b.prepared = await prepareRollout(policy, o, b, T);
    },
    forward(b: GrpoBatch): StepOutputs {
      const p = prepared(b);
      return tf.tidy(() => {
        const t = packedTensors(p.packed);
        const shape: [number, number] = [p.packed.rows, p.packed.seqLen];
        const logits = policy.logits(t.ids, t.attentionMask); // [R, L, V]
        const logps = scaledTokenLogps(logits, t.ids, T); // [R, L]
        // With one iteration per rollout πold is πθ detached (the losses do that when no old log-probs are given).
        const old = c.num_iterations > 1 && p.oldLogps ? tf.tensor2d(p.oldLogps, shape) : undefined;
        const ref = p.refLogps ? tf.tensor2d(p.refLogps, shape) : undefined;
        const advantages = tf.tensor1d(p.advantages);
        const out = rloo
          ? rlooLoss({ perTokenLogps: logps, oldPerTokenLogps: old, advantages, mask: t.lossMask }, c)
          : grpoLoss(
              { perTokenLogps: logps, oldPerTokenLogps: old, refPerTokenLogps: c.beta !== 0 ? ref : undefined, advantages, mask: t.lossMask,
                maxCompletionLength: o.sampling.maxNewTokens, numItemsInBatch: sum(p.packed.lossMask) },
              c,
            );
        const metrics: Record<string, tf.Scalar> = { ...out.metrics };
        const mask = t.lossMask;
        const maskedMean = (x: tf.Tensor) => x.mul(mask).sum().div(mask.sum().maximum(1)) as tf.Scalar;
        metrics.entropy = maskedMean(tokenEntropies(logits, T));
        if (!rloo && ref) metrics.kl = maskedMean(perTokenKl(logps, ref)); // also on held-out rollouts with β = 0
        for (const [k, v] of Object.entries(p.host)) metrics[k] = tf.scalar(v);
        return { loss: out.loss, metrics };
      });
    },
    tokens: (b) => sum(prepared(b).packed.attentionMask),
    examples: (b) => prepared(b).packed.rows,
    lossWeight: (b) => (!rloo && c.loss_type === 'dapo' ? sum(prepared(b).packed.lossMask) : prepared(b).packed.rows),
    save,
  };
}

/** Sampling, scoring, packing, reference / old log-probs and advantages of one rollout. */
async function prepareRollout(policy: LanguageModel, o: GrpoTaskOptions, b: GrpoBatch, T: number): Promise<GrpoPrepared> {
  const c = o.loss;
  const rloo = c.advantage === 'rloo';
  const heldOut = b.index >= EVAL_ROLLOUT;
  const rollout = await sampleRollout(policy, o.tokenizer, b, o.sampling, o.seed);
  const scores = await scoreRollout(o.reward, rollout, b);
  const packed = packRollout(rollout, b.prompts, o.tokenizer.padId, c.mask_truncated_completions);
  const refLogps = await referenceLogps(o, packed, T, heldOut);
  const oldLogps = c.num_iterations > 1 || (rloo && c.beta !== 0) ? await hostTokenLogps(policy, packed, T) : undefined;
  const host = rolloutMetrics(scores, packed);
  let advantages: number[];
  if (rloo) {
    const kl = c.beta !== 0 ? sequenceSums(oldLogps!, refLogps!, packed.lossMask, packed.rows, packed.seqLen) : undefined;
    const a = rlooAdvantages(scores.total, o.sampling.n, { beta: c.beta, sequenceKl: kl, normalize: c.normalize_advantages });
    advantages = a.advantages;
    host.frac_reward_zero_std = a.fracRewardZeroStd;
    if (refLogps) {
      const lp = oldLogps ?? (await hostTokenLogps(policy, packed, T));
      host.kl = sequenceSums(lp, refLogps, packed.lossMask, packed.rows, packed.seqLen).reduce((x, y) => x + y, 0) / Math.max(sum(packed.lossMask), 1);
    }
  } else {
    const a = grpoAdvantages(scores.total, o.sampling.n, c.scale_rewards);
    advantages = a.advantages;
    host.frac_reward_zero_std = a.fracRewardZeroStd;
  }
  return { packed, advantages, oldLogps, refLogps, host };
}

/** Reference log-probs when the loss needs them (β > 0) or the rollout is held out (eval_kl); else none. */
async function referenceLogps(o: GrpoTaskOptions, packed: PackedRollout, T: number, heldOut: boolean): Promise<Float32Array | undefined> {
  if (o.reference && (o.loss.beta !== 0 || heldOut)) return hostTokenLogps(o.reference, packed, T);
  if (!heldOut || !o.loadReference) return undefined;
  const ref = o.loadReference();
  try {
    return await hostTokenLogps(ref, packed, T);
  } finally {
    ref.dispose();
  }
}

function sum(a: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
}

/** A prepared rollout as JSON (a checkpoint taken between the num_iterations uses of one rollout) and back. */
export const grpoPreparedJson = {
  toJson: (p: GrpoPrepared): unknown => ({
    packed: { ...p.packed, inputIds: Array.from(p.packed.inputIds), attentionMask: f32.toJson(p.packed.attentionMask), completionMask: f32.toJson(p.packed.completionMask), lossMask: f32.toJson(p.packed.lossMask) },
    advantages: p.advantages,
    oldLogps: f32.toJson(p.oldLogps),
    refLogps: f32.toJson(p.refLogps),
    host: p.host,
  }),
  fromJson: (v: unknown): GrpoPrepared => {
    const j = v as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    const pk = j.packed;
    return {
      packed: { ...pk, inputIds: Int32Array.from(pk.inputIds), attentionMask: f32.fromJson(pk.attentionMask)!, completionMask: f32.fromJson(pk.completionMask)!, lossMask: f32.fromJson(pk.lossMask)! },
      advantages: j.advantages,
      oldLogps: f32.fromJson(j.oldLogps),
      refLogps: f32.fromJson(j.refLogps),
      host: j.host,
    };
  },
};
