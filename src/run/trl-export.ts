/**
 * The hand-over to TRL: one training stage of a recipe as a folder that TRL 1.13 trains from as it is,
 *   <out>/<stage>.yaml      TRL's config for the stage (RewardConfig / DPOConfig + ScriptArguments + ModelConfig
 *                           fields) with the recipe's values under TRL's names; every recipe field without a TRL
 *                           equivalent is listed in a comment at the top, with what TRL does instead
 *   <out>/data/train.jsonl  the same training pairs the stage trains on (same split, seed and limit), in TRL's
 *   <out>/data/test.jsonl   columns: prompt / chosen / rejected (strings, or {role, content} lists where the data
 *                           is conversational), margin for a reward model when the recipe uses it; id
 *   <out>/model/            the starting model as a Hugging Face folder (config.json, model.safetensors,
 *                           tokenizer.json): config:NAME is initialised here (same seed as our stage), a reward
 *                           stage's start gets its score head (and pad token) as our reward stage initialises it,
 *                           so TRL starts from the weights ours would
 *   <out>/model/chat_template.jinja  our default chat layout, when the data is conversational and the tokenizer has
 *                           none (transformers reads it beside the tokenizer: TRL renders the messages as we do)
 *   <out>/reference/ + dpo_reference.py  DPO with a reference other than the starting model (the trl CLI cannot
 *                           name one: the script passes it to DPOTrainer)
 *   <out>/README.md         the commands: `trl reward|dpo --config ...`, several GPUs, several machines
 * Commands run from <out>: every path in the YAML is relative to it, so the folder can be copied to another
 * machine as it is.
 *
 * A stage is one entry of TRL_STAGES (its TRL command and config class, its own fields, its data columns, its
 * starting model). GRPO is the online one: its data are prompts ({prompt} rows, split as the stage splits them) and
 * its reward model goes beside the policy as <out>/reward_model/ (reward_model_name_or_path in grpo.yaml).
 * Does NOT: run TRL, or import TRL's defaults at run time (the names and defaults below were read from the
 * installed TRL 1.13 / transformers 5.17 sources; a test parses the YAML with TRL's own TrlParser).
 */
import * as fs from 'fs';
import * as path from 'path';
import { loadTrainEval } from '../data';
import type { PreferenceRecord, Text, ChatMessage } from '../data/types';
import { renderDefaultChat } from '../data/render';
import { FINAL_DIR, rewardCheckpointWeights, saveCheckpoint } from '../io/checkpoint';
import { clearOutputFolder } from '../io/lock';
import { loadPolicy, loadRewardModel, resolveModelPath } from '../io/load-model';
import type { DpoRecipe, GrpoRecipe, Recipe, RewardRecipe, TrainingRecipe } from '../recipes/schema';
import type { PromptRecord } from '../data/prompts';
import { seededPermutation } from '../data/rng';
import { readPromptRecords } from '../train/prompts';
import { referenceBatchSize } from '../train/settings';
import type { Tokenizer } from '../tokenizer/types';

export class TrlExportError extends Error {
  override name = 'TrlExportError';
}

/** The TRL version whose field names and defaults the configs use. */
export const TRL_VERSION = '1.13';

export type TrlStageName = 'reward' | 'dpo' | 'grpo';

/** One YAML line: a TRL field and its value, with an optional comment (why the value, or how it differs). */
export interface Setting {
  key: string;
  value: unknown;
  note?: string;
  /** The recipe field(s) of the stage's section it comes from (absent: set by the export itself). */
  from?: string[];
}

/** A recipe field with no TRL equivalent: listed at the top of the YAML, never silently dropped. */
export interface Unmapped {
  field: string;
  value: unknown;
  why: string;
}

export interface Mapping {
  settings: Setting[];
  unmapped: Unmapped[];
}

/** What a stage needs from the export besides the recipe. */
export interface StageContext {
  recipe: Recipe;
  /** Training pairs and held-out pairs, as the stage would use them. */
  hasEval: boolean;
  /** Whether the data written has a margin column. */
  hasMargin: boolean;
  conversational: boolean;
  /** Whether dpo_reference.py is written (a reference other than the starting model). */
  separateReference: boolean;
}

interface TrlStage {
  /** trl CLI subcommand and the module `accelerate launch -m` runs. */
  command: string;
  configClass: string;
  section(r: Recipe): TrainingRecipe;
  /** The stage's own fields (beyond the shared training ones). */
  fields(s: TrainingRecipe, ctx: StageContext): Mapping;
  /** One JSONL row in TRL's columns, or an error message for a record this stage cannot hand over. */
  row(r: PreferenceRecord, s: TrainingRecipe): Record<string, unknown>;
  /** Writes the starting model to `dir` as our stage would start from it; returns its tokenizer. */
  writeModel(spec: string, recipe: Recipe, dir: string): Tokenizer;
  /** An online stage's rows (prompts, not pairs): replaces the pairs and row() when present. */
  promptRows?(recipe: Recipe): Promise<{ train: Record<string, unknown>[]; test: Record<string, unknown>[] }>;
}

const asMessages = (t: Text, role: string): ChatMessage[] => (typeof t === 'string' ? (t ? [{ role, content: t }] : []) : t);

/** prompt / chosen / rejected as TRL reads them: all strings, or all message lists (conversational). */
function textColumns(r: PreferenceRecord): Record<string, unknown> {
  if (typeof r.prompt === 'string' && typeof r.chosen === 'string' && typeof r.rejected === 'string') {
    return { prompt: r.prompt, chosen: r.chosen, rejected: r.rejected };
  }
  return { prompt: asMessages(r.prompt, 'user'), chosen: asMessages(r.chosen, 'assistant'), rejected: asMessages(r.rejected, 'assistant') };
}

