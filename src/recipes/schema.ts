/**
 * The recipe schema: one zod schema that is both the validator and the TypeScript type. Every field
 * is documented here once (meaning, default, range); `rlhf recipe explain` and `--help` print this text.
 * Field names follow TRL / transformers TrainingArguments where one exists, so a TRL user reads them as-is.
 *
 * Does: describe and validate. Does NOT: read files or resolve paths (see load.ts).
 */
import { z } from 'zod';
import { SUMMARY_DEFAULTS } from '../compare/summary';
import { SCORING_BATCH_SIZE } from '../compare/types';
import { LENGTH_DEFAULTS, TRUNCATION_MODES } from '../data/collate';
import { FORMAT_CHOICES, FORMAT_DESCRIPTION } from '../data/formats';
import { REFERENCE_BATCH_PAIRS, type DpoInputs, type GrpoInputs, type JudgeInputs, type OnlineDpoInputs, type RewardInputs, type SftInputs } from '../train/settings';
import { DEFAULT_JUDGE_LABELS } from '../rewards/judge-defs';
import { REPORT_TARGETS } from '../train/trackers';
import { DPO_LOSS_DEFAULTS, DPO_LOSS_DOCS, DPO_LOSS_RANGES, DPO_LOSS_TYPES, type NumberRange } from '../losses/dpo-config';
import { ADVANTAGE_TYPES, GRPO_DEFAULTS, GRPO_DOCS, GRPO_LOSS_TYPES, GRPO_RANGES, SCALE_REWARDS } from '../losses/grpo-config';

const posInt = () => z.number().int().min(1);

/**
 * Upper bound of gradient_accumulation_steps. The loop holds a step's collated micro-batches in memory
 * together (it needs the step's token count before the first backward pass), so k bounds host memory; 1024
 * micro-batches of the default 8 pairs is 8,192 pairs per step, more than TRL's examples ever use (1-64) and
 * three times the shipped data set, so a bigger number is almost surely a typo (a token count in the wrong
 * field) rather than a plan. Summing 1024 fp32 gradients still keeps rounding near 1e-4 relative at worst.
 */
export const MAX_GRADIENT_ACCUMULATION_STEPS = 1024;
const nonNegInt = () => z.number().int().min(0);


const SHARE_PROMPT_DOC =
  'Compute the prompt (the common start of chosen and rejected) once per pair and let both completions attend to it (prefix sharing, Wang et al. 2024); the same losses and gradients as two separate rows. false = one padded row per side.';

