/**
 * Bradley-Terry pairwise loss for reward models, with TRL RewardTrainer's metrics.
 *
 * Does: scores [B] of chosen and rejected completions (+ optional per-pair margin) -> scalar loss and
 * metrics. Does NOT: run the model or pick the last non-pad token (model/ and train/ do that).
 *
 * Loss (Bradley & Terry 1952; as used for RLHF reward models by Ouyang et al. 2022, Eq. 1; the margin
 * variant is Llama 2, Touvron et al. 2023, Eq. 2; the centring term is Eisenstein et al. 2023):
 *   loss = mean_b[ -log σ(r_c,b − r_r,b − m_b) ] + c · mean_b[ (r_c,b + r_r,b)² ]
 * where m_b is the per-pair margin (0 when absent) and c is center_rewards_coefficient (term off when unset).
 *
 * Metrics, exactly as TRL 1.13's RewardTrainer.compute_loss defines them for one batch:
 *   loss         the loss above (TRL logs the trainer loss, which is this value)
 *   accuracy     mean[r_c > r_r]; a tie counts as wrong; the margin column is NOT subtracted
 *   margin       mean(r_c − r_r); again without the margin column
 *   mean_reward, min_reward, max_reward   over all 2B scores (chosen and rejected together)
 */
import * as tf from '@tensorflow/tfjs';
import { LossConfigError, LossInputError } from './errors';
import { LossMetrics } from './metrics';
import { logSigmoid } from './numerics';

export interface RewardLossInput {
  /** r(x, y_c): scores of the chosen completions, [B] or [B, 1] (a score head's output). */
  chosenRewards: tf.Tensor;
  /** r(x, y_r): scores of the rejected completions, same shape as chosenRewards. */
  rejectedRewards: tf.Tensor;
  /** Optional per-pair margin m_b [B] (TRL's `margin` column): the loss asks r_c − r_r to exceed it. */
  margin?: tf.Tensor;
}

export interface RewardLossOptions {
  /** Weight c of the reward-centring penalty mean((r_c + r_r)²); undefined/null turns it off. TRL's name. */
  centerRewardsCoefficient?: number | null;
}

export interface RewardMetrics extends LossMetrics {
  loss: tf.Scalar;
  accuracy: tf.Scalar;
  margin: tf.Scalar;
  mean_reward: tf.Scalar;
  min_reward: tf.Scalar;
  max_reward: tf.Scalar;
}

/** A type alias, not an interface, so it fits tf.tidy's TensorContainer: tf.tidy(() => ...) works. */
export type RewardLossOutput = {
  loss: tf.Scalar;
  metrics: RewardMetrics;
};

/** Scores as [B]: accepts [B] or [B, 1]; anything else is a caller bug named in the message. */
function asVector(t: tf.Tensor, name: string): tf.Tensor1D {
  if (t.rank === 1) return t as tf.Tensor1D;
  if (t.rank === 2 && t.shape[1] === 1) return t.reshape([t.shape[0]]) as tf.Tensor1D;
  throw new LossInputError(`bradleyTerryLoss: ${name} must have shape [B] or [B, 1]; got [${t.shape.join(', ')}]`);
}

function checkInputs(input: RewardLossInput, opts: RewardLossOptions): void {
  const c = input.chosenRewards.shape[0];
  const r = input.rejectedRewards.shape[0];
  if (c !== r) {
    throw new LossInputError(`bradleyTerryLoss: got ${c} chosen rewards but ${r} rejected rewards; they must pair up`);
  }
  if (c === 0) throw new LossInputError('bradleyTerryLoss: the batch is empty (0 pairs)');
  if (input.margin && (input.margin.rank !== 1 || input.margin.shape[0] !== c)) {
    throw new LossInputError(`bradleyTerryLoss: margin must have shape [${c}]; got [${input.margin.shape.join(', ')}]`);
  }
  const k = opts.centerRewardsCoefficient;
  if (k !== undefined && k !== null && !(Number.isFinite(k) && k >= 0)) {
    throw new LossConfigError(`center_rewards_coefficient must be a finite number >= 0 (TRL suggests 0.01); got ${k}`);
  }
}

/** Bradley-Terry loss and TRL's reward metrics for one batch of pairs. See the module header for formulas. */
export function bradleyTerryLoss(input: RewardLossInput, opts: RewardLossOptions = {}): RewardLossOutput {
  checkInputs(input, opts);
  return tf.tidy(() => {
    const rc = asVector(input.chosenRewards, 'chosenRewards');
    const rr = asVector(input.rejectedRewards, 'rejectedRewards');
    const diff = tf.sub(rc, rr); // r_c − r_r
    const logits = input.margin ? tf.sub(diff, input.margin.toFloat()) : diff;
    let loss = tf.neg(tf.mean(logSigmoid(logits))) as tf.Scalar;
    const k = opts.centerRewardsCoefficient;
    if (k !== undefined && k !== null) {
      loss = tf.add(loss, tf.mul(k, tf.mean(tf.square(tf.add(rc, rr))))) as tf.Scalar;
    }
    const all = tf.concat([rc, rr]);
    const metrics: RewardMetrics = {
      loss: loss.clone(), // its own handle: disposing the metrics must not dispose the returned loss
      accuracy: tf.mean(tf.greater(rc, rr).toFloat()) as tf.Scalar,
      margin: tf.mean(diff) as tf.Scalar,
      mean_reward: tf.mean(all) as tf.Scalar,
      min_reward: tf.min(all) as tf.Scalar,
      max_reward: tf.max(all) as tf.Scalar,
    };
    return { loss, metrics };
  });
}
