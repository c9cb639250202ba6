/**
 * SFT task: next-token NLL on completion tokens (the chosen responses), to make a reference policy
 * when the user has none. Only what differs from the shared loop lives here.
 * Its loss is the token mean of one batch; lossWeight (the batch's completion tokens) lets the loop turn k
 * accumulated micro-batches into Σ NLL / (completion tokens of the whole step), TRL's num_items_in_batch.
 */
import * as tf from '@tensorflow/tfjs';
import type { LanguageModel } from '../model/language-model';
import { batchLogProbs } from '../model/batch';
import { sftNllLossFromSums } from '../losses';
import { isPacked, type AnySequenceBatch } from '../data/packing';
import { batchTokens, countTokens } from '../data/tensors';
import type { StepOutputs, CheckpointExtras, TrainTask } from './loop';

export function sftTask(
  model: LanguageModel,
  save: (dir: string, extra: CheckpointExtras) => Promise<void>,
): TrainTask<AnySequenceBatch> {
  return {
    kind: 'sft',
    params: model.weights,
    forward(batch: AnySequenceBatch): StepOutputs {
      return tf.tidy(() => {
        // Σ log p over the completion tokens, the head in chunks on those positions only (model/logprobs.ts).
        const { sum, count } = batchLogProbs(model, batch, batch.size);
        // num_tokens (TRL's: all non-pad tokens, cumulative) is logged by the loop, not per batch here.
        return { loss: sftNllLossFromSums(sum, count), metrics: {} };
      });
    },
    tokens: batchTokens,
    examples: (b) => b.size,
    // The tokens the loss is a mean over: the completion mask holds 1 only where a token is predicted (t >= 1).
    lossWeight: (b) => (isPacked(b) ? b.scored.source.length : countTokens(b.completionMask)),
    save,
  };
}