/** Fields every training stage (sft, reward, dpo) shares. */
const training = {
  enabled: z.boolean().default(true).describe('Run this stage in `rlhf run`. Stage commands (rlhf sft|reward|dpo) ignore it.'),
  epochs: z.number().positive().default(1).describe('Passes over the training pairs (TRL num_train_epochs). Ignored when max_steps is set.'),
  max_steps: posInt().optional().describe('Optimiser steps to run; overrides epochs. Range >= 1.'),
  batch_size: posInt().default(8).describe('Examples per micro-batch (TRL per_device_train_batch_size). For pairs, chosen and rejected share one forward of 2x rows.'),
  gradient_accumulation_steps: posInt()
    .max(MAX_GRADIENT_ACCUMULATION_STEPS, `at most ${MAX_GRADIENT_ACCUMULATION_STEPS} micro-batches per step (a step's micro-batches are held in memory together); for a larger effective batch raise batch_size too`)
    .default(1)
    .describe(
      `Micro-batches per optimiser step; the step equals one batch of all of them (SFT loss normalised by the step's completion tokens, as TRL's num_items_in_batch; pair losses by its pairs). Range [1, ${MAX_GRADIENT_ACCUMULATION_STEPS}].`,
    ),
  learning_rate: z.number().positive().max(10).default(5e-4).describe('Peak learning rate of AdamW. Range (0, 10].'),
  lr_scheduler_type: z.enum(['constant', 'linear', 'cosine']).default('linear').describe('Schedule after warmup, as transformers get_scheduler.'),
  warmup_steps: nonNegInt().default(0).describe('Linear warmup steps from 0 to learning_rate.'),
  warmup_ratio: z.number().min(0).max(1).optional().describe('Warmup as a fraction of the total steps; overrides warmup_steps when set. Range [0, 1].'),
  weight_decay: z.number().min(0).default(0).describe('Decoupled AdamW weight decay (not applied to biases and norm weights, as HF Trainer).'),
  adam_beta1: z.number().min(0).lt(1).default(0.9).describe('AdamW beta1. Range [0, 1).'),
  adam_beta2: z.number().min(0).lt(1).default(0.999).describe('AdamW beta2. Range [0, 1).'),
  adam_epsilon: z.number().positive().default(1e-8).describe('AdamW epsilon.'),
  max_grad_norm: z.number().positive().nullable().default(1).describe('Global-norm gradient clipping; null disables it (grad_norm is still logged).'),
  max_length: posInt().default(LENGTH_DEFAULTS.max_length).describe('Max tokens of prompt + completion per sequence.'),
  max_prompt_length: posInt().nullable().default(LENGTH_DEFAULTS.max_prompt_length).describe('Max prompt tokens (truncated first); null = no separate prompt limit.'),
  truncation_mode: z.enum(TRUNCATION_MODES).default(LENGTH_DEFAULTS.truncation_mode).describe('Over-long prompts: keep_end keeps the prompt end; keep_start its start; drop removes over-long pairs (counted in the summary).'),
  shuffle: z.boolean().default(true).describe(
    'Shuffle the training examples each epoch (seeded by the recipe seed). false = file order, as transformers train_sampling_strategy "sequential": e.g. to train another toolkit on the very same order.',
  ),
  length_bucketing: z.boolean().default(false).describe('Group similar lengths into batches to cut padding (the padding fraction is reported).'),
  padding_free: z.boolean().default(true).describe(
    'Pack several sequences (or pairs) into each row without padding between them, each attending only to itself with positions restarting (TRL padding_free, default false there as it needs FlashAttention; here exact on every backend, so on by default). Same losses as padded rows; summary.json reports the padding it saved. false = pad every row to the batch\'s longest.',
  ),
  logging_steps: posInt().default(10).describe('Print a log line every N optimiser steps (metrics.jsonl gets every step).'),
  eval_steps: nonNegInt().default(0).describe('Evaluate every N steps; 0 = only at the end.'),
  save_steps: nonNegInt().default(0).describe('Write a resumable checkpoint every N steps; 0 = only the final model.'),
  save_total_limit: posInt().default(2).describe('Keep only the newest N step checkpoints.'),
  report_to: z
    .union([z.enum(REPORT_TARGETS), z.array(z.enum(REPORT_TARGETS)).min(1)])
    .default(['jsonl'])
    .refine((v) => !(Array.isArray(v) && v.includes('none') && v.length > 1), '"none" cannot be combined with other targets; give it alone')
    .describe(
      'Where metric rows go, as TRL / transformers report_to (one name or a list): jsonl = <out>/metrics.jsonl (the report reads it); ' +
        'tensorboard = event files under <out>/runs/<date>_<host>/ with Trainer\'s tags (train/loss, eval/loss, ...), as transformers\' logging_dir; none = neither.',
    ),
};

export const SftSchema = z
  .object({
    ...training,
    completion_only_loss: z.boolean().default(true).describe('SFT loss on the response tokens only (prompt masked). false = loss on every token.'),
  })
  .strict();

export const RewardSchema = z
  .object({
    ...training,
    center_rewards_coefficient: z.number().min(0).nullable().default(null).describe('Adds coef * mean((r_c + r_r)^2) to centre rewards (Eisenstein et al. 2023); null = off.'),
    use_margin: z.boolean().default(true).describe('Subtract the per-pair `margin` column from r_c - r_r when the data has one.'),
    share_prompt: z.boolean().default(true).describe(SHARE_PROMPT_DOC),
  })
  .strict();

/** A number in one of the losses' ranges (losses/dpo-config.ts owns them, so the recipe and the loss agree). */
function numberIn(r: NumberRange) {
  let n = z.number();
  if (r.gt !== undefined) n = n.gt(r.gt);
  if (r.gte !== undefined) n = n.gte(r.gte);
  if (r.lt !== undefined) n = n.lt(r.lt);
  if (r.lte !== undefined) n = n.lte(r.lte);
  return n;
}

