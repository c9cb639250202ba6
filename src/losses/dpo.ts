/**
 * The DPO family of pairwise preference losses on sequence log-probabilities, with TRL's metrics.
 *
 * Does: per-pair sums of completion log-probs (policy and reference) [+ completion token counts] ->
 * scalar loss (weighted sum over loss types), implicit rewards, metrics. Formulas follow TRL 1.13's
 * DPOTrainer._compute_loss term by term (names too); each function cites its paper.
 * Does NOT: run models, compute log-probs from logits, cache reference log-probs, or validate recipe
 * files (settings are checked in dpo-config.ts).
 *
 * Notation (TRL's): chosenLogratios  = log πθ(y_c|x) − log πref(y_c|x)
 *                   rejectedLogratios = log πθ(y_r|x) − log πref(y_r|x)
 *                   logits = chosenLogratios − rejectedLogratios   (TRL 1.13 calls it delta_score)
 * Every per-pair loss is averaged over the batch, then the loss types are summed with loss_weights.
 */
import * as tf from '@tensorflow/tfjs';
import { DpoLossConfig, DpoLossConfigInput, DpoLossType, DPO_LOSS_TYPES_NEEDING_TOKEN_COUNTS, resolveDpoConfig } from './dpo-config';
import { LossInputError } from './errors';
import { LossMetrics } from './metrics';
import { logSigmoid, safeCounts, sortDescending } from './numerics';

/** Completion token counts per sequence: a [B] tensor or plain numbers. */
export type TokenCounts = tf.Tensor1D | readonly number[];

export interface DpoLossInput {
  /** log πθ(y_c|x): policy log-prob of each chosen completion, summed over its tokens (prompt/pad masked), [B]. */
  chosenLogps: tf.Tensor1D;
  /** log πθ(y_r|x), same for the rejected completions, [B]. */
  rejectedLogps: tf.Tensor1D;
  /** log πref(y_c|x), [B]; required unless reference_free. */
  refChosenLogps?: tf.Tensor1D;
  /** log πref(y_r|x), [B]; required unless reference_free. */
  refRejectedLogps?: tf.Tensor1D;
  /** Completion token counts of the chosen sequences [B]; required by ipo, sigmoid_norm and sft. */
  chosenTokens?: TokenCounts;
  /** Completion token counts of the rejected sequences [B]; required by ipo and sigmoid_norm. */
  rejectedTokens?: TokenCounts;
}

/** The quantities each loss reads, named after the papers / TRL. Tensors are [B] unless noted. */
export interface DpoTerms {
  beta: number;
  labelSmoothing: number;
  discopopTau: number;
  chosenLogps: tf.Tensor1D;
  rejectedLogps: tf.Tensor1D;
  refChosenLogps: tf.Tensor1D;
  refRejectedLogps: tf.Tensor1D;
  chosenLogratios: tf.Tensor1D;
  rejectedLogratios: tf.Tensor1D;
  logits: tf.Tensor1D;
  /** Token counts clamped to >= 1 (present when the loss types need them). */
  chosenTokens?: tf.Tensor1D;
  rejectedTokens?: tf.Tensor1D;
}

export interface DpoMetrics extends LossMetrics {
  loss: tf.Scalar;
  'rewards/chosen': tf.Scalar;
  'rewards/rejected': tf.Scalar;
  'rewards/accuracies': tf.Scalar;
  'rewards/margins': tf.Scalar;
  'logps/chosen': tf.Scalar;
  'logps/rejected': tf.Scalar;
}

/** A type alias, not an interface, so it fits tf.tidy's TensorContainer: tf.tidy(() => ...) works. */
export type DpoLossOutput = {
  loss: tf.Scalar;
  /** Implicit rewards β·chosenLogratios, [B]. */
  chosenRewards: tf.Tensor1D;
  /** Implicit rewards β·rejectedLogratios, [B]. */
  rejectedRewards: tf.Tensor1D;
  metrics: DpoMetrics;
};

/** A per-pair loss: returns [B] (or a scalar, for batch-level terms such as sft). */
export type DpoLossFn = (t: DpoTerms) => tf.Tensor;

