/**
 * Reward-model task: Bradley-Terry on scores read at the last real token of chosen and rejected sequences,
 * both scored in one forward (2B padded rows, or packed rows with each prompt computed once). Metrics carry TRL RewardTrainer's names.
 */
import * as tf from '@tensorflow/tfjs';
import type { RewardModel } from '../model/reward';
import { bradleyTerryLoss } from '../losses';
import { batchRewards } from '../model/batch';
import type { AnyPairBatch } from '../data/packing';
import { batchTokens } from '../data/tensors';
import type { StepOutputs, CheckpointExtras, TrainTask } from './loop';

export interface RewardTaskOptions {
  centerRewardsCoefficient: number | null;
  useMargin: boolean;
}

export function rewardTask(
  model: RewardModel,
  opts: RewardTaskOptions,
  save: (dir: string, extra: CheckpointExtras) => Promise<void>,
): TrainTask<AnyPairBatch> {
  return {
    kind: 'reward',
    params: model.weights,
    forward(batch: AnyPairBatch): StepOutputs {
      return tf.tidy(() => {
        const B = batch.size;
        const scores = batchRewards(model, batch); // [2B]
        const out = bradleyTerryLoss(
          {
            chosenRewards: scores.slice([0], [B]),
            rejectedRewards: scores.slice([B], [B]),
            margin: opts.useMargin && batch.margins ? tf.tensor1d(batch.margins) : undefined,
          },
          { centerRewardsCoefficient: opts.centerRewardsCoefficient },
        );
        const metrics: Record<string, tf.Scalar> = {};
        for (const [k, v] of Object.entries(out.metrics)) if (k !== 'loss' && v instanceof tf.Tensor) metrics[k] = v as tf.Scalar;
        return { loss: out.loss, metrics };
      });
    },
    tokens: batchTokens,
    examples: (b) => b.size,
    // Every term (Bradley-Terry, margin, centring) is a mean over pairs, so pairs weigh accumulated micro-batches.
    lossWeight: (b) => b.size,
    save,
  };
}