const REWARD: TrlStage = {
  command: 'reward',
  configClass: 'RewardConfig',
  section: (r) => r.reward,
  fields: (s) => {
    const r = s as RewardRecipe;
    return {
      settings: [{ key: 'center_rewards_coefficient', value: r.center_rewards_coefficient, from: ['center_rewards_coefficient'] }],
      unmapped: [
        {
          field: 'reward.use_margin',
          value: r.use_margin,
          why: r.use_margin
            ? 'no config field: TRL subtracts a "margin" column whenever the data has one, so the data keeps it'
            : 'no config field: TRL subtracts a "margin" column whenever the data has one, so the data written here has none',
        },
      ],
    };
  },
  row: (rec, s) => {
    if (rec.chosenIds) {
      // TRL's reward trainer takes pre-tokenised pairs as whole sequences (its "is_processed" branch).
      const p = rec.promptIds ?? [];
      return { chosen_ids: [...p, ...rec.chosenIds], rejected_ids: [...p, ...rec.rejectedIds!], ...(marginOf(rec, s) ?? {}), id: rec.id };
    }
    return { ...textColumns(rec), ...(marginOf(rec, s) ?? {}), id: rec.id };
  },
  writeModel: (spec, recipe, dir) => {
    // Our reward stage's start: a reward checkpoint as it is, else the policy with a score head seeded by recipe.seed.
    const rm = loadRewardModel(spec, { tokenizer: recipe.tokenizer, seed: recipe.seed, trainable: false });
    try {
      const weights = rewardCheckpointWeights(rm.model.weights);
      saveCheckpoint(dir, { kind: 'reward', config: rm.model.config, weights, tokenizer: rm.tokenizer, step: 0, recipe, parent: rm.source });
      return rm.tokenizer;
    } finally {
      rm.model.dispose();
    }
  },
};

function marginOf(rec: PreferenceRecord, s: TrainingRecipe): { margin: number } | null {
  return (s as RewardRecipe).use_margin && rec.margin !== undefined ? { margin: rec.margin } : null;
}

const DPO: TrlStage = {
  command: 'dpo',
  configClass: 'DPOConfig',
  section: (r) => r.dpo,
  fields: (s, ctx) => {
    const d = s as DpoRecipe;
    const settings: Setting[] = [
      { key: 'beta', value: d.beta, from: ['beta'] },
      { key: 'loss_type', value: Array.isArray(d.loss_type) ? d.loss_type : [d.loss_type], from: ['loss_type'] },
      { key: 'loss_weights', value: d.loss_weights ?? null, from: ['loss_weights'] },
      { key: 'label_smoothing', value: d.label_smoothing, from: ['label_smoothing'] },
      { key: 'discopop_tau', value: d.discopop_tau, from: ['discopop_tau'] },
      {
        key: 'precompute_ref_log_probs',
        value: d.precompute_ref_log_probs,
        from: ['precompute_ref_log_probs'],
        note: 'TRL computes them once per run; ours also keeps them on disk across runs (keyed by reference weights and tokens)',
      },
      { key: 'precompute_ref_batch_size', value: referenceBatchSize(d), from: ['precompute_ref_batch_size'] },
    ];
    const unmapped: Unmapped[] = [];
    if (d.reference_free) unmapped.push({ field: 'dpo.reference_free', value: true, why: 'TRL 1.13 has no reference-free DPO; the reference is the starting model (or dpo_reference.py\'s)' });
    else unmapped.push({ field: 'dpo.reference_free', value: false, why: 'TRL 1.13 has no such field; it always uses a reference, as ours does with false' });
    unmapped.push({
      field: 'dpo.reference',
      value: d.reference ?? null,
      why: ctx.separateReference
        ? 'the trl CLI cannot name a reference model: run dpo_reference.py (same config), which passes reference/ to DPOTrainer'
        : 'unset or the starting model: TRL\'s default reference, a frozen copy of the starting model, is the same',
    });
    return { settings, unmapped };
  },
  row: (rec) => {
    if (rec.chosenIds) {
      throw new TrlExportError(`${rec.source}: a pre-tokenised record; TRL 1.13's DPO trainer always tokenises text itself (prompt, chosen, rejected); export text data instead`);
    }
    return { ...textColumns(rec), id: rec.id };
  },
  writeModel: (spec, recipe, dir) => {
    const p = loadPolicy(spec, { tokenizer: recipe.tokenizer, seed: recipe.seed, trainable: false });
    try {
      saveCheckpoint(dir, { kind: 'policy', config: p.model.config, weights: p.model.weights, tokenizer: p.tokenizer, step: 0, recipe, parent: p.source });
      return p.tokenizer;
    } finally {
      p.model.dispose();
    }
  },
};

/**
 * GRPO (TRL GRPOTrainer through `trl grpo`): the prompts as a {prompt} dataset, split as our stage splits them, and
 * one reward model (TRL's script takes one, reward_model_name_or_path) written beside the policy as reward_model/.
 * RLOO, several rewards and reward kinds TRL cannot load (fn:, implicit:, oracle) are errors naming the cause.
 */