const need = (x: tf.Tensor1D | undefined, lossType: string, name: string): tf.Tensor1D => {
  if (!x) throw new LossInputError(`dpo loss "${lossType}" needs ${name} (completion token counts) among its inputs`);
  return x;
};

/** −(1−ε)·log σ(z) − ε·log σ(−z): the label-smoothed logistic loss shared by cDPO and aot. */
function smoothedLogistic(z: tf.Tensor, eps: number): tf.Tensor {
  const clean = tf.neg(logSigmoid(z));
  if (eps === 0) return clean;
  return tf.add(tf.mul(1 - eps, clean), tf.mul(-eps, logSigmoid(tf.neg(z))));
}

/**
 * sigmoid — DPO, Rafailov et al. 2023, Eq. 7:  −log σ(β·logits).
 * With label_smoothing ε > 0 it is conservative DPO (cDPO, Mitchell 2023, "A note on DPO with noisy
 * preferences"): −(1−ε)·log σ(β·logits) − ε·log σ(−β·logits). TRL 1.13 ignores ε here (equal at ε = 0).
 */
export const sigmoidLoss: DpoLossFn = (t) => smoothedLogistic(tf.mul(t.beta, t.logits), t.labelSmoothing);

/** hinge — SLiC-HF, Zhao et al. 2023 (calibration loss with margin δ = 1/β, scaled by β): max(0, 1 − β·logits). */
export const hingeLoss: DpoLossFn = (t) => tf.relu(tf.sub(1, tf.mul(t.beta, t.logits)));

/**
 * ipo — IPO, Azar et al. 2023, Eq. 17 with τ = β:  (h − 1/(2β))², where h is the difference of the
 * per-token AVERAGED log-ratios: chosenLogratios/|y_c| − rejectedLogratios/|y_r| (TRL's length
 * normalisation, not in the paper's equation; TRL says the IPO authors confirmed it).
 */
export const ipoLoss: DpoLossFn = (t) => {
  const h = tf.sub(
    tf.div(t.chosenLogratios, need(t.chosenTokens, 'ipo', 'chosenTokens')),
    tf.div(t.rejectedLogratios, need(t.rejectedTokens, 'ipo', 'rejectedTokens')),
  );
  return tf.square(tf.sub(h, 1 / (2 * t.beta)));
};

/**
 * exo_pair — EXO, Ji et al. 2024, Eq. 16 (K = 2): KL(q ‖ p) with q = (σ(z), σ(−z)), z = β·logits, and
 * the smoothed label distribution p = (1−ε, ε):  σ(z)(log σ(z) − log(1−ε)) + σ(−z)(log σ(−z) − log ε).
 */
export const exoPairLoss: DpoLossFn = (t) => {
  const z = tf.mul(t.beta, t.logits);
  const eps = t.labelSmoothing;
  const win = tf.mul(tf.sigmoid(z), tf.sub(logSigmoid(z), Math.log1p(-eps)));
  const lose = tf.mul(tf.sigmoid(tf.neg(z)), tf.sub(logSigmoid(tf.neg(z)), Math.log(eps)));
  return tf.add(win, lose);
};

/**
 * nca_pair — NCA, Chen et al. 2024 ("Noise Contrastive Alignment"), pairwise form with rewards
 * r_c = β·chosenLogratios, r_r = β·rejectedLogratios:  −log σ(r_c) − ½·log σ(−r_c) − ½·log σ(−r_r).
 */
export const ncaPairLoss: DpoLossFn = (t) => {
  const rc = tf.mul(t.beta, t.chosenLogratios);
  const rr = tf.mul(t.beta, t.rejectedLogratios);
  return tf.sub(tf.sub(tf.neg(logSigmoid(rc)), tf.mul(0.5, logSigmoid(tf.neg(rc)))), tf.mul(0.5, logSigmoid(tf.neg(rr))));
};

/**
 * robust — rDPO, Chowdhury et al. 2024 ("Provably Robust DPO"), unbiased loss under label-flip rate ε:
 *   [ −(1−ε)·log σ(z) + ε·log σ(−z) ] / (1 − 2ε),  z = β·logits,  ε ∈ [0, 0.5).
 */
