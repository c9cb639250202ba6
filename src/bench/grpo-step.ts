/**
 * The benchmark's `grpo` kind: one whole GRPO step of the real trainer (train/grpo.ts's task) = sample
 * 8 prompts × 8 generations × newTokens completion tokens with the current policy, score them with a reward
 * model, reference log-probs (β > 0), advantages, then one policy update (steps.ts's trainer: forward, backward,
 * clip, AdamW). bench/trl_bench.py times TRL's GRPOTrainer on the same folders, prompts and settings.
 *
 * Text: the bench models have no tokenizer both sides can read (the byte tokenizer has no transformers form),
 * so both sides use an "id tokenizer": token i is the text `<i>`, concatenated without separators. The
 * reward is scored as TRL scores a reward model: prompt text + completion text re-encoded, right padded,
 * LlamaForSequenceClassification's score (the bench reward folder: the policy's backbone + a seeded head).
 * Every row makes exactly newTokens tokens (no stop token on either side), so both sides do the same work.
 *
 * Does: build the task, its reward source and the prompts. Does NOT: time (worker.ts) or train a real model.
 */
import * as tf from '@tensorflow/tfjs';
import { loadPolicy, loadRewardModel } from '../io/load-model';
import { GRPO_DEFAULTS, type GrpoLossConfig } from '../losses';
import type { RewardModel } from '../model/reward';
import type { RewardSource } from '../rewards/types';
import type { Tokenizer } from '../tokenizer/types';
import { grpoTask, type GrpoBatch } from '../train/grpo';
import type { PromptExample, SamplingSettings } from '../train/online';
import { samplePromptIds, type Workload } from './workload';

/**
 * Both sides' GRPO settings (TRL GRPOConfig's names in comments). β 0.04 rather than TRL's default 0 so the
 * reference pass is part of the step; dapo is TRL 1.13's default loss; one iteration per rollout; top-k/top-p off.
 */
export const GRPO_BENCH = {
  prompts: 8, // per_device_train_batch_size / num_generations
  generations: 8, // num_generations
  beta: 0.04, // beta
  lossType: 'dapo' as const, // loss_type
  temperature: 1, // temperature
  topP: 1, // top_p
  topK: 0, // top_k
  numIterations: 1, // num_iterations
} as const;

/** The grpo kind's prompts: the first GRPO_BENCH.prompts of the sampling kinds' seeded ragged prompts. */
export function grpoPromptIds(w: Workload): number[][] {
  return samplePromptIds({ ...w, samplePrompts: GRPO_BENCH.prompts });
}

/** Token i <-> text `<i>`; no BOS/EOS (no row stops early). e.g. encode('<5><7>') -> [5, 7]. */
export class IdTokenizer implements Tokenizer {
  readonly kind = 'bench-ids';
  readonly bosId = null;
  readonly eosId = null;
  readonly hasOwnPad = true;
  constructor(readonly vocabSize: number, readonly padId: number) {}
  encode(text: string): number[] {
    return Array.from(text.matchAll(/<(\d+)>/g), (m) => Number(m[1]));
  }
  decode(ids: number[]): string {
    return ids.map((i) => `<${i}>`).join('');
  }
  save(): string[] {
    throw new Error('bench IdTokenizer: nothing to save (it exists only inside the benchmark)');
  }
}

/** A reward model as TRL's GRPOTrainer scores one: prompt + completion re-encoded, right padded, one forward. */
export function rewardModelSource(rm: RewardModel, tok: Tokenizer): RewardSource {
  return {
    name: 'reward-model',
    async score(prompts, completions) {
      const rows = prompts.map((p, i) => tok.encode(p + completions[i]));
      const L = Math.max(...rows.map((r) => r.length));
      const ids = new Int32Array(rows.length * L).fill(tok.padId);
      const mask = new Float32Array(rows.length * L);
      rows.forEach((r, i) => {
        ids.set(r, i * L);
        mask.fill(1, i * L, i * L + r.length);
      });
      const s = tf.tidy(() => rm.scores(tf.tensor2d(ids, [rows.length, L], 'int32'), tf.tensor2d(mask, [rows.length, L])));
      const v = Array.from(await s.data());
      s.dispose();
      return v;
    },
  };
}

export interface GrpoBenchStep {
  task: ReturnType<typeof grpoTask>;
  /** A fresh rollout request per call (a prepared batch would be reused, skipping the sampling). */
  nextBatch: () => GrpoBatch;
  /** Completion tokens per step (rows × newTokens). */
  tokens: number;
  dispose(): void;
}

/** The policy (trainable), its frozen copy as reference, the reward model, and the task over them. */
export function grpoBenchStep(dirs: { policy: string; reward: string }, w: Workload): GrpoBenchStep {
  const policy = loadPolicy(dirs.policy).model;
  const reference = policy.clone({ trainable: false });
  const rm = loadRewardModel(dirs.reward, { trainable: false }).model;
  const tok = new IdTokenizer(policy.config.vocab_size, policy.config.pad_token_id ?? 0);
  const prompts: PromptExample[] = grpoPromptIds(w).map((ids, i) => ({ ids, text: tok.decode(ids), source: `bench prompt ${i}` }));
  const loss: GrpoLossConfig = { ...GRPO_DEFAULTS, beta: GRPO_BENCH.beta, loss_type: GRPO_BENCH.lossType, num_iterations: GRPO_BENCH.numIterations };
  const sampling: SamplingSettings = {
    n: GRPO_BENCH.generations, maxNewTokens: w.newTokens, temperature: GRPO_BENCH.temperature, topK: GRPO_BENCH.topK, topP: GRPO_BENCH.topP, stopTokenIds: [],
  };
  const task = grpoTask(policy, {
    loss, sampling, reward: { sources: [rewardModelSource(rm, tok)], weights: [1] }, tokenizer: tok, reference, loadReference: null, seed: 1,
  }, async () => {});
  let rollout = 0;
  return {
    task,
    nextBatch: () => ({ index: rollout++, prompts }),
    tokens: GRPO_BENCH.prompts * GRPO_BENCH.generations * w.newTokens,
    dispose: () => [policy, reference, rm].forEach((m) => m.dispose()),
  };
}