const GRPO: TrlStage = {
  command: 'grpo',
  configClass: 'GRPOConfig',
  section: (r) => r.grpo as unknown as TrainingRecipe, // the training fields are the same (schema.ts online)
  fields: (s) => {
    const g = s as unknown as GrpoRecipe;
    const settings: Setting[] = [
      { key: 'num_generations', value: g.num_generations, from: ['num_generations'] },
      { key: 'max_completion_length', value: g.max_new_tokens, from: ['max_new_tokens'] },
      { key: 'temperature', value: g.temperature, from: ['temperature'], note: g.temperature === 0 ? 'ours samples greedily at 0; transformers\' generate needs do_sample with a temperature > 0' : undefined },
      { key: 'top_k', value: g.top_k, from: ['top_k'] },
      { key: 'top_p', value: g.top_p, from: ['top_p'] },
      { key: 'beta', value: g.beta, from: ['beta'] },
      { key: 'epsilon', value: g.epsilon, from: ['epsilon'] },
      { key: 'epsilon_high', value: g.epsilon_high, from: ['epsilon_high'] },
      { key: 'loss_type', value: g.loss_type, from: ['loss_type'] },
      { key: 'scale_rewards', value: g.scale_rewards, from: ['scale_rewards'] },
      { key: 'mask_truncated_completions', value: g.mask_truncated_completions, from: ['mask_truncated_completions'] },
      { key: 'num_iterations', value: g.num_iterations, from: ['num_iterations'] },
      { key: 'reward_weights', value: g.reward_weights ?? null, from: ['reward_weights'] },
      { key: 'steps_per_generation', value: g.gradient_accumulation_steps, note: 'TRL\'s default: one generation batch per optimiser step (ours samples each micro-batch as its own rollout)' },
    ];
    const unmapped: Unmapped[] = [
      { field: 'grpo.advantage', value: g.advantage, why: 'GRPOTrainer is the "grpo" advantage; RLOO is TRL\'s RLOOTrainer (not handed over)' },
      { field: 'grpo.normalize_advantages', value: g.normalize_advantages, why: 'RLOOConfig only; unused by the grpo advantage' },
      { field: 'grpo.reward', value: g.reward, why: 'written as reward_model_name_or_path: reward_model (the folder beside model/)' },
      { field: 'grpo.prompts', value: g.prompts ?? null, why: 'written as data/train.jsonl ({prompt} rows)' },
      { field: 'grpo.eval_prompts', value: g.eval_prompts ?? null, why: 'written as data/test.jsonl' },
      { field: 'grpo.eval_count', value: g.eval_count ?? null, why: 'the held-out prompts are data/test.jsonl; TRL reports eval_reward on them but no eval_kl' },
      {
        field: 'grpo.reference',
        value: g.reference ?? null,
        why: 'TRL\'s reference is always a frozen copy of the starting model (model/); a different reference is not handed over',
      },
    ];
    return { settings, unmapped };
  },
  row: () => {
    throw new TrlExportError('grpo: rows are prompts (promptRows), not pairs');
  },
  writeModel: (spec, recipe, dir) => DPO.writeModel(spec, recipe, dir),
  promptRows: async (recipe) => {
    const g = recipe.grpo;
    if (g.advantage === 'rloo') throw new TrlExportError('grpo.advantage is "rloo": TRL trains RLOO with its RLOOTrainer, which this hand-over does not write; set grpo.advantage "grpo" or train RLOO here');
    const all = await readPromptRecords(g.prompts ?? recipe.data.train);
    const row = (p: PromptRecord): Record<string, unknown> => {
      if (p.promptIds) throw new TrlExportError(`${p.source}: a pre-tokenised prompt; TRL's GRPOTrainer tokenises prompt text itself; export text prompts instead`);
      return { prompt: p.prompt, id: p.id }; // a string, or {role, content} messages (TRL applies the chat template)
    };
    if (g.eval_prompts) return { train: all.map(row), test: (await readPromptRecords(g.eval_prompts)).map(row) };
    const k = g.eval_count ?? 0;
    if (k >= all.length && k > 0) throw new TrlExportError(`grpo.eval_count ${k} leaves no training prompts (${all.length} in all); lower it or give grpo.eval_prompts`);
    // The same seeded hold-out as the stage (train/online-stages.ts readPromptSets).
    const order = seededPermutation(all.length, recipe.seed);
    return { train: order.slice(k).map((i) => row(all[i])), test: order.slice(0, k).map((i) => row(all[i])) };
  },
};

/** The one reward model GRPO's TRL script can load: the section's single checkpoint spec, else this run's reward stage output. */
export function grpoRewardModel(recipe: Recipe): string {
  const specs = recipe.grpo.reward;
  if (specs.length > 1) throw new TrlExportError(`grpo.reward has ${specs.length} rewards; trl grpo takes one reward model (reward_model_name_or_path): hand over with one, or write a GRPOTrainer script with reward_funcs`);
  if (specs.length === 1) {
    const spec = specs[0];
    if (/^[a-z][a-z0-9-]*:/.test(spec) && !spec.startsWith('config:') || spec === 'oracle') {
      throw new TrlExportError(`grpo.reward "${spec}": TRL can only load a reward model folder; a ${spec.split(':')[0]} reward has no TRL form (write it as a Python reward function for GRPOTrainer)`);
    }
    return spec;
  }
  const runReward = path.join(recipe.out ?? path.resolve('checkpoints', recipe.name), 'reward', FINAL_DIR);
  if (!recipe.reward.enabled || !fs.existsSync(runReward)) {
    throw new TrlExportError(`grpo.reward is empty, so the stage scores with this run's reward model, but ${runReward} does not exist; run \`rlhf reward --recipe ...\` first, or name one (--set 'grpo.reward=["path/to/rm"]')`);
  }
  return runReward;
}