export const robustLoss: DpoLossFn = (t) => {
  const z = tf.mul(t.beta, t.logits);
  const eps = t.labelSmoothing;
  const clean = tf.mul(-(1 - eps), logSigmoid(z));
  const flipped = tf.mul(-eps, logSigmoid(tf.neg(z)));
  return tf.div(tf.sub(clean, flipped), 1 - 2 * eps);
};

/**
 * bco_pair — BCO, Jung et al. 2024 ("Binary Classifier Optimization"), on pairs:
 *   −log σ(β·chosenLogratios) − log σ(−β·rejectedLogratios).
 * The paper (and TRL before 1.x) shifts both rewards by a running mean δ; TRL 1.13 uses δ = 0, and so do we.
 */
export const bcoPairLoss: DpoLossFn = (t) =>
  tf.sub(tf.neg(logSigmoid(tf.mul(t.beta, t.chosenLogratios))), logSigmoid(tf.mul(-t.beta, t.rejectedLogratios)));

/**
 * sppo_hard — SPPO, Wu et al. 2024, Eq. 4.7 (Algorithm 1) with hard win probabilities P = 1 / 0 and
 * η = 1/β:  (chosenLogratios − 1/(2β))² + (rejectedLogratios + 1/(2β))².
 */
export const sppoHardLoss: DpoLossFn = (t) =>
  tf.add(tf.square(tf.sub(t.chosenLogratios, 0.5 / t.beta)), tf.square(tf.add(t.rejectedLogratios, 0.5 / t.beta)));

/**
 * aot — AOT paired, Melnyk et al. 2024 ("Distributional Preference Alignment via Optimal Transport"):
 * sort the batch's policy margins log πθ(y_c) − log πθ(y_r) and the reference margins separately, pair them
 * by rank, δ = sorted policy − sorted reference, then the label-smoothed logistic loss of β·δ.
 */
export const aotLoss: DpoLossFn = (t) => {
  const policy = sortDescending(tf.sub(t.chosenLogps, t.rejectedLogps) as tf.Tensor1D);
  const reference = sortDescending(tf.sub(t.refChosenLogps, t.refRejectedLogps) as tf.Tensor1D);
  return smoothedLogistic(tf.mul(t.beta, tf.sub(policy, reference)), t.labelSmoothing);
};

/**
 * aot_unpaired — AOT unpaired, Melnyk et al. 2024: sort chosenLogratios and rejectedLogratios separately,
 * δ = sorted chosen − sorted rejected, then the label-smoothed logistic loss of β·δ.
 */
export const aotUnpairedLoss: DpoLossFn = (t) => {
  const delta = tf.sub(sortDescending(t.chosenLogratios), sortDescending(t.rejectedLogratios));
  return smoothedLogistic(tf.mul(t.beta, delta), t.labelSmoothing);
};

/**
 * apo_zero — APO-zero, D'Oosterlinck et al. 2024 ("Anchored Preference Optimization"), Eq. 7:
 *   (1 − σ(β·chosenLogratios)) + σ(β·rejectedLogratios)   (raise chosen, lower rejected).
 */
export const apoZeroLoss: DpoLossFn = (t) =>
  tf.add(tf.sub(1, tf.sigmoid(tf.mul(t.beta, t.chosenLogratios))), tf.sigmoid(tf.mul(t.beta, t.rejectedLogratios)));

/**
 * apo_down — APO-down, D'Oosterlinck et al. 2024, Eq. 8:
 *   σ(β·chosenLogratios) + (1 − σ(β·logits))   (lower chosen, lower rejected more).
 */
export const apoDownLoss: DpoLossFn = (t) =>
  tf.add(tf.sigmoid(tf.mul(t.beta, t.chosenLogratios)), tf.sub(1, tf.sigmoid(tf.mul(t.beta, t.logits))));

/**
 * discopop — DiscoPOP / log-ratio modulated loss, Chris Lu et al. 2024, Eq. 5, z = β·logits, τ = discopop_tau:
 *   (1 − σ(z/τ))·(−log σ(z)) + σ(z/τ)·exp(−z).
 * Like TRL, exp(−z) is not clamped: z below about −88 overflows float32 (the loss is then Inf and the
 * training loop stops on it).
 */
