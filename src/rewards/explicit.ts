/**
 * A reward-model checkpoint as a reward source: score = the reward head r(x, y) at the last real token of the
 * rendered prompt + completion, cut as the model was trained (max_length, max_prompt_length, truncation_mode
 * from its rlhf.json through io/scoring-settings.ts; spec options and flags override), the same numbers
 * compare and `rlhf score` give for a pair's side.
 *
 * Does NOT: train, or accept a model without a trained score head (a policy would get a random one).
 */
import * as tf from '@tensorflow/tfjs';
import { toTensors } from '../data/tensors';
import { loadRewardModel, resolveModelPath } from '../io/load-model';
import { readCheckpointMeta, scoringSettings, type ScoringOverrides } from '../io/scoring-settings';
import { forBatches, prepareCompletions, REWARD_BATCH_SIZE } from './sequences';
import { checkAligned, RewardError, type RewardSource } from './types';

export interface ModelRewardOptions {
  /** The source's name. @default the path */
  name?: string;
  /** A tokenizer other than the model's own. */
  tokenizer?: string;
  /** Scoring settings that win over the checkpoint's rlhf.json, each with its source label. */
  overrides?: ScoringOverrides;
  /** Pairs per forward pass. @default REWARD_BATCH_SIZE */
  batchSize?: number;
}

/** Loads the reward model now (errors surface here, not at the first score) and returns its source. */
export function rewardModelSource(modelPath: string, o: ModelRewardOptions = {}): RewardSource {
  const name = o.name ?? modelPath;
  const settings = scoringSettings(readCheckpointMeta(resolveModelPath(modelPath)), o.overrides, 'reward model');
  const rm = loadRewardModel(modelPath, { tokenizer: o.tokenizer, trainable: false });
  if (rm.fresh) {
    rm.model.dispose();
    throw new RewardError(`reward ${name}: ${modelPath} has no score head (it is a policy, not a reward model); train one with rlhf reward, or use implicit:${modelPath} for a DPO policy`);
  }
  const batchSize = o.batchSize ?? REWARD_BATCH_SIZE;
  let disposed = false;
  return {
    name,
    async score(prompts, completions, rows) {
      checkAligned(name, prompts, completions, rows);
      if (disposed) throw new RewardError(`reward ${name}: used after dispose()`);
      const examples = prepareCompletions(name, prompts, completions, rm.tokenizer, settings);
      const out = new Array<number>(examples.length);
      await forBatches(examples, rm.tokenizer, batchSize, async (b, offset) => {
        const scores = tf.tidy(() => {
          const t = toTensors(b, b.size);
          return rm.model.scores(t.ids, t.attentionMask);
        });
        const v = await scores.data();
        scores.dispose();
        for (let i = 0; i < b.size; i++) out[offset + i] = v[i];
      });
      return out;
    },
    dispose() {
      if (!disposed) rm.model.dispose();
      disposed = true;
    },
    describe: () => ({ kind: 'reward_model', model: rm.source, settings }),
  };
}