/** The stages that can be handed over: one entry each. */
export const TRL_STAGES: Record<TrlStageName, TrlStage> = { reward: REWARD, dpo: DPO, grpo: GRPO };

/** The stage's TRL settings and the recipe fields without an equivalent: the shared training fields, then its own. */
export function trlMapping(stage: TrlStageName, ctx: StageContext): Mapping {
  const spec = TRL_STAGES[stage];
  const s = spec.section(ctx.recipe);
  const shared = trainingFields(s, stage, ctx);
  const own = spec.fields(s, ctx);
  return { settings: [...shared.settings, ...own.settings], unmapped: [...shared.unmapped, ...own.unmapped] };
}

/** Fields every training stage shares, under transformers 5.17 TrainingArguments' names. */
function trainingFields(s: TrainingRecipe, stage: TrlStageName, ctx: StageContext): Mapping {
  const r = ctx.recipe;
  const warm = s.warmup_ratio !== undefined ? s.warmup_ratio > 0 : s.warmup_steps > 0;
  const settings: Setting[] = [
    { key: 'seed', value: r.seed, note: 'TRL shuffles with torch\'s generator: the same pairs per epoch, in another order' },
    { key: 'num_train_epochs', value: s.epochs, from: ['epochs'] },
    { key: 'max_steps', value: s.max_steps ?? -1, from: ['max_steps'], note: s.max_steps ? undefined : '-1: train num_train_epochs' },
    { key: 'per_device_train_batch_size', value: s.batch_size, from: ['batch_size'], note: 'per GPU: with N processes a step sees N times as many pairs (divide by N to keep the recipe\'s batch)' },
    { key: 'per_device_eval_batch_size', value: s.batch_size, from: ['batch_size'] },
    { key: 'gradient_accumulation_steps', value: s.gradient_accumulation_steps, from: ['gradient_accumulation_steps'] },
    { key: 'learning_rate', value: s.learning_rate, from: ['learning_rate'] },
    {
      key: 'lr_scheduler_type',
      from: ['lr_scheduler_type', 'warmup_steps', 'warmup_ratio'],
      value: s.lr_scheduler_type === 'constant' && warm ? 'constant_with_warmup' : s.lr_scheduler_type,
      note: s.lr_scheduler_type === 'constant' && warm ? 'our constant schedule warms up first; transformers\' "constant" would not' : undefined,
    },
    s.warmup_ratio !== undefined
      ? { key: 'warmup_steps', value: s.warmup_ratio, from: ['warmup_ratio', 'warmup_steps'], note: 'a float < 1 is a ratio of the total steps in transformers 5 (warmup_ratio was removed); ceil(ratio * steps), as ours' }
      : { key: 'warmup_steps', value: s.warmup_steps, from: ['warmup_steps', 'warmup_ratio'] },
    { key: 'weight_decay', value: s.weight_decay, from: ['weight_decay'], note: 'both leave biases and norm weights undecayed' },
    { key: 'adam_beta1', value: s.adam_beta1, from: ['adam_beta1'] },
    { key: 'adam_beta2', value: s.adam_beta2, from: ['adam_beta2'] },
    { key: 'adam_epsilon', value: s.adam_epsilon, from: ['adam_epsilon'] },
    { key: 'max_grad_norm', value: s.max_grad_norm ?? 0, from: ['max_grad_norm'], note: s.max_grad_norm === null ? 'null in the recipe: 0 turns clipping off in transformers' : undefined },
    ...(stage === 'grpo' ? [] : [{ key: 'max_length', value: s.max_length, from: ['max_length'], note: stage === 'reward' ? 'TRL drops pairs longer than this' : 'TRL truncates prompt + completion to this' }]),
    { key: 'logging_steps', value: s.logging_steps, from: ['logging_steps'] },
    ...evalSettings(s, ctx),
    ...(s.save_steps > 0
      ? [{ key: 'save_strategy', value: 'steps', from: ['save_steps'] }, { key: 'save_steps', value: s.save_steps, from: ['save_steps'] }]
      : [{ key: 'save_strategy', value: 'no', from: ['save_steps'], note: 'save_steps 0: no step checkpoints; the script saves the final model into output_dir' }]),
    { key: 'save_total_limit', value: s.save_total_limit, from: ['save_total_limit'] },
    { key: 'report_to', value: reportTo(s), from: ['report_to'], note: reportToNote(s) },
    { key: 'bf16', value: false, note: 'our runs are float32; set true on GPUs with bfloat16 (Ampere or newer) for speed' },
  ];
  settings.push(
    s.length_bucketing
      ? { key: 'train_sampling_strategy', value: 'group_by_length', from: ['length_bucketing'], note: 'length_bucketing: groups similar lengths too, by transformers\' own rule (megabatches)' }
      : s.shuffle
        ? { key: 'train_sampling_strategy', value: 'random', from: ['shuffle', 'length_bucketing'] }
        : { key: 'train_sampling_strategy', value: 'sequential', from: ['shuffle'], note: 'shuffle false: the training examples in file order' },
  );
  if (stage === 'dpo') {
    const mode = s.truncation_mode;
    if (mode !== 'drop') {
      settings.push({
        key: 'truncation_mode',
        value: mode,
        from: ['truncation_mode'],
        note: mode === 'keep_end' ? 'deprecated in TRL 1.13 (a FutureWarning) and removed in 2.0; keep_start is TRL\'s default' : undefined,
      });
    }
  }
  const unmapped: Unmapped[] = [
    { field: `${stage}.enabled`, value: s.enabled, why: 'only tells `rlhf run` whether to run the stage' },
    { field: `${stage}.max_prompt_length`, value: s.max_prompt_length, why: `TRL 1.13's ${TRL_STAGES[stage].configClass} has no prompt limit: ${stage === 'grpo' ? 'prompts are kept whole' : 'only max_length applies'}` },
    {
      field: `${stage}.padding_free`,
      value: s.padding_free,
      why: stage === 'dpo'
        ? 'TRL 1.13\'s DPOConfig.padding_free is temporarily unavailable (it warns and pads): TRL pads every batch, the same losses up to float rounding, more work'
        : 'no RewardConfig field: TRL pads every batch, the same losses up to float rounding, more work',
    },
    {
      field: `${stage}.share_prompt`,
      value: (s as RewardRecipe | DpoRecipe).share_prompt,
      why: 'no TRL field: TRL computes each pair\'s prompt twice (its chosen and its rejected row), the same losses up to float rounding, more work',
    },
  ];
  if (stage === 'reward') {
    unmapped.push({
      field: 'reward.truncation_mode',
      value: s.truncation_mode,
      why: s.truncation_mode === 'drop' ? 'no config field; TRL\'s reward trainer drops pairs over max_length, as "drop" does' : 'TRL\'s reward trainer drops over-long pairs (as our "drop") instead of truncating them',
    });
  }
  if (stage === 'grpo') {
    unmapped.push(
      { field: 'grpo.max_length', value: s.max_length, why: 'GRPOConfig has no total limit: prompts are kept whole and completions stop at max_completion_length' },
      { field: 'grpo.truncation_mode', value: s.truncation_mode, why: 'GRPOConfig truncates nothing (see max_length)' },
    );
  }
  if (stage === 'dpo' && s.truncation_mode === 'drop') {
    unmapped.push({ field: 'dpo.truncation_mode', value: 'drop', why: 'TRL\'s DPO trainer truncates (keep_start) and drops only pairs whose prompt alone reaches max_length' });
  }
  return { settings, unmapped };
}

