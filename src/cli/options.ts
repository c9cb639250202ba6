/**
 * The option tables shared by commands, and the mapping from training flags to recipe fields
 * (each flag is a shorthand for one recipe key; `--set key.path=value` reaches every other key).
 * A flag that stands for a recipe field takes its help text from the schema (fieldHelp), so `--help` and
 * `rlhf recipe explain` print the same words.
 */
import type { Argv } from 'yargs';
import { FORMAT_CHOICES } from '../data/formats';
import { recipeFieldDocs } from '../recipes/explain';
import { loadRecipe, Override, parseSetOption } from '../recipes/load';
import type { Recipe } from '../recipes/schema';

export type Stage = 'sft' | 'reward' | 'dpo' | 'judge';

let fieldDocs: Map<string, string> | null = null;

/**
 * The schema's description of a recipe field, the help text of the flag that sets it. A flag of every training
 * stage ($stage.epochs) reads the dpo section's copy: the stages share those fields and their text.
 * Example: fieldHelp('dpo.beta') -> "β, the strength of the KL-style tie to the reference ...".
 */
export function fieldHelp(key: string): string {
  fieldDocs ??= new Map(recipeFieldDocs().map((d) => [d.path, d.description]));
  const text = fieldDocs.get(key.replace('$stage', 'dpo'));
  if (text === undefined) throw new Error(`cli/options.ts: no recipe field "${key}" to take a flag's help from`);
  return text;
}

/** --format, the same on every command that reads preference data (data/formats.ts owns the names). */
export const formatOption = { type: 'string', choices: FORMAT_CHOICES, describe: fieldHelp('data.format') } as const;

export function globalOptions<T>(y: Argv<T>) {
  return y
    .option('backend', { type: 'string', choices: ['auto', 'tensorflow', 'wasm', 'cpu'], describe: 'TF.js backend (default: the recipe\'s backend, else RLHF_BACKEND, else auto); commands that run no model ignore it' })
    .option('verbose', { type: 'boolean', default: false, describe: 'Print stack traces with errors, and TensorFlow\'s start-up log lines' })
    .option('quiet', { type: 'boolean', default: false, describe: 'No progress or log lines on stderr' });
}

export function recipeOptions<T>(y: Argv<T>) {
  return y
    .option('recipe', { type: 'string', describe: 'Recipe JSON file (paths inside resolve relative to it)' })
    .option('set', { type: 'string', array: true, describe: 'Override a recipe field: --set dpo.beta=0.2 (repeatable)' })
    .option('out', { type: 'string', describe: 'Output folder' })
    .option('overwrite', { type: 'boolean', default: false, describe: 'Replace an existing output folder' })
    .option('seed', { type: 'number', describe: fieldHelp('seed') });
}

export function trainingOptions<T>(y: Argv<T>) {
  return recipeOptions(y)
    .option('model', { type: 'string', describe: fieldHelp(FLAG_KEYS.model) })
    .option('tokenizer', { type: 'string', describe: fieldHelp(FLAG_KEYS.tokenizer) })
    .option('data', { type: 'string', describe: fieldHelp(FLAG_KEYS.data) })
    .option('eval-data', { type: 'string', describe: fieldHelp(FLAG_KEYS['eval-data']) })
    .option('eval-count', { type: 'number', describe: fieldHelp(FLAG_KEYS['eval-count']) })
    .option('eval-fraction', { type: 'number', describe: fieldHelp(FLAG_KEYS['eval-fraction']) })
    .option('format', formatOption)
    .option('skip-invalid', { type: 'boolean', describe: fieldHelp(FLAG_KEYS['skip-invalid']) })
    .option('limit', { type: 'number', describe: fieldHelp(FLAG_KEYS.limit) })
    .option('epochs', { type: 'number', describe: fieldHelp(FLAG_KEYS.epochs) })
    .option('max-steps', { type: 'number', describe: fieldHelp(FLAG_KEYS['max-steps']) })
    .option('batch-size', { type: 'number', describe: fieldHelp(FLAG_KEYS['batch-size']) })
    .option('lr', { type: 'number', alias: 'learning-rate', describe: fieldHelp(FLAG_KEYS.lr) })
    .option('max-length', { type: 'number', describe: fieldHelp(FLAG_KEYS['max-length']) })
    .option('max-prompt-length', { type: 'number', describe: fieldHelp(FLAG_KEYS['max-prompt-length']) })
    .option('resume', { describe: 'Continue the newest checkpoint in --out (or the given checkpoint folder)' });
}

/** Flag -> recipe key. `$stage` is replaced by the command's stage. */
export const FLAG_KEYS: Record<string, string> = {
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
  template: 'judge.template',
  labels: 'judge.labels',
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
    if (flag === 'labels' && typeof v === 'string') v = v.split(',').map((x) => x.trim());
    overrides.push({ key: key.replace('$stage', stage ?? ''), value: v, origin: `--${flag}` });
  }
  return loadRecipe(argv.recipe as string | undefined, overrides);
}