export const DpoSchema = z
  .object({
    ...training,
    // The loss fields come from losses/dpo-config.ts (names, defaults, ranges, text); their cross-field rules
    // (weights per loss type, ε per loss type) are its dpoConfigProblems, run by load.ts's crossFieldIssues.
    beta: numberIn(DPO_LOSS_RANGES.beta).default(DPO_LOSS_DEFAULTS.beta).describe(DPO_LOSS_DOCS.beta),
    loss_type: z
      .union([z.enum(DPO_LOSS_TYPES), z.array(z.enum(DPO_LOSS_TYPES)).min(1)])
      .default(DPO_LOSS_DEFAULTS.loss_type)
      .describe(DPO_LOSS_DOCS.loss_type),
    loss_weights: z.array(numberIn(DPO_LOSS_RANGES.loss_weights)).optional().describe(DPO_LOSS_DOCS.loss_weights),
    label_smoothing: numberIn(DPO_LOSS_RANGES.label_smoothing).default(DPO_LOSS_DEFAULTS.label_smoothing).describe(DPO_LOSS_DOCS.label_smoothing),
    reference_free: z.boolean().default(DPO_LOSS_DEFAULTS.reference_free).describe(DPO_LOSS_DOCS.reference_free),
    reference: z.string().optional().describe('Reference model (path). Default: the SFT output in `rlhf run`, else the starting model.'),
    precompute_ref_log_probs: z.boolean().default(true).describe('Compute reference log-probs once before training and cache them on disk (keyed by reference weights, tokens and lengths).'),
    precompute_ref_batch_size: posInt().nullable().default(null).describe(
      `Pairs per forward of that reference pass (TRL precompute_ref_batch_size). null: ${REFERENCE_BATCH_PAIRS} pairs, or batch_size if larger (TRL: batch_size): the pass keeps no tape, so a larger batch costs little memory and spreads each op's fixed cost.`,
    ),
    discopop_tau: numberIn(DPO_LOSS_RANGES.discopop_tau).default(DPO_LOSS_DEFAULTS.discopop_tau).describe(DPO_LOSS_DOCS.discopop_tau),
    share_prompt: z.boolean().default(true).describe(SHARE_PROMPT_DOC),
  })
  .strict();

/** Two different, non-empty answer labels. */
const judgeLabels = () =>
  z
    .tuple([z.string().min(1), z.string().min(1)])
    .refine((l) => l[0] !== l[1], 'the two labels must differ');

export const JudgeSchema = z
  .object({
    ...training,
    template: z.string().optional().describe('Judge prompt template file using {prompt}, {a}, {b} (and {label_a}, {label_b}); the judge reads the token after its last word. Default: the built-in pairwise template (src/rewards/judge.ts).'),
    labels: judgeLabels()
      .default([...DEFAULT_JUDGE_LABELS])
      .describe('The two answer labels, each one token for the model\'s tokenizer after the template\'s last word (stories260K\'s tokenizer has no single-token "A": use e.g. ["B", "T"]).'),
  })
  .strict();

/** Fields both online stages (grpo, online_dpo) share: prompts, rewards, sampling. Names as TRL's GRPOConfig. */
const online = {
  ...training,
  enabled: z.boolean().default(false).describe('Run this stage in `rlhf run` (after reward, against it by default). Stage commands ignore it.'),
  padding_free: z.literal(false).default(false).describe('The online stages pad their rollout rows (packing them is not implemented here yet); must be false.'),
  prompts: z.string().optional().describe('Prompts file: rows {prompt} or preference records (their prompts). Default: data.train.'),
  eval_prompts: z.string().optional().describe('Held-out prompts for eval_reward / eval_kl (measured before the first step and at the end).'),
  eval_count: nonNegInt().optional().describe('Hold out this many prompts (seeded) when eval_prompts is not set.'),
  reward: z.array(z.string()).default([]).describe('Reward specs (a reward checkpoint folder, implicit:POLICY, fn:FILE.mjs, oracle), summed with reward_weights. Default in `rlhf run`: this run\'s reward model.'),
  reward_weights: z.array(z.number()).optional().describe('One weight per reward (TRL reward_weights); default 1 each.'),
  reference: z.string().optional().describe('Frozen reference for the KL (path). Default: the starting model (in `rlhf run`, the SFT output).'),
  num_generations: posInt().default(8).describe('Samples per prompt (TRL num_generations); batch_size counts completions and must be a multiple of it. GRPO needs >= 2; online DPO uses 2.'),
  max_new_tokens: posInt().default(64).describe('New tokens per completion at most (TRL max_completion_length).'),
  temperature: z.number().min(0).default(1).describe('Sampling temperature; log-probs in the loss are taken at this temperature, as TRL (0 = greedy, log-probs at 1).'),
  top_k: nonNegInt().default(0).describe('Sample from the k most likely tokens; 0 = off.'),
  top_p: z.number().gt(0).max(1).default(1).describe('Nucleus sampling mass; 1 = off. Range (0, 1].'),
};