/** transformers evaluates under a strategy: steps every eval_steps; ours evaluates at the end too. */
function evalSettings(s: TrainingRecipe, ctx: StageContext): Setting[] {
  const from = ['eval_steps'];
  if (!ctx.hasEval) return [{ key: 'eval_strategy', value: 'no', from, note: 'no held-out pairs in the recipe' }];
  if (s.eval_steps > 0) return [{ key: 'eval_strategy', value: 'steps', from }, { key: 'eval_steps', value: s.eval_steps, from, note: 'ours also evaluates after the last step' }];
  if (s.max_steps) return [{ key: 'eval_strategy', value: 'steps', from }, { key: 'eval_steps', value: s.max_steps, from, note: 'eval_steps 0 in the recipe: once, after the last step' }];
  return [{ key: 'eval_strategy', value: 'epoch', from, note: 'eval_steps 0 in the recipe: ours evaluates once after the last step; "epoch" does after each epoch' }];
}

function reportToList(s: TrainingRecipe): string[] {
  return Array.isArray(s.report_to) ? s.report_to : [s.report_to];
}

/** transformers' report_to: tensorboard as it is; jsonl has no integration there (trainer_state.json keeps the log). */
function reportTo(s: TrainingRecipe): string[] | string {
  const t = reportToList(s).filter((x) => x !== 'jsonl' && x !== 'none');
  return t.length ? t : 'none';
}

function reportToNote(s: TrainingRecipe): string | undefined {
  return reportToList(s).includes('jsonl') ? 'jsonl has no transformers integration: each checkpoint\'s trainer_state.json keeps the log rows (log_history)' : undefined;
}

/** A YAML scalar PyYAML reads back as the same value: floats always with a dot (PyYAML reads 1e-8 as a string). */
export function yamlScalar(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new TrlExportError(`cannot write ${v} to YAML`);
    if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
    const t = String(v);
    const m = /^(-?\d+)(?:\.(\d+))?e([+-]\d+)$/.exec(t);
    return m ? `${m[1]}.${m[2] ?? '0'}e${m[3]}` : t;
  }
  if (typeof v === 'string') return JSON.stringify(v); // a double-quoted YAML scalar
  if (Array.isArray(v)) return `[${v.map(yamlScalar).join(', ')}]`;
  throw new TrlExportError(`cannot write ${typeof v} to YAML`);
}

/** Example: a comment wrapped at ~110 columns, each line starting with "# ". */
function comment(text: string, indent = ''): string[] {
  const words = text.split(' ');
  const lines: string[] = [];
  let cur = '';
  for (const w of words) {
    if (cur && (indent + '# ' + cur + ' ' + w).length > 112) {
      lines.push(`${indent}# ${cur}`);
      cur = w;
    } else cur = cur ? `${cur} ${w}` : w;
  }
  if (cur) lines.push(`${indent}# ${cur}`);
  return lines;
}

