/**
 * The online trainers' loss settings (GRPO, RLOO), their TRL 1.13 defaults and ranges, in one place.
 *
 * Does: name the loss types and reward scalings, document each field once (meaning, default, range, paper),
 * list what is wrong with a settings object. recipes/schema.ts builds the recipe's `grpo` fields from these
 * tables, so a new loss type is added here (and its formula in grpo.ts) and nowhere else.
 * Does NOT: compute losses or advantages (grpo.ts), sample or train (train/).
 *
 * Field names are TRL's GRPOConfig / RLOOConfig names (snake_case).
 */
import type { NumberRange } from './dpo-config';

/** The GRPO loss aggregations (TRL 1.13 GRPOConfig.loss_type), and rloo (RLOOTrainer's sequence-level loss). */
export const GRPO_LOSS_TYPES = ['grpo', 'dr_grpo', 'dapo', 'bnpo'] as const;
export type GrpoLossType = (typeof GRPO_LOSS_TYPES)[number];

/** How rewards become advantages: GRPO's group-relative baseline, or RLOO's leave-one-out baseline. */
export const ADVANTAGE_TYPES = ['grpo', 'rloo'] as const;
export type AdvantageType = (typeof ADVANTAGE_TYPES)[number];

export const SCALE_REWARDS = ['group', 'batch', 'none'] as const;
export type ScaleRewards = (typeof SCALE_REWARDS)[number];

/** Resolved settings every online loss reads. */
export interface GrpoLossConfig {
  advantage: AdvantageType;
  loss_type: GrpoLossType;
  beta: number;
  epsilon: number;
  /** null = epsilon (TRL). */
  epsilon_high: number | null;
  scale_rewards: ScaleRewards;
  /** RLOO only: normalise advantages over the generation batch. */
  normalize_advantages: boolean;
  mask_truncated_completions: boolean;
  num_iterations: number;
}

/** TRL 1.13 defaults (GRPOConfig; RLOOConfig differs in beta 0.05, see RLOO_DEFAULTS). */
export const GRPO_DEFAULTS = {
  advantage: 'grpo',
  loss_type: 'dapo',
  beta: 0,
  epsilon: 0.2,
  epsilon_high: null,
  scale_rewards: 'group',
  normalize_advantages: false,
  mask_truncated_completions: false,
  num_iterations: 1,
} as const satisfies GrpoLossConfig;

/** What RLOOConfig sets differently (its beta). */
export const RLOO_DEFAULTS = { beta: 0.05 } as const;

export const GRPO_RANGES = {
  beta: { gte: 0 },
  epsilon: { gt: 0, lt: 1 },
  epsilon_high: { gt: 0 },
} as const satisfies Record<string, NumberRange>;

/** Every field once; `rlhf recipe explain grpo` and the recipe schema print this text. */
export const GRPO_DOCS: Record<keyof GrpoLossConfig, string> = {
  advantage:
    'grpo: advantage = reward − mean of its group (GRPO, Shao et al. 2024, DeepSeekMath), scaled per scale_rewards, per-token clipped loss; ' +
    'rloo: reward − mean of the other samples of its prompt (RLOO, Ahmadian et al. 2024), TRL\'s RLOOTrainer: KL in the reward, sequence-level clipped ratio.',
  loss_type:
    'How per-token losses are aggregated (grpo advantage only). grpo: mean over each completion\'s tokens, then over completions (length bias); ' +
    'dapo (TRL default): sum over the batch\'s active tokens / their number (DAPO, Yu et al. 2025); dr_grpo: sum / (completions · max_new_tokens) ' +
    '(Dr. GRPO, Liu et al. 2025); bnpo: sum / active tokens of the micro-batch.',
  beta: 'KL coefficient to the frozen reference. grpo: β·k3 per token in the loss (Schulman\'s estimator exp(r) − r − 1, r = log πref − log πθ); rloo: β·Σ(log πold − log πref) subtracted from the reward. 0 (GRPO default) loads no reference for training. >= 0.',
  epsilon: 'Lower clip ε of the ratio πθ/πold (PPO, Schulman et al. 2017). Range (0, 1).',
  epsilon_high: 'Upper clip; null = epsilon. DAPO recommends 0.28 (clip-higher).',
  scale_rewards: 'grpo advantage: group = divide by the group\'s std (GRPO); batch = by the whole batch\'s std (PPO Lite); none = no scaling (Dr. GRPO). Std is unbiased, + 1e-4.',
  normalize_advantages: 'rloo advantage: standardise advantages over the batch (mean 0, std 1).',
  mask_truncated_completions: 'Completions cut by max_new_tokens get no loss (DAPO\'s overlong filtering).',
  num_iterations: 'Optimiser steps per sampled batch (μ in GRPO): steps 2..μ reuse the samples, with the ratio πθ/πold clipped. >= 1.',
};

/** Problems of a settings object (empty when it is fine), each naming its field. */
export function grpoConfigProblems(c: GrpoLossConfig): string[] {
  const out: string[] = [];
  if (!ADVANTAGE_TYPES.includes(c.advantage)) out.push(`advantage: "${c.advantage}" is not one of ${ADVANTAGE_TYPES.join(', ')}`);
  if (!GRPO_LOSS_TYPES.includes(c.loss_type)) out.push(`loss_type: "${c.loss_type}" is not one of ${GRPO_LOSS_TYPES.join(', ')}`);
  if (!SCALE_REWARDS.includes(c.scale_rewards)) out.push(`scale_rewards: "${c.scale_rewards}" is not one of ${SCALE_REWARDS.join(', ')}`);
  if (!(Number.isFinite(c.beta) && c.beta >= 0)) out.push(`beta: ${c.beta}; expected a number >= 0`);
  if (!(c.epsilon > 0 && c.epsilon < 1)) out.push(`epsilon: ${c.epsilon}; expected a number in (0, 1)`);
  if (c.epsilon_high !== null && !(c.epsilon_high > 0)) out.push(`epsilon_high: ${c.epsilon_high}; expected a number > 0 or null`);
  if (!(Number.isInteger(c.num_iterations) && c.num_iterations >= 1)) out.push(`num_iterations: ${c.num_iterations}; expected an integer >= 1`);
  return out;
}
