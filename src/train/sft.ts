/**
 * SFT task: next-token NLL on completion tokens (the chosen responses), to make a reference policy
 * when the user has none. Only what differs from the shared loop lives here.
 */
import * as tf from '@tensorflow/tfjs';
import type { LlamaModel } from '../model/llama';
import { tokenLogProbs } from '../model/logprobs';
import { sftNllLoss } from '../losses';
import { countTokens, SequenceBatchLike, toTensors } from './batches';
import type { StepOutputs, TrainerStateFiles, TrainTask } from './loop';

export function sftTask(
  model: LlamaModel,
  save: (dir: string, extra: TrainerStateFiles) => Promise<void>,
): TrainTask<SequenceBatchLike> {
  return {
    kind: 'sft',
    params: model.weights,
    forward(batch: SequenceBatchLike): StepOutputs {
      return tf.tidy(() => {
        const t = toTensors(batch, batch.size);
        const logps = tokenLogProbs(model.logits(t.ids, t.attentionMask), t.ids);
        // num_tokens (TRL's: all non-pad tokens, cumulative) is logged by the loop, not per batch here.
        return { loss: sftNllLoss(logps, t.completionMask).loss, metrics: {} };
      });
    },
    tokens: (b) => countTokens(b.attentionMask),
    examples: (b) => b.size,
    save,
  };
}
