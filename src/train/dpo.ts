/**
 * DPO task: policy log-probs of chosen and rejected in one forward (2B padded rows, or packed rows where each
 * prompt is computed once for both and the gradient of both branches flows back through it); reference log-probs
 * from the precomputed cache (or a frozen reference forward when precompute is off); the loss and
 * TRL's metrics from losses/dpo, plus logits/chosen|rejected (TRL's: the mean over the batch's completion
 * positions of the vocabulary-mean logit). num_tokens is the loop's (every non-pad token, cumulative). The
 * reference is never trained: it is not in the variable list and its variables are created non-trainable.
 * Accumulation: the loss is a mean over pairs, so micro-batches weigh by pairs (lossWeight) and k of them equal
 * one batch of all their pairs, except for the batch-level loss types: aot and aot_unpaired sort margins within
 * a batch and the sft term is a token mean over the batch's chosen tokens, so those are computed per
 * micro-batch (as TRL computes them too) and are not equal to one bigger batch. Likewise the logged
 * logits/chosen|rejected are token means within a batch, so a step's value is their pair-weighted mean.
 */
import * as tf from '@tensorflow/tfjs';
import type { LanguageModel } from '../model/language-model';
import { batchLogProbs } from '../model/batch';
import { dpoLoss, DpoLossConfig } from '../losses';
import type { AnyPairBatch } from '../data/packing';
import { batchTokens } from '../data/tensors';
import type { StepOutputs, CheckpointExtras, TrainTask } from './loop';
import { referenceSums, ReferenceCache } from './reference';

export interface DpoTaskOptions {
  loss: DpoLossConfig;
  /** Precomputed reference log-probs; when null and not reference_free, `reference` runs each step (in prepare). */
  cache: ReferenceCache | null;
  reference: LanguageModel | null;
}

export function dpoTask(
  policy: LanguageModel,
  opts: DpoTaskOptions,
  save: (dir: string, extra: CheckpointExtras) => Promise<void>,
): TrainTask<AnyPairBatch> {
  const refFree = opts.loss.reference_free;
  // Live reference (no precomputed cache): its log-probs are computed in prepare(), outside the
  // gradient tape, and handed to forward() through this map.
  const live = new WeakMap<AnyPairBatch, { chosen: Float32Array; rejected: Float32Array }>();
  return {
    async prepare(batch: AnyPairBatch): Promise<void> {
      if (refFree || opts.cache || !opts.reference) return;
      live.set(batch, await referenceSums(opts.reference, batch));
    },
    kind: 'dpo',
    params: policy.weights,
    forward(batch: AnyPairBatch): StepOutputs {
      const ref = refFree ? null : opts.cache ? opts.cache.lookup(batch) : live.get(batch) ?? null;
      if (!refFree && !ref) throw new Error('dpoTask: reference log-probs missing; call prepare(batch) before forward(batch)');
      return tf.tidy(() => {
        const B = batch.size;
        // One forward for chosen and rejected (2B padded rows, or packed rows with each prompt once).
        const { sum, count, meanLogitSum } = batchLogProbs(policy, batch, 2 * B, { meanLogits: true });
        let refChosen: tf.Tensor1D | undefined;
        let refRejected: tf.Tensor1D | undefined;
        if (ref) {
          refChosen = tf.tensor1d(ref.chosen);
          refRejected = tf.tensor1d(ref.rejected);
        }
        const out = dpoLoss(
          {
            chosenLogps: sum.slice([0], [B]),
            rejectedLogps: sum.slice([B], [B]),
            refChosenLogps: refChosen,
            refRejectedLogps: refRejected,
            chosenTokens: count.slice([0], [B]),
            rejectedTokens: count.slice([B], [B]),
          },
          opts.loss,
        );
        // TRL's logits/chosen|rejected: mean logit over the positions that predict completion tokens.
        const meanLogit = (start: number) =>
          meanLogitSum!.slice([start], [B]).sum().div(count.slice([start], [B]).sum().maximum(1)) as tf.Scalar;
        const { loss: _l, ...rest } = out.metrics;
        const metrics: Record<string, tf.Scalar> = {};
        for (const [k, v] of Object.entries(rest)) if (v instanceof tf.Tensor) metrics[k] = v as tf.Scalar;
        metrics['logits/chosen'] = meanLogit(0);
        metrics['logits/rejected'] = meanLogit(B);
        return { loss: out.loss, metrics };
      });
    },
    tokens: batchTokens,
    examples: (b) => b.size,
    lossWeight: (b) => b.size,
    save,
  };
}