export const GrpoSchema = z
  .object({
    ...online,
    advantage: z.enum(ADVANTAGE_TYPES).default(GRPO_DEFAULTS.advantage).describe(GRPO_DOCS.advantage),
    loss_type: z.enum(GRPO_LOSS_TYPES).default(GRPO_DEFAULTS.loss_type).describe(GRPO_DOCS.loss_type),
    beta: numberIn(GRPO_RANGES.beta).default(GRPO_DEFAULTS.beta).describe(GRPO_DOCS.beta),
    epsilon: numberIn(GRPO_RANGES.epsilon).default(GRPO_DEFAULTS.epsilon).describe(GRPO_DOCS.epsilon),
    epsilon_high: numberIn(GRPO_RANGES.epsilon_high).nullable().default(GRPO_DEFAULTS.epsilon_high).describe(GRPO_DOCS.epsilon_high),
    scale_rewards: z.enum(SCALE_REWARDS).default(GRPO_DEFAULTS.scale_rewards).describe(GRPO_DOCS.scale_rewards),
    normalize_advantages: z.boolean().default(GRPO_DEFAULTS.normalize_advantages).describe(GRPO_DOCS.normalize_advantages),
    mask_truncated_completions: z.boolean().default(GRPO_DEFAULTS.mask_truncated_completions).describe(GRPO_DOCS.mask_truncated_completions),
    num_iterations: posInt().default(GRPO_DEFAULTS.num_iterations).describe(GRPO_DOCS.num_iterations),
  })
  .strict();

export const OnlineDpoSchema = z
  .object({
    ...online,
    num_generations: z.literal(2).default(2).describe('Online DPO samples two completions per prompt.'),
    beta: numberIn(DPO_LOSS_RANGES.beta).default(DPO_LOSS_DEFAULTS.beta).describe(DPO_LOSS_DOCS.beta),
    loss_type: z
      .union([z.enum(DPO_LOSS_TYPES), z.array(z.enum(DPO_LOSS_TYPES)).min(1)])
      .default(DPO_LOSS_DEFAULTS.loss_type)
      .describe(DPO_LOSS_DOCS.loss_type),
    loss_weights: z.array(numberIn(DPO_LOSS_RANGES.loss_weights)).optional().describe(DPO_LOSS_DOCS.loss_weights),
    label_smoothing: numberIn(DPO_LOSS_RANGES.label_smoothing).default(DPO_LOSS_DEFAULTS.label_smoothing).describe(DPO_LOSS_DOCS.label_smoothing),
    reference_free: z.boolean().default(DPO_LOSS_DEFAULTS.reference_free).describe(DPO_LOSS_DOCS.reference_free),
    discopop_tau: numberIn(DPO_LOSS_RANGES.discopop_tau).default(DPO_LOSS_DEFAULTS.discopop_tau).describe(DPO_LOSS_DOCS.discopop_tau),
  })
  .strict();

export const DataSchema = z
  .object({
    train: z.string().describe('Training preference data: .jsonl/.json(.gz), .arrow, .parquet or an HF save_to_disk folder (path[:split]).'),
    eval: z.string().optional().describe('Held-out pairs; when absent, eval_count or eval_fraction split them off train.'),
    eval_count: nonNegInt().optional().describe('Hold out this many training pairs for eval (seeded).'),
    eval_fraction: z.number().min(0).lt(1).optional().describe('Hold out this fraction of training pairs for eval (seeded). Range [0, 1).'),
    format: z.enum(FORMAT_CHOICES).default('auto').describe(FORMAT_DESCRIPTION),
    skip_invalid: z.boolean().default(false).describe('Skip invalid records (counted, first examples reported) instead of stopping at the first.'),
    limit: posInt().optional().describe('Read at most this many training pairs (quick experiments).'),
  })
  .strict();

