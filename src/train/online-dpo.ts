/**
 * Online DPO task (TRL 1.13's OnlineDPOTrainer on the shared loop). What differs from offline DPO: a batch is a
 * rollout request (online.ts); prepare() samples two completions per prompt with the current policy, scores
 * them, labels the higher-reward one chosen (a tie goes to the first sample: losses/grpo.ts onlineDpoLabels) and
 * computes the reference's sequence log-probs; forward() is one policy forward over both samples of every prompt
 * and a step of the configured DPO loss (losses/dpo.ts, any loss type) on (chosen, rejected).
 * Log-probs are at temperature 1, as TRL's online DPO (it does not divide by the sampling temperature).
 * TRL's online DPO implements sigmoid and ipo only, its ipo without dividing by token counts; here ipo (and every
 * other type) is DPOTrainer's formula (ipo on token-mean log-probs).
 *
 * Metrics: DPO's (rewards/chosen|rejected|margins|accuracies, logps/chosen|rejected, ...), TRL's online ones
 * (objective/scores, objective/scores_margin, objective/kl = mean Σ_t log πθ − log πref, objective/entropy =
 * mean −Σ_t log πθ, objective/non_score_reward, objective/rlhf_reward, val/contain_eos_token), and under the
 * names GRPO uses, for the eval_ summary: reward (mean score of all samples), kl (= objective/kl), completions/*.
 *
 * Does NOT: read prompt files or build rewards (stages do), or define the DPO losses (losses/dpo.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { dpoLoss, onlineDpoLabels, type DpoLossConfig } from '../losses';
import type { LanguageModel } from '../model/language-model';
import { maskedSums, tokenLogProbs } from '../model/logprobs';
import type { Tokenizer } from '../tokenizer/types';
import type { CheckpointExtras, StepOutputs, TrainTask } from './loop';
import {
  f32, hostTokenLogps, packedTensors, packRollout, rolloutMetrics, sampleRollout, scoreRollout, sequenceSums,
  type OnlineBatch, type PackedRollout, type RewardSet, type SamplingSettings,
} from './online';

export interface OnlineDpoTaskOptions {
  loss: DpoLossConfig;
  /** n is 2 (two samples per prompt). */
  sampling: SamplingSettings;
  reward: RewardSet;
  tokenizer: Tokenizer;
  /** The frozen reference (null only with reference_free). */
  reference: LanguageModel | null;
  seed: number;
}

export interface OnlineDpoPrepared {
  packed: PackedRollout;
  /** Row of the chosen and of the rejected sample, per prompt. */
  chosen: number[];
  rejected: number[];
  /** Reference sequence log-probs per row (zeros when reference_free). */
  refSums: number[];
  host: Record<string, number>;
}

export type OnlineDpoBatch = OnlineBatch<OnlineDpoPrepared>;