export const discopopLoss: DpoLossFn = (t) => {
  const z = tf.mul(t.beta, t.logits);
  const mod = tf.sigmoid(tf.div(z, t.discopopTau));
  return tf.add(tf.mul(tf.neg(logSigmoid(z)), tf.sub(1, mod)), tf.mul(tf.exp(tf.neg(z)), mod));
};

/**
 * sft — the NLL term of RPO, Pang et al. 2024 ("Iterative Reasoning Preference Optimization"), also MPO's
 * generation loss: the policy's mean NLL per chosen completion token, over the whole batch:
 *   −Σ_b log πθ(y_c,b|x_b) / Σ_b |y_c,b|.
 * This is TRL 1.13's token-level mean (cross-entropy over all chosen completion tokens); the RPO paper
 * normalises each sequence by its own length instead. Returns a scalar (one value for the batch).
 */
export const sftLoss: DpoLossFn = (t) =>
  tf.div(tf.neg(tf.sum(t.chosenLogps)), tf.sum(need(t.chosenTokens, 'sft', 'chosenTokens')));

/**
 * sigmoid_norm — length-normalised DPO (as in Tülu 3, Lambert et al. 2024; the LN-DPO of SimPO, Meng et al.
 * 2024): −log σ(β·(chosenLogratios/|y_c| − rejectedLogratios/|y_r|)).
 */
export const sigmoidNormLoss: DpoLossFn = (t) => {
  const h = tf.sub(
    tf.div(t.chosenLogratios, need(t.chosenTokens, 'sigmoid_norm', 'chosenTokens')),
    tf.div(t.rejectedLogratios, need(t.rejectedTokens, 'sigmoid_norm', 'rejectedTokens')),
  );
  return tf.neg(logSigmoid(tf.mul(t.beta, h)));
};

/** loss_type -> its per-pair loss. */
export const DPO_LOSS_FUNCTIONS: Readonly<Record<DpoLossType, DpoLossFn>> = {
  sigmoid: sigmoidLoss,
  hinge: hingeLoss,
  ipo: ipoLoss,
  exo_pair: exoPairLoss,
  nca_pair: ncaPairLoss,
  robust: robustLoss,
  bco_pair: bcoPairLoss,
  sppo_hard: sppoHardLoss,
  aot: aotLoss,
  aot_unpaired: aotUnpairedLoss,
  apo_zero: apoZeroLoss,
  apo_down: apoDownLoss,
  discopop: discopopLoss,
  sft: sftLoss,
  sigmoid_norm: sigmoidNormLoss,
};

/** Checks ranks, batch sizes and that every input the chosen loss types need is there. */
export function checkDpoInputs(input: DpoLossInput, cfg: DpoLossConfig): void {
  const b = input.chosenLogps.shape[0];
  const vec = (x: tf.Tensor | undefined, name: string): void => {
    if (x && (x.rank !== 1 || x.shape[0] !== b)) {
      throw new LossInputError(`dpoLoss: ${name} must have shape [${b}] (like chosenLogps); got [${x.shape.join(', ')}]`);
    }
  };
  if (input.chosenLogps.rank !== 1) {
    throw new LossInputError(`dpoLoss: chosenLogps must have shape [B]; got [${input.chosenLogps.shape.join(', ')}]`);
  }
  if (b === 0) throw new LossInputError('dpoLoss: the batch is empty (0 pairs)');
  vec(input.rejectedLogps, 'rejectedLogps');
  const hasRef = input.refChosenLogps !== undefined || input.refRejectedLogps !== undefined;
  if (cfg.reference_free && hasRef) {
    throw new LossInputError('dpoLoss: reference log-probs were given but reference_free is true; drop one or the other');
  }
  if (!cfg.reference_free && (!input.refChosenLogps || !input.refRejectedLogps)) {
    throw new LossInputError(
      'dpoLoss: refChosenLogps and refRejectedLogps are required (set reference_free: true to train without a reference)',
    );
  }
  vec(input.refChosenLogps, 'refChosenLogps');
  vec(input.refRejectedLogps, 'refRejectedLogps');
  for (const [name, counts] of [['chosenTokens', input.chosenTokens], ['rejectedTokens', input.rejectedTokens]] as const) {
    if (counts === undefined) continue;
    const n = Array.isArray(counts) ? counts.length : (counts as tf.Tensor1D).shape[0];
    const rank = Array.isArray(counts) ? 1 : (counts as tf.Tensor1D).rank;
    if (rank !== 1 || n !== b) throw new LossInputError(`dpoLoss: ${name} must hold ${b} counts (one per pair); got ${n}`);
  }
  for (const t of cfg.loss_type) {
    if (!DPO_LOSS_TYPES_NEEDING_TOKEN_COUNTS.includes(t)) continue;
    const missing = t === 'sft' ? (input.chosenTokens ? [] : ['chosenTokens']) : ['chosenTokens', 'rejectedTokens'].filter((k) => !input[k as 'chosenTokens']);
    if (missing.length > 0) {
      throw new LossInputError(`dpoLoss: loss_type "${t}" needs completion token counts: ${missing.join(' and ')} missing`);
    }
  }
}