export const CompareSchema = z
  .object({
    enabled: z.boolean().default(true).describe('Run the comparison in `rlhf run`.'),
    probes: z.string().optional().describe('Probe JSONL file or folder of them ({probe, prompt, a, b}).'),
    bootstrap: nonNegInt().default(SUMMARY_DEFAULTS.bootstrap).describe('Bootstrap resamples for 95% intervals; 0 disables intervals.'),
    top_k: nonNegInt().default(SUMMARY_DEFAULTS.top_k).describe('How many top disagreements the report lists with their text.'),
    reward_model: z.string().optional().describe('Reward checkpoint (or run folder); default in `rlhf run`: this run\'s reward stage.'),
    policy: z.string().optional().describe('DPO policy checkpoint (or run folder); default in `rlhf run`: this run\'s DPO stage.'),
    reference: z.string().optional().describe('Reference of the policy; default: the one its rlhf.json records (dpo.reference, else the model DPO started from).'),
    beta: numberIn(DPO_LOSS_RANGES.beta).optional().describe('beta of the implicit reward. Default: the one the policy was trained with (its rlhf.json), else 0.1.'),
    batch_size: posInt().default(SCORING_BATCH_SIZE).describe('Pairs scored per forward pass.'),
    max_length: posInt().optional().describe('Max tokens per scored sequence (prompt + response). Default: each model\'s own training setting (its rlhf.json), else 256.'),
    max_prompt_length: posInt().nullable().optional().describe('Max prompt tokens when scoring; null = no separate limit. Default: each model\'s own training setting, else 128.'),
    truncation_mode: z.enum(TRUNCATION_MODES).optional().describe('How over-long pairs are cut when scoring (keep_end, keep_start; drop makes them an error). Default: each model\'s own training setting, else keep_end.'),
    share_prompt: z.boolean().default(true).describe('Score each pair in one row with its prompt computed once (the same scores as separate rows); false = one padded row per side.'),
    judge: z.string().optional().describe('A generative judge (checkpoint, HF folder or llama2.c .bin) asked about every pair and probe in both orders, as a third reward; default in `rlhf run`: this run\'s judge stage when enabled, else none.'),
    judge_template: z.string().optional().describe('The judge\'s prompt template file. Default: the one the judge was trained with (its rlhf.json), else the built-in one.'),
    judge_labels: judgeLabels().optional().describe('The judge\'s two answer labels. Default: the ones it was trained with, else ["A", "B"].'),
  })
  .strict();

/** The reward–KL frontier (`rlhf frontier`) as the run's last stage; off unless enabled. */
export const FrontierSchema = z
  .object({
    enabled: z.boolean().default(false).describe('Run the reward–KL frontier in `rlhf run` (after compare): best-of-n for each proxy, RL checkpoints and policies, against a gold reward.'),
    proxies: z.array(z.string()).optional().describe('Proxy reward specs (a reward checkpoint, implicit:POLICY, fn:FILE.mjs, oracle). Default: this run\'s reward model and its DPO policy\'s implicit reward.'),
    gold: z.string().default('oracle').describe('Gold reward spec; oracle is the shipped data\'s programmatic judge.'),
    prompts: z.string().optional().describe('Prompts file (each distinct prompt once). Default: data.eval.'),
    max_prompts: posInt().optional().describe('Use at most this many distinct prompts (file order). Default: all.'),
    n_max: posInt().default(64).describe('Samples per prompt in the best-of-n pool; best-of-n for n = 1, 2, 4, ... up to it.'),
    max_new_tokens: posInt().default(64).describe('New tokens per sample at most.'),
    samples_per_policy: posInt().default(8).describe('Samples per prompt for each RL checkpoint or policy point (their sampled KL and rewards).'),
    policy_points: z.array(z.string()).optional().describe('Trained policies placed by sampled KL and gold. Default: this run\'s DPO policy.'),
    rl_runs: z.array(z.string()).optional().describe('RL run folders whose checkpoint-<N>/ and final/ folders become points. Default: this run\'s grpo and online_dpo stages.'),
  })
  .strict();