export function onlineDpoTask(policy: LanguageModel, o: OnlineDpoTaskOptions, save: (dir: string, extra: CheckpointExtras) => Promise<void>): TrainTask<OnlineDpoBatch> {
  const prepared = (b: OnlineDpoBatch) => {
    if (!b.prepared) throw new Error(`online-dpo task: batch ${b.index} was not prepared; call prepare(batch) before forward(batch)`);
    return b.prepared;
  };
  return {
    kind: 'online-dpo',
    params: policy.weights,
    async prepare(b: OnlineDpoBatch): Promise<void> {
      if (!b.prepared) b.prepared = await prepareOnlineDpo(policy, o, b);
    },
    forward(b: OnlineDpoBatch): StepOutputs {
      const p = prepared(b);
      return tf.tidy(() => {
        const t = packedTensors(p.packed);
        const { sum, count } = maskedSums(tokenLogProbs(policy.logits(t.ids, t.attentionMask), t.ids), t.completionMask); // [2B]
        const pick = (v: tf.Tensor1D, rows: number[]) => tf.gather(v, tf.tensor1d(rows, 'int32')) as tf.Tensor1D;
        const refSums = tf.tensor1d(p.refSums);
        const out = dpoLoss(
          {
            chosenLogps: pick(sum, p.chosen),
            rejectedLogps: pick(sum, p.rejected),
            refChosenLogps: o.loss.reference_free ? undefined : pick(refSums, p.chosen),
            refRejectedLogps: o.loss.reference_free ? undefined : pick(refSums, p.rejected),
            chosenTokens: pick(count, p.chosen),
            rejectedTokens: pick(count, p.rejected),
          },
          o.loss,
        );
        const metrics: Record<string, tf.Scalar> = {};
        const { loss: _l, ...rest } = out.metrics;
        for (const [k, v] of Object.entries(rest)) if (v instanceof tf.Tensor) metrics[k] = v as tf.Scalar;
        const kl = sum.sub(refSums).mean() as tf.Scalar; // TRL's objective/kl: mean over samples of Σ_t (log πθ − log πref)
        metrics['objective/kl'] = kl;
        metrics.kl = kl.clone();
        metrics['objective/entropy'] = sum.neg().mean() as tf.Scalar;
        metrics['objective/non_score_reward'] = kl.mul(-o.loss.beta) as tf.Scalar;
        metrics['objective/rlhf_reward'] = tf.scalar(p.host.reward).sub(kl.mul(o.loss.beta)) as tf.Scalar;
        for (const [k, v] of Object.entries(p.host)) metrics[k] = tf.scalar(v);
        return { loss: out.loss, metrics };
      });
    },
    tokens: (b) => prepared(b).packed.attentionMask.reduce((a, x) => a + x, 0),
    examples: (b) => prepared(b).chosen.length,
    lossWeight: (b) => prepared(b).chosen.length,
    save,
  };
}

async function prepareOnlineDpo(policy: LanguageModel, o: OnlineDpoTaskOptions, b: OnlineDpoBatch): Promise<OnlineDpoPrepared> {
  const rollout = await sampleRollout(policy, o.tokenizer, b, o.sampling, o.seed);
  const scores = await scoreRollout(o.reward, rollout, b);
  const packed = packRollout(rollout, b.prompts, o.tokenizer.padId, false);
  const B = b.prompts.length;
  // Rows are prompt-major: 2i is prompt i's first sample, 2i + 1 its second.
  const first = Array.from({ length: B }, (_, i) => 2 * i);
  const { chosenIsFirst } = onlineDpoLabels(first.map((r) => scores.total[r]), first.map((r) => scores.total[r + 1]));
  const chosen = first.map((r, i) => (chosenIsFirst[i] ? r : r + 1));
  const rejected = first.map((r, i) => (chosenIsFirst[i] ? r + 1 : r));
  let refSums = new Array<number>(packed.rows).fill(0);
  if (o.reference) {
    const ref = await hostTokenLogps(o.reference, packed, 1);
    refSums = sequenceSums(ref, new Float32Array(ref.length), packed.completionMask, packed.rows, packed.seqLen);
  }
  const host = rolloutMetrics(scores, packed);
  const margin = chosen.map((c, i) => scores.total[c] - scores.total[rejected[i]]);
  host['objective/scores'] = host.reward;
  host['objective/scores_margin'] = margin.reduce((a, x) => a + x, 0) / B;
  host['val/contain_eos_token'] = 1 - host['completions/clipped_ratio'];
  host.beta = o.loss.beta;
  return { packed, chosen, rejected, refSums, host };
}

/** A prepared rollout as JSON and back (the source checkpoints one only under num_iterations > 1, which online DPO does not use). */
export const onlineDpoPreparedJson = {
  toJson: (p: OnlineDpoPrepared): unknown => ({ ...p, packed: { ...p.packed, inputIds: Array.from(p.packed.inputIds), attentionMask: f32.toJson(p.packed.attentionMask), completionMask: f32.toJson(p.packed.completionMask), lossMask: f32.toJson(p.packed.lossMask) } }),
  fromJson: (v: unknown): OnlineDpoPrepared => {
    const j = v as OnlineDpoPrepared & { packed: Record<string, unknown> };
    const pk = j.packed as unknown as Record<string, number[]> & PackedRollout;
    return { ...j, packed: { ...pk, inputIds: Int32Array.from(pk.inputIds), attentionMask: f32.fromJson(pk.attentionMask)!, completionMask: f32.fromJson(pk.completionMask)!, lossMask: f32.fromJson(pk.lossMask)! } };
  },
};
