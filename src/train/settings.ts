/**
 * What a training stage takes: the model to start from, the data, the seed and backend, and the stage's
 * resolved hyper-parameters under TRL's names. train/ owns these types; recipes/ is one way to fill them
 * (a validated recipe is every stage's inputs as it stands: recipes/schema.ts checks that when it compiles),
 * the library API and `rlhf run` are others. The stage records the object it was given in the checkpoint's
 * rlhf.json (field `recipe`), which is where scoring later reads β and the lengths back (io/scoring-settings.ts).
 *
 * Does NOT: validate or fill defaults (recipes/ and the API do, before a stage starts).
 */
import type { BackendRequest } from '../backend';
import type { TruncationMode } from '../data/collate';
import type { FormatChoice } from '../data/formats';
import type { DpoLossType } from '../losses/dpo-config';
import type { GrpoLossConfig } from '../losses/grpo-config';
import type { ScheduleName } from './schedule';
import type { ReportTarget } from './trackers';

/** What every stage shares (the recipe schema documents each field). */
export interface TrainingSettings {
  epochs: number;
  max_steps?: number;
  batch_size: number;
  gradient_accumulation_steps: number;
  learning_rate: number;
  lr_scheduler_type: ScheduleName;
  warmup_steps: number;
  warmup_ratio?: number;
  weight_decay: number;
  adam_beta1: number;
  adam_beta2: number;
  adam_epsilon: number;
  max_grad_norm: number | null;
  max_length: number;
  max_prompt_length: number | null;
  truncation_mode: TruncationMode;
  /** false: training examples in file order every epoch (no shuffle). */
  shuffle: boolean;
  length_bucketing: boolean;
  /** Several sequences (or pairs) per row, without padding between them (data/packing.ts). */
  padding_free: boolean;
  logging_steps: number;
  eval_steps: number;
  save_steps: number;
  save_total_limit: number;
  /** Where metric rows go (trackers.ts). */
  report_to: ReportTarget | ReportTarget[];
}

export interface SftSettings extends TrainingSettings {
  completion_only_loss: boolean;
}

export interface RewardSettings extends TrainingSettings {
  center_rewards_coefficient: number | null;
  use_margin: boolean;
  /** A pair's common prefix (its prompt) computed once for both sides (data/packing.ts). */
  share_prompt: boolean;
}

/** The loss fields are losses/dpo-config.ts's (validated again by resolveDpoConfig before the stage starts). */
/** The DPO loss's fields, shared by offline and online DPO (their ranges: losses/dpo-config.ts). */
export interface DpoLossSettings {
  beta: number;
  loss_type: DpoLossType | DpoLossType[];
  loss_weights?: number[];
  label_smoothing: number;
  reference_free: boolean;
  discopop_tau: number;
}

/** Pairs per forward of DPO's precomputed reference pass when precompute_ref_batch_size is null. */
export const REFERENCE_BATCH_PAIRS = 64;

/** The reference pass's batch: the setting, else REFERENCE_BATCH_PAIRS or batch_size if larger. e.g. {null, 8} -> 64. */
export function referenceBatchSize(s: Pick<DpoSettings, 'precompute_ref_batch_size' | 'batch_size'>): number {
  return s.precompute_ref_batch_size ?? Math.max(REFERENCE_BATCH_PAIRS, s.batch_size);
}

export interface DpoSettings extends TrainingSettings, DpoLossSettings {
  reference?: string;
  precompute_ref_log_probs: boolean;
  /** Pairs per forward of the precomputed reference pass; null: referenceBatchSize()'s default. */
  precompute_ref_batch_size: number | null;
  /** A pair's common prefix (its prompt) computed once for both sides (data/packing.ts). */
  share_prompt: boolean;
}

/**
 * A generative judge trained by SFT on preference pairs framed as judge prompts (train/judge.ts). Sequences are cut
 * keeping their end (the labels follow it): max_length applies, max_prompt_length and truncation_mode do not.
 */
export interface JudgeSettings extends TrainingSettings {
  /** Judge prompt template file; absent: rewards/judge.ts DEFAULT_JUDGE_TEMPLATE. */
  template?: string;
  /** The two answer labels; each must be one token for the model's tokenizer. */
  labels: [string, string];
}

/** What the online trainers share: prompts, rewards, sampling (the recipe schema documents each field). */
export interface OnlineSettings extends TrainingSettings {
  /** Prompts file; default data.train (its prompts). */
  prompts?: string;
  /** Held-out prompts; else eval_count of the prompts are held out (seeded). */
  eval_prompts?: string;
  eval_count?: number;
  /** Reward specs (rewards/spec.ts), summed with reward_weights. */
  reward: string[];
  reward_weights?: number[];
  /** The frozen reference; default the starting model. */
  reference?: string;
  num_generations: number;
  max_new_tokens: number;
  temperature: number;
  top_k: number;
  top_p: number;
}

/** The loss fields are losses/grpo-config.ts's GrpoLossConfig (one definition, documented there). */
export interface GrpoSettings extends OnlineSettings, GrpoLossConfig {}

export interface OnlineDpoSettings extends OnlineSettings, DpoLossSettings {}

export interface DataSettings {
  train: string;
  eval?: string;
  eval_count?: number;
  eval_fraction?: number;
  format: FormatChoice;
  skip_invalid: boolean;
  limit?: number;
}

/** The run-level inputs every stage reads. */
export interface StageInputs {
  /** Run name: the default output folder is checkpoints/<name>/<stage>. */
  name: string;
  out?: string;
  seed: number;
  backend: BackendRequest;
  model: string;
  tokenizer?: string;
  data: DataSettings;
}

export interface SftInputs extends StageInputs {
  sft: SftSettings;
}

export interface RewardInputs extends StageInputs {
  reward: RewardSettings;
}

export interface DpoInputs extends StageInputs {
  dpo: DpoSettings;
}

export interface JudgeInputs extends StageInputs {
  judge: JudgeSettings;
}

export interface GrpoInputs extends StageInputs {
  grpo: GrpoSettings;
}

export interface OnlineDpoInputs extends StageInputs {
  online_dpo: OnlineDpoSettings;
}