const countsTensor = (c: TokenCounts | undefined): tf.Tensor1D | undefined =>
  c === undefined ? undefined : safeCounts(Array.isArray(c) ? tf.tensor1d(c as number[]) : (c as tf.Tensor1D));

/**
 * The DPO-family loss for one batch: Σ_k loss_weights[k] · mean_b ℓ_{loss_type[k]}(b), plus the implicit
 * rewards and TRL's metrics (rewards/accuracies counts ties as wrong, like TRL's strict `>`).
 * `settings` is either resolved settings or the raw recipe form (validated here).
 */
export function dpoLoss(input: DpoLossInput, settings: DpoLossConfig | DpoLossConfigInput): DpoLossOutput {
  const cfg = resolveDpoConfig(settings);
  checkDpoInputs(input, cfg);
  return tf.tidy(() => {
    const zeros = tf.zerosLike(input.chosenLogps) as tf.Tensor1D;
    const refChosenLogps = cfg.reference_free ? zeros : (input.refChosenLogps as tf.Tensor1D);
    const refRejectedLogps = cfg.reference_free ? zeros : (input.refRejectedLogps as tf.Tensor1D);
    const chosenLogratios = tf.sub(input.chosenLogps, refChosenLogps) as tf.Tensor1D;
    const rejectedLogratios = tf.sub(input.rejectedLogps, refRejectedLogps) as tf.Tensor1D;
    const terms: DpoTerms = {
      beta: cfg.beta,
      labelSmoothing: cfg.label_smoothing,
      discopopTau: cfg.discopop_tau,
      chosenLogps: input.chosenLogps,
      rejectedLogps: input.rejectedLogps,
      refChosenLogps,
      refRejectedLogps,
      chosenLogratios,
      rejectedLogratios,
      logits: tf.sub(chosenLogratios, rejectedLogratios) as tf.Tensor1D,
      chosenTokens: countsTensor(input.chosenTokens),
      rejectedTokens: countsTensor(input.rejectedTokens),
    };
    let loss = tf.scalar(0);
    cfg.loss_type.forEach((type, k) => {
      loss = tf.add(loss, tf.mul(cfg.loss_weights[k], tf.mean(DPO_LOSS_FUNCTIONS[type](terms))));
    });
    const chosenRewards = tf.mul(cfg.beta, chosenLogratios) as tf.Tensor1D;
    const rejectedRewards = tf.mul(cfg.beta, rejectedLogratios) as tf.Tensor1D;
    const metrics: DpoMetrics = {
      loss: loss.clone(), // its own handle: disposing the metrics must not dispose the returned loss
      'rewards/chosen': tf.mean(chosenRewards) as tf.Scalar,
      'rewards/rejected': tf.mean(rejectedRewards) as tf.Scalar,
      'rewards/accuracies': tf.mean(tf.greater(chosenRewards, rejectedRewards).toFloat()) as tf.Scalar,
      'rewards/margins': tf.mean(tf.sub(chosenRewards, rejectedRewards)) as tf.Scalar,
      'logps/chosen': tf.mean(input.chosenLogps) as tf.Scalar,
      'logps/rejected': tf.mean(input.rejectedLogps) as tf.Scalar,
    };
    return { loss: loss as tf.Scalar, chosenRewards, rejectedRewards, metrics };
  });
}
