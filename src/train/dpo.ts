/**
 * DPO task: policy log-probs of chosen and rejected in one forward of 2B rows; reference log-probs
 * from the precomputed cache (or a frozen reference forward when precompute is off); the loss and
 * TRL's metrics from losses/dpo. The reference is never trained: it is not in the variable list and
 * its variables are created non-trainable.
 */
import * as tf from '@tensorflow/tfjs';
import type { LlamaModel } from '../model/llama';
import { maskedSums, pairLogProbs, tokenLogProbs } from '../model/logprobs';
import { dpoLoss, DpoLossConfig } from '../losses';
import { countTokens, PairBatchLike, toTensors } from './batches';
import type { StepOutputs, TrainerStateFiles, TrainTask } from './loop';
import type { ReferenceCache } from './reference';

export interface DpoTaskOptions {
  loss: DpoLossConfig;
  /** Precomputed reference log-probs; when null and not reference_free, `reference` runs each step. */
  cache: ReferenceCache | null;
  reference: LlamaModel | null;
}

export function dpoTask(
  policy: LlamaModel,
  opts: DpoTaskOptions,
  save: (dir: string, extra: TrainerStateFiles) => Promise<void>,
): TrainTask<PairBatchLike> {
  const refFree = opts.loss.reference_free;
  return {
    kind: 'dpo',
    params: policy.weights,
    forward(batch: PairBatchLike): StepOutputs {
      const ref = refFree ? null : opts.cache ? opts.cache.lookup(batch) : null;
      return tf.tidy(() => {
        const B = batch.size;
        const T = batch.seqLen;
        const t = toTensors(batch, 2 * B);
        const logits = policy.logits(t.ids, t.attentionMask); // [2B, T, V]
        const { sum, count } = maskedSums(tokenLogProbs(logits, t.ids), t.completionMask);
        let refChosen: tf.Tensor1D | undefined;
        let refRejected: tf.Tensor1D | undefined;
        if (ref) {
          refChosen = tf.tensor1d(ref.chosen);
          refRejected = tf.tensor1d(ref.rejected);
        } else if (!refFree) {
          const half = (x: tf.Tensor2D, s: number) => x.slice([s, 0], [B, T]) as tf.Tensor2D;
          const lp = pairLogProbs(
            opts.reference!,
            { ids: half(t.ids, 0), attentionMask: half(t.attentionMask, 0), completionMask: half(t.completionMask, 0) },
            { ids: half(t.ids, B), attentionMask: half(t.attentionMask, B), completionMask: half(t.completionMask, B) },
          );
          // No gradient reaches the reference: its variables are not in the task's variable list.
          refChosen = lp.chosen.sum;
          refRejected = lp.rejected.sum;
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
        const predicts = tf.concat([t.completionMask.slice([0, 1], [2 * B, T - 1]), tf.zeros([2 * B, 1])], 1); // [2B, T]
        const meanLogit = (rows: number) => {
          const m = predicts.slice([rows, 0], [B, T]);
          const l = logits.slice([rows, 0, 0], [B, T, logits.shape[2]]).mean(2); // [B, T]
          return l.mul(m).sum().div(m.sum().maximum(1)) as tf.Scalar;
        };
        const { loss: _l, ...rest } = out.metrics;
        const metrics: Record<string, tf.Scalar> = {};
        for (const [k, v] of Object.entries(rest)) if (v instanceof tf.Tensor) metrics[k] = v as tf.Scalar;
        metrics['logits/chosen'] = meanLogit(0);
        metrics['logits/rejected'] = meanLogit(B);
        metrics['num_tokens'] = count.sum() as tf.Scalar;
        return { loss: out.loss, metrics };
      });
    },
    tokens: (b) => countTokens(b.attentionMask),
    examples: (b) => b.size,
    save,
  };
}
