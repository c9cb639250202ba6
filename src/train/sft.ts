/**
 * SFT task: next-token NLL on completion tokens (the chosen responses), to make a reference policy
 * when the user has none. Only what differs from the shared loop lives here.
 * Its loss is the token mean of one batch; lossWeight (the batch's completion tokens) lets the loop turn k
 * accumulated micro-batches into Σ NLL / (completion tokens of the whole step), TRL's num_items_in_batch.
 */
import * as tf from '@tensorflow/tfjs';
import type { LanguageModel } from '../model/language-model';
import { tokenLogProbs } from '../model/logprobs';
import { sftNllLoss } from '../losses';
import type { SequenceBatch } from '../data/collate';
import { countTokens, toTensors } from '../data/tensors';
import type { StepOutputs, CheckpointExtras, TrainTask } from './loop';

export function sftTask(
  model: LanguageModel,
  save: (dir: string, extra: CheckpointExtras) => Promise<void>,
): TrainTask<SequenceBatch> {
  return {
    kind: 'sft',
    params: model.weights,
    forward(batch: SequenceBatch): StepOutputs {
      return tf.tidy(() => {
        const t = toTensors(batch, batch.size);
        const logps = tokenLogProbs(model.logits(t.ids, t.attentionMask), t.ids);
        // num_tokens (TRL's: all non-pad tokens, cumulative) is logged by the loop, not per batch here.
        return { loss: sftNllLoss(logps, t.completionMask).loss, metrics: {} };
      });
    },
    tokens: (b) => countTokens(b.attentionMask),
    examples: (b) => b.size,
    // The tokens the loss is a mean over: the completion mask holds 1 only where a token is predicted (t >= 1).
    lossWeight: (b) => countTokens(b.completionMask),
    save,
  };
}