export const RecipeSchema = z
  .object({
    $schema: z.string().optional().describe('Ignored; lets editors find a JSON schema.'),
    name: z
      .string()
      .regex(/^[A-Za-z0-9._-]+$/, 'use letters, digits, ".", "_" and "-" only')
      .default('run')
      .describe('Run name; the default output folder is checkpoints/<name>.'),
    description: z.string().optional().describe('Free text shown in summaries.'),
    seed: nonNegInt().default(42).describe('Seed for initialisation, data order, splits and bootstrap.'),
    backend: z.enum(['auto', 'tensorflow', 'wasm', 'cpu']).default('auto').describe('TF.js backend; auto picks native > wasm > cpu. Left out: RLHF_BACKEND, else auto; --backend wins over both.'),
    out: z.string().optional().describe('Output folder; default checkpoints/<name>.'),
    model: z.string().default('config:tiny').describe('Starting model: checkpoint folder, HF folder, llama2.c .bin, or config:NAME (tiny, 15m: Llama; gpt2-tiny: GPT-2) to train from scratch.'),
    tokenizer: z.string().optional().describe('Tokenizer: "byte", a tokenizer.json / folder, or a llama2.c tokenizer .bin. Default: the model\'s own, else byte.'),
    data: DataSchema,
    sft: SftSchema.default(SftSchema.parse({ enabled: false })).describe('Supervised fine-tuning on chosen responses, to make the reference policy.'),
    reward: RewardSchema.default(RewardSchema.parse({})).describe('Bradley-Terry reward model.'),
    dpo: DpoSchema.default(DpoSchema.parse({})).describe('Direct Preference Optimization.'),
    judge: JudgeSchema.default(JudgeSchema.parse({ enabled: false })).describe('A generative judge: SFT on the preference pairs framed as judge prompts, the better label as target, both orders (off unless enabled).'),
    grpo: GrpoSchema.default(GrpoSchema.parse({})).describe('GRPO / RLOO against a reward (TRL GRPOTrainer / RLOOTrainer); off unless enabled.'),
    online_dpo: OnlineDpoSchema.default(OnlineDpoSchema.parse({})).describe('Online DPO: two samples per prompt labelled by a reward (TRL OnlineDPOTrainer); off unless enabled.'),
    compare: CompareSchema.default(CompareSchema.parse({})).describe('Explicit vs implicit reward comparison and report.'),
    frontier: FrontierSchema.default(FrontierSchema.parse({})).describe('Reward–KL frontier: what optimising each reward does to a gold reward.'),
  })
  .strict();

export type Recipe = z.infer<typeof RecipeSchema>;
export type CompareRecipe = z.infer<typeof CompareSchema>;
export type FrontierRecipe = z.infer<typeof FrontierSchema>;
export type SftRecipe = z.infer<typeof SftSchema>;
export type RewardRecipe = z.infer<typeof RewardSchema>;
export type DpoRecipe = z.infer<typeof DpoSchema>;
export type JudgeRecipe = z.infer<typeof JudgeSchema>;
export type GrpoRecipe = z.infer<typeof GrpoSchema>;
export type OnlineDpoRecipe = z.infer<typeof OnlineDpoSchema>;
export type TrainingRecipe = SftRecipe | RewardRecipe | DpoRecipe;

/** A validated recipe is every training stage's inputs as it stands (train/settings.ts owns those types); compiling checks it. */
type Fits<T extends U, U> = T;
type RecipeFitsStages = Fits<Recipe, SftInputs & RewardInputs & DpoInputs & JudgeInputs & GrpoInputs & OnlineDpoInputs>;

/** Fields holding paths: resolved relative to the recipe file (values from flags: relative to the cwd). */
export const PATH_FIELDS = [
  'out', 'model', 'tokenizer', 'data.train', 'data.eval', 'dpo.reference',
  'grpo.prompts', 'grpo.eval_prompts', 'grpo.reference', 'online_dpo.prompts', 'online_dpo.eval_prompts', 'online_dpo.reference',
  'compare.probes', 'compare.reward_model', 'compare.policy', 'compare.reference', 'compare.judge', 'compare.judge_template', 'judge.template', 'frontier.prompts',
] as const;