/** The YAML text: header, unmapped fields, then the settings grouped as TRL's scripts read them. */
export function renderTrlConfig(stage: TrlStageName, recipeName: string, groups: Array<[string, Setting[]]>, unmapped: Unmapped[]): string {
  const spec = TRL_STAGES[stage];
  const out: string[] = [
    `# TRL ${TRL_VERSION} config for \`trl ${spec.command} --config ${stage}.yaml\` (run from this folder), written by`,
    `# \`rlhf export --trl --stage ${stage}\` from recipe "${recipeName}". Fields: ScriptArguments, ${spec.configClass}`,
    '# (transformers TrainingArguments) and ModelConfig. A flag after --config overrides a value here.',
    '#',
    '# Recipe fields with no TRL equivalent (not set below):',
  ];
  for (const u of unmapped) out.push(...comment(`${u.field} = ${JSON.stringify(u.value)}: ${u.why}`, ''));
  for (const [title, settings] of groups) {
    out.push('', `# ${title}`);
    for (const s of settings) {
      if (s.note) out.push(...comment(s.note));
      out.push(`${s.key}: ${yamlScalar(s.value)}`);
    }
  }
  return out.join('\n') + '\n';
}

/**
 * Our default chat layout (data/render.ts) as a Jinja template for transformers' apply_chat_template: BOS
 * first and EOS after a final assistant message, as collation adds them (render passes bos/eos as '').
 */
export function defaultChatTemplate(): string {
  // Checked against renderDefaultChat below (same layout), so the two cannot drift apart silently.
  const probe = renderDefaultChat([{ role: 'user', content: 'x' }], true);
  if (probe !== '<|user|>\nx\n<|assistant|>\n') throw new TrlExportError(`the default chat layout changed (${JSON.stringify(probe)}); update defaultChatTemplate`);
  return (
    '{{ bos_token }}{% for message in messages %}<|{{ message.role }}|>\n{{ message.content }}\n' +
    "{% if loop.last and message.role == 'assistant' and not add_generation_prompt %}{{ eos_token }}{% endif %}" +
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
  );
}

export interface TrlExportOptions {
  stage: TrlStageName;
  out: string;
  /** Starting model (default: the stage's start in `rlhf run`: the SFT output when sft is enabled, else recipe.model). */
  model?: string;
  overwrite?: boolean;
}

export interface TrlExportResult {
  out: string;
  stage: TrlStageName;
  config: string;
  data: { train: string; test: string | null; train_rows: number; test_rows: number };
  model: string;
  reference: string | null;
  readme: string;
  /** Recipe fields with no TRL equivalent (also listed in the YAML). */
  unmapped: string[];
  commands: string[];
}

/** The stage's starting model in `rlhf run` (the SFT output when the recipe trains one). */
function startModel(recipe: Recipe, o: TrlExportOptions): string {
  if (o.model) return o.model;
  if (!recipe.sft.enabled) return recipe.model;
  const sft = path.join(recipe.out ?? path.resolve('checkpoints', recipe.name), 'sft');
  if (!fs.existsSync(path.join(sft, FINAL_DIR))) {
    throw new TrlExportError(`the recipe trains an SFT stage first and the ${o.stage} stage starts from its output, but ${path.join(sft, FINAL_DIR)} does not exist; run \`rlhf sft --recipe ...\` (or \`rlhf run\`) first, or name the start with --model`);
  }
  return path.join(sft, FINAL_DIR);
}

function writeJsonl(file: string, rows: Record<string, unknown>[]): void {
  fs.writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : ''));
}

/** Writes the hand-over folder for one stage of `recipe` (see the module comment). */
export async function exportForTrl(recipe: Recipe, o: TrlExportOptions): Promise<TrlExportResult> {
  const spec = TRL_STAGES[o.stage];
  if (!spec) throw new TrlExportError(`--stage ${o.stage}: no TRL hand-over for it; expected one of ${Object.keys(TRL_STAGES).join(', ')}`);
  const out = path.resolve(o.out);
  const start = startModel(recipe, o); // checked before anything is written
  if (fs.existsSync(out) && fs.readdirSync(out).length > 0) {
    if (!o.overwrite) throw new TrlExportError(`${out} is not empty; pass --overwrite to replace it or choose another --out`);
    clearOutputFolder(out);
  }
  fs.mkdirSync(path.join(out, 'data'), { recursive: true });
  try {
    return await writeExport(recipe, o, spec, out, start);
  } catch (e) {
    fs.rmSync(out, { recursive: true, force: true }); // no half-written hand-over (a bad record, a model that fails to load)
    throw e;
  }
}

