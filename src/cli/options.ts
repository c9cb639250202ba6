/**
 * The option tables shared by commands, and the mapping from training flags to recipe fields
 * (each flag is a shorthand for one recipe key; `--set key.path=value` reaches every other key).
 */
import type { Argv } from 'yargs';
import { FORMAT_CHOICES, FORMAT_DESCRIPTION } from '../data/formats';
import { loadRecipe, Override, parseSetOption } from '../recipes/load';
import type { Recipe } from '../recipes/schema';

export type Stage = 'sft' | 'reward' | 'dpo';

/** --format, the same on every command that reads preference data (data/formats.ts owns the names). */
export const formatOption = { type: 'string', choices: FORMAT_CHOICES, describe: FORMAT_DESCRIPTION } as const;

export function globalOptions<T>(y: Argv<T>) {
  return y
    .option('backend', { type: 'string', choices: ['auto', 'tensorflow', 'wasm', 'cpu'], describe: 'TF.js backend (default: the recipe\'s backend, else RLHF_BACKEND, else auto); commands that run no model ignore it' })
    .option('verbose', { type: 'boolean', default: false, describe: 'Print stack traces with errors' })
    .option('quiet', { type: 'boolean', default: false, describe: 'No progress or log lines on stderr' });
}

export function recipeOptions<T>(y: Argv<T>) {
  return y
    .option('recipe', { type: 'string', describe: 'Recipe JSON file (paths inside resolve relative to it)' })
    .option('set', { type: 'string', array: true, describe: 'Override a recipe field: --set dpo.beta=0.2 (repeatable)' })
    .option('out', { type: 'string', describe: 'Output folder' })
    .option('overwrite', { type: 'boolean', default: false, describe: 'Replace an existing output folder' })
    .option('seed', { type: 'number', describe: 'Seed for init, data order, splits and bootstrap' });
}

export function trainingOptions<T>(y: Argv<T>) {
  return recipeOptions(y)
    .option('model', { type: 'string', describe: 'Starting model: checkpoint or run folder, HF folder, llama2.c .bin, or config:NAME (tiny, 15m)' })
    .option('tokenizer', { type: 'string', describe: 'Tokenizer: byte, tokenizer.json/folder, or llama2.c .bin (default: the model\'s)' })
    .option('data', { type: 'string', describe: 'Training preference data (.jsonl, .json, .gz, .arrow, .parquet, HF folder[:split])' })
    .option('eval-data', { type: 'string', describe: 'Held-out pairs file' })
    .option('eval-count', { type: 'number', describe: 'Hold out N training pairs (seeded)' })
    .option('eval-fraction', { type: 'number', describe: 'Hold out this fraction of training pairs (seeded)' })
    .option('format', formatOption)
    .option('skip-invalid', { type: 'boolean', describe: 'Skip invalid records (counted) instead of stopping' })
    .option('limit', { type: 'number', describe: 'Read at most N training pairs' })
    .option('epochs', { type: 'number', describe: 'Passes over the data' })
    .option('max-steps', { type: 'number', describe: 'Optimiser steps (overrides --epochs)' })
    .option('batch-size', { type: 'number', describe: 'Pairs (or sequences) per micro-batch' })
    .option('lr', { type: 'number', alias: 'learning-rate', describe: 'Peak learning rate' })
    .option('max-length', { type: 'number', describe: 'Max tokens per sequence' })
    .option('max-prompt-length', { type: 'number', describe: 'Max prompt tokens' })
    .option('resume', { describe: 'Continue the newest checkpoint in --out (or the given checkpoint folder)' });
}

/** Flag -> recipe key. `$stage` is replaced by the command's stage. */
const FLAG_KEYS: Record<string, string> = {
  model: 'model',
  tokenizer: 'tokenizer',
  data: 'data.train',
  'eval-data': 'data.eval',
  'eval-count': 'data.eval_count',
  'eval-fraction': 'data.eval_fraction',
  format: 'data.format',
  'skip-invalid': 'data.skip_invalid',
  limit: 'data.limit',
  seed: 'seed',
  backend: 'backend',
  epochs: '$stage.epochs',
  'max-steps': '$stage.max_steps',
  'batch-size': '$stage.batch_size',
  lr: '$stage.learning_rate',
  'max-length': '$stage.max_length',
  'max-prompt-length': '$stage.max_prompt_length',
  beta: 'dpo.beta',
  'loss-type': 'dpo.loss_type',
  reference: 'dpo.reference',
  'center-rewards-coefficient': 'reward.center_rewards_coefficient',
  margin: 'reward.use_margin',
  probes: 'compare.probes',
  'reward-model': 'compare.reward_model',
  policy: 'compare.policy',
};

/** Builds the recipe a command runs: file, then --set, then shorthand flags (flags win). */
export function recipeFromArgs(argv: Record<string, unknown>, stage?: Stage): Recipe {
  const overrides: Override[] = [];
  for (const s of (argv.set as string[] | undefined) ?? []) overrides.push(parseSetOption(s));
  for (const [flag, key] of Object.entries(FLAG_KEYS)) {
    let v = argv[flag];
    if (v === undefined) continue;
    if (key.startsWith('$stage')) {
      if (!stage) continue;
    }
    if (flag === 'loss-type' && typeof v === 'string') v = v.includes(',') ? v.split(',').map((x) => x.trim()) : v;
    overrides.push({ key: key.replace('$stage', stage ?? ''), value: v, origin: `--${flag}` });
  }
  return loadRecipe(argv.recipe as string | undefined, overrides);
}
