/**
 * A DPO policy's implicit reward as a reward source, log-probs summed over the completion's tokens (tokenised
 * and cut as the policy was trained: sequences.ts):
 *   implicit:POLICY[,REFERENCE]   β·(log πθ(y|x) − log πref(y|x))   what compare and `rlhf score` report
 *   implicit-sum:POLICY           β·log πθ(y|x)                      reference-free (CPO-style)
 *   implicit-mean:POLICY          β·log πθ(y|x) / |y|                reference-free, per token (SimPO-style);
 *                                                                    0 when no completion token is left
 * β, the lengths, the truncation mode and the reference come from the policy's rlhf.json (io/scoring-settings.ts:
 * dpo.beta, dpo.reference else the model DPO started from); spec options and flags override them.
 *
 * Does NOT: add SimPO's γ margin or any loss-specific offset (a constant per prompt changes no ranking).
 */
import * as tf from '@tensorflow/tfjs';
import { toTensors } from '../data/tensors';
import { loadPolicy, resolveModelPath } from '../io/load-model';
import { readCheckpointMeta, recordedReference, scoringSettings } from '../io/scoring-settings';
import { sequenceLogProbs } from '../model/logprobs';
import type { ModelRewardOptions } from './explicit';
import { forBatches, prepareCompletions, REWARD_BATCH_SIZE } from './sequences';
import { checkAligned, RewardError, type RewardSource } from './types';

export type ImplicitVariant = 'ratio' | 'sum' | 'mean';

export interface ImplicitRewardOptions extends ModelRewardOptions {
  /** 'ratio' (against the reference) unless told. @default 'ratio' */
  variant?: ImplicitVariant;
  /** The reference of 'ratio'. @default the one the policy's rlhf.json records */
  reference?: string;
  /** Seed of a config:NAME reference's random init. @default 42 (compare's) */
  seed?: number;
}

/** Loads the policy (and reference) now and returns the source. */
export function implicitSource(policyPath: string, o: ImplicitRewardOptions = {}): RewardSource {
  const variant = o.variant ?? 'ratio';
  const name = o.name ?? (variant === 'ratio' ? `implicit:${policyPath}` : `implicit-${variant}:${policyPath}`);
  const meta = readCheckpointMeta(resolveModelPath(policyPath));
  const settings = scoringSettings(meta, o.overrides, 'policy');
  const refSpec = variant === 'ratio' ? (o.reference ?? recordedReference(meta)) : null;
  if (variant === 'ratio' && refSpec === null) {
    throw new RewardError(`reward ${name}: no reference given and none recorded in ${policyPath}'s rlhf.json; write implicit:${policyPath},REFERENCE, or use implicit-sum: / implicit-mean: (reference-free)`);
  }
  const pol = loadPolicy(policyPath, { tokenizer: o.tokenizer, trainable: false });
  let ref: ReturnType<typeof loadPolicy> | null = null;
  try {
    if (refSpec !== null) ref = loadPolicy(refSpec, { tokenizer: o.tokenizer, trainable: false, seed: o.seed ?? 42 });
  } catch (e) {
    pol.model.dispose();
    throw e;
  }
  const beta = settings.values.beta;
  const batchSize = o.batchSize ?? REWARD_BATCH_SIZE;
  let disposed = false;
  return {
    name,
    async score(prompts, completions, rows) {
      checkAligned(name, prompts, completions, rows);
      if (disposed) throw new RewardError(`reward ${name}: used after dispose()`);
      const examples = prepareCompletions(name, prompts, completions, pol.tokenizer, settings);
      const out = new Array<number>(examples.length);
      await forBatches(examples, pol.tokenizer, batchSize, async (b, offset) => {
        const B = b.size;
        // Rows: policy sums, completion token counts, reference sums (when there is a reference).
        const packed = tf.tidy(() => {
          const t = toTensors(b, B);
          const p = sequenceLogProbs(pol.model, t.ids, t.attentionMask, t.completionMask);
          const parts = [p.sum, p.count];
          if (ref) parts.push(sequenceLogProbs(ref.model, t.ids, t.attentionMask, t.completionMask).sum);
          return tf.stack(parts);
        });
        const v = await packed.data();
        packed.dispose();
        for (let i = 0; i < B; i++) {
          const [sum, count] = [v[i], v[B + i]];
          out[offset + i] = variant === 'ratio' ? beta * (sum - v[2 * B + i]) : variant === 'sum' ? beta * sum : count > 0 ? (beta * sum) / count : 0;
        }
      });
      return out;
    },
    dispose() {
      if (!disposed) {
        pol.model.dispose();
        ref?.model.dispose();
      }
      disposed = true;
    },
    describe: () => ({ kind: 'implicit', variant, policy: pol.source, reference: ref?.source ?? null, settings }),
  };
}