async function writeExport(recipe: Recipe, o: TrlExportOptions, spec: TrlStage, out: string, start: string): Promise<TrlExportResult> {
  const s = spec.section(recipe);

  // 1) the pairs, split as the stage splits them
  const d = recipe.data;
  const { train, eval: held } = spec.promptRows ? { train: [], eval: [] } : await loadTrainEval(
    { data: d.train, evalData: d.eval, evalCount: d.eval_count, evalFraction: d.eval_fraction, seed: recipe.seed },
    { format: d.format, skipInvalid: d.skip_invalid, limit: d.limit },
  );
  const online = spec.promptRows ? await spec.promptRows(recipe) : null;
  const trainRows = online ? online.train : train.map((r) => spec.row(r, s));
  const testRows = online ? online.test : held.map((r) => spec.row(r, s));
  const trainFile = path.join(out, 'data', 'train.jsonl');
  const testFile = testRows.length ? path.join(out, 'data', 'test.jsonl') : null;
  writeJsonl(trainFile, trainRows);
  if (testFile) writeJsonl(testFile, testRows);
  const conversational = [...trainRows, ...testRows].some((r) => Array.isArray(r.prompt));

  // 2) the starting model (and a separate reference), as HF folders
  const tokenizer = spec.writeModel(resolveModelPath(start), recipe, path.join(out, 'model'));
  const ref = o.stage === 'dpo' ? (recipe.dpo.reference ?? start) : null;
  const separateReference = ref !== null && !recipe.dpo.reference_free && path.resolve(resolveModelPath(ref)) !== path.resolve(resolveModelPath(start)) && ref !== start;
  if (separateReference) DPO.writeModel(resolveModelPath(ref!), recipe, path.join(out, 'reference'));
  if (o.stage === 'grpo') REWARD.writeModel(resolveModelPath(grpoRewardModel(recipe)), recipe, path.join(out, 'reward_model'));
  const eosNote = specialTokensAsText(out, separateReference ? ['model', 'reference'] : ['model'], [...trainRows, ...testRows]);
  // Conversational data and a tokenizer without a chat template: our default layout goes beside the tokenizer, where
  // transformers' tokenizer (so TRL's apply_chat_template) finds it; DPOConfig has no chat_template_path field.
  let chatTemplate: string | null = null;
  if (conversational && !tokenizer.chatTemplate) {
    chatTemplate = 'model/chat_template.jinja';
    for (const f of separateReference ? ['model', 'reference'] : ['model']) fs.writeFileSync(path.join(out, f, 'chat_template.jinja'), defaultChatTemplate());
  }

  // 3) the config
  const ctx: StageContext = { recipe, hasEval: testRows.length > 0, hasMargin: trainRows.some((r) => 'margin' in r), conversational, separateReference };
  const shared = trainingFields(s, o.stage, ctx);
  const own = spec.fields(s, ctx);
  const script: Setting[] = [
    { key: 'model_name_or_path', value: 'model', note: 'the starting model, written by the export (HF folder)' },
    { key: 'dtype', value: 'float32' },
    { key: 'dataset_name', value: 'data', note: 'datasets.load_dataset("data"): train.jsonl and test.jsonl become the splits' },
    { key: 'dataset_train_split', value: 'train' },
    { key: 'dataset_test_split', value: 'test' },
    { key: 'output_dir', value: 'output', note: 'checkpoint-N/ folders and the final model; rlhf-tfjs reads both (--model, --reward-model, --policy)' },
    ...(o.stage === 'grpo' ? [{ key: 'reward_model_name_or_path', value: 'reward_model', note: 'the reward model, written by the export (HF sequence classifier)' }] : []),
  ];
  const groups: Array<[string, Setting[]]> = [
    ['Model, data and output (paths relative to this folder)', script],
    [`Training (${spec.configClass} / TrainingArguments)`, shared.settings],
    [`${spec.configClass} only`, own.settings],
  ];
  const unmapped = [...shared.unmapped, ...own.unmapped];
  const configFile = path.join(out, `${o.stage}.yaml`);
  fs.writeFileSync(configFile, renderTrlConfig(o.stage, recipe.name, groups, unmapped));
  if (separateReference) fs.writeFileSync(path.join(out, 'dpo_reference.py'), DPO_REFERENCE_SCRIPT);

  // 4) the README with the commands
  const commands = handoverCommands(o.stage, separateReference);
  const readme = path.join(out, 'README.md');
  fs.writeFileSync(readme, renderReadme(o.stage, recipe, { start, train: trainRows.length, test: testRows.length, separateReference, chatTemplate, unmapped, commands, eosNote }));
  return {
    out, stage: o.stage, config: configFile,
    data: { train: trainFile, test: testFile, train_rows: trainRows.length, test_rows: testRows.length },
    model: path.join(out, 'model'), reference: separateReference ? path.join(out, 'reference') : null, readme,
    unmapped: unmapped.map((u) => u.field), commands,
  };
}

/**
 * TRL appends EOS to each completion as text (`chosen + eos_token`) and lets the tokenizer turn it into the EOS id.
 * The tokenizer.json we write for byte-level and llama2.c tokenizers sets split_special_tokens (text spelling
 * "<eos>" stays characters, as our own encode does), which would spell TRL's EOS out instead. In the hand-over's
 * model folders it is turned off; the note says so, and how many pairs spell a special token in their text
 * (those TRL now reads as the special id), or null when nothing was changed.
 */
function specialTokensAsText(out: string, folders: string[], rows: Record<string, unknown>[]): string | null {
  let specials: string[] = [];
  let changed = false;
  for (const f of folders) {
    const file = path.join(out, f, 'tokenizer_config.json');
    if (!fs.existsSync(file)) continue;
    const cfg = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    if (cfg.split_special_tokens !== true) continue;
    cfg.split_special_tokens = false;
    fs.writeFileSync(file, JSON.stringify(cfg, null, 2) + '\n');
    changed = true;
    specials = ['bos_token', 'eos_token', 'pad_token', 'unk_token'].map((k) => cfg[k]).filter((t): t is string => typeof t === 'string' && t.length > 0);
  }
  if (!changed) return null;
  const spelled = rows.filter((r) => specials.some((t) => JSON.stringify([r.prompt, r.chosen, r.rejected]).includes(JSON.stringify(t).slice(1, -1)))).length;
  return `model/tokenizer_config.json: split_special_tokens is false here (true in rlhf-tfjs checkpoints), so the EOS that TRL appends as text (${specials.join(', ')}) becomes the EOS id; ${spelled} of ${rows.length} pairs spell a special token in their text, which TRL now reads as that token`;
}

/** The commands a user runs from the export folder: one process, several GPUs, several machines. */
export function handoverCommands(stage: TrlStageName, separateReference = false): string[] {
  const cfg = `${stage}.yaml`;
  if (separateReference) {
    return [
      `python dpo_reference.py --config ${cfg}`,
      `accelerate launch --num_processes 8 dpo_reference.py --config ${cfg}`,
      `accelerate launch --num_machines 2 --machine_rank 0 --main_process_ip 10.0.0.1 --main_process_port 29500 --num_processes 16 dpo_reference.py --config ${cfg}`,
    ];
  }
  const mod = `trl.scripts.${TRL_STAGES[stage].command}`;
  return [
    `trl ${TRL_STAGES[stage].command} --config ${cfg}`,
    `accelerate launch --num_processes 8 -m ${mod} --config ${cfg}`,
    `accelerate launch --num_machines 2 --machine_rank 0 --main_process_ip 10.0.0.1 --main_process_port 29500 --num_processes 16 -m ${mod} --config ${cfg}`,
  ];
}

function renderReadme(
  stage: TrlStageName,
  recipe: Recipe,
  x: { start: string; train: number; test: number; separateReference: boolean; chatTemplate: string | null; unmapped: Unmapped[]; commands: string[]; eosNote: string | null },
): string {
  const spec = TRL_STAGES[stage];
  const [one, gpus, machines] = x.commands;
  return `# TRL hand-over: ${stage} stage of recipe "${recipe.name}"

Written by \`rlhf export --trl --stage ${stage}\` for TRL ${TRL_VERSION} (transformers 5.17). Run the commands from
this folder: every path in \`${stage}.yaml\` is relative to it, so the folder can be copied to another machine.

| file | what |
|---|---|
| \`${stage}.yaml\` | ${spec.configClass} (+ ScriptArguments, ModelConfig) with the recipe's values; recipe fields TRL has no name for are listed at its top |
| \`data/train.jsonl\` | ${x.train} training ${stage === 'grpo' ? 'prompts' : 'pairs'} (the stage's split of the recipe's data, seed ${recipe.seed}) |
${x.test ? `| \`data/test.jsonl\` | ${x.test} held-out ${stage === 'grpo' ? 'prompts' : 'pairs'} |\n` : ''}${stage === 'grpo' ? '| `reward_model/` | the reward model GRPO scores completions with (a sequence classifier) |\n' : ''}| \`model/\` | the starting model (${x.start}) as a Hugging Face folder${stage === 'reward' ? ', with the score head our reward stage starts from' : ''} |
${x.separateReference ? '| `reference/`, `dpo_reference.py` | the DPO reference (not the starting model) and a script that passes it to DPOTrainer |\n' : ''}${x.chatTemplate ? `| \`${x.chatTemplate}\` | our default chat layout for the conversational data (the tokenizer had no template; transformers reads it from there) |\n` : ''}
## Train

\`\`\`bash
pip install "trl==${TRL_VERSION}.*"
${one}
\`\`\`

Several GPUs on one machine (one process per GPU; \`per_device_train_batch_size\` is per GPU):

\`\`\`bash
${gpus}
\`\`\`
${x.separateReference ? '' : `\n(\`trl ${spec.command} --config ${stage}.yaml --num_processes 8\` is the same: the trl CLI passes accelerate's flags on.)\n`}
Several machines (run on each, with \`--machine_rank\` 0, 1, ...; the first machine's address as \`--main_process_ip\`):

\`\`\`bash
${machines}
\`\`\`

Any config value can be overridden on the command line after \`--config\`, e.g. \`--bf16 true\` on Ampere GPUs.

## Back to rlhf-tfjs

TRL writes \`output/checkpoint-N/\` folders and the final model into \`output/\`; rlhf-tfjs reads both as Hugging
Face folders: ${stage === 'reward' ? '`rlhf compare --reward-model output --policy ...`, `rlhf score --model output ...`' : '`rlhf compare --policy output --reference model --reward-model ...`, `rlhf generate --model output`'}.

## What differs from the rlhf-tfjs stage

${x.unmapped.map((u) => `- \`${u.field}\` = \`${JSON.stringify(u.value)}\`: ${u.why}`).join('\n')}
- Tokenisation: rlhf-tfjs tokenises the prompt and each completion separately and joins the ids; TRL tokenises
  \`prompt + completion\` as one text (and appends EOS as text). With a byte-level tokenizer the ids are the same;
  with a BPE / SentencePiece tokenizer they can differ where the prompt meets the completion.
${x.eosNote ? `- ${x.eosNote}\n` : ''}`;
}

/** DPO with a reference other than the starting model: the trl CLI's script, plus ref_model. */
const DPO_REFERENCE_SCRIPT = `"""trl dpo, with the reference model of the recipe (reference/) instead of a copy of the starting model.
Written by rlhf export --trl. Run: python dpo_reference.py --config dpo.yaml (or under accelerate launch)."""
from datasets import load_dataset
from transformers import AutoModelForCausalLM
from trl import DPOConfig, DPOTrainer, ModelConfig, ScriptArguments, TrlParser

if __name__ == "__main__":
    script_args, training_args, model_args = TrlParser((ScriptArguments, DPOConfig, ModelConfig)).parse_args_and_config()
    dataset = load_dataset(script_args.dataset_name)
    trainer = DPOTrainer(
        model=model_args.model_name_or_path,
        ref_model=AutoModelForCausalLM.from_pretrained("reference", dtype=model_args.dtype),
        args=training_args,
        train_dataset=dataset[script_args.dataset_train_split],
        eval_dataset=dataset[script_args.dataset_test_split] if training_args.eval_strategy != "no" else None,
    )
    trainer.train()
    trainer.save_model(training_args.output_dir)
`;
