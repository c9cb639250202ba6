/**
 * `rlhf grpo | rloo | online-dpo`: one online stage from a recipe and/or flags; prints summary.json's object last.
 *   rlhf grpo --model P --reward SPEC [--reward SPEC ...] [--reward-weights W,...] --prompts FILE
 *     [--eval-prompts FILE | --eval-count N] [--reference R] --num-generations N --max-new-tokens N [--max-steps N]
 *     [--batch-size N] [--lr X] [--beta X] [--temperature T] [--seed N] --out DIR
 * `rloo` is `grpo --advantage rloo`; `online-dpo` takes the same flags plus --loss-type (two samples per prompt).
 * Each flag is a shorthand for a field of the recipe's grpo / online_dpo section (`--set` reaches the others).
 */
import type { Argv, CommandModule } from 'yargs';
import { parseWeights } from '../rewards/combine';
import { loadRecipe, Override, parseSetOption } from '../recipes/load';
import type { Recipe } from '../recipes/schema';
import { trainGrpo, trainOnlineDpo, type OnlineStageSummary } from '../train/online-stages';
import { fieldHelp, recipeOptions } from './options';
import { printResult } from './output';

type OnlineCommand = 'grpo' | 'rloo' | 'online-dpo';

/** Flag -> field of the stage's section (or a top-level key when it starts with "."). */
const FLAGS: Record<string, string> = {
  model: '.model',
  tokenizer: '.tokenizer',
  seed: '.seed',
  backend: '.backend',
  prompts: 'prompts',
  'eval-prompts': 'eval_prompts',
  'eval-count': 'eval_count',
  reward: 'reward',
  'reward-weights': 'reward_weights',
  reference: 'reference',
  'num-generations': 'num_generations',
  'max-new-tokens': 'max_new_tokens',
  'max-steps': 'max_steps',
  'batch-size': 'batch_size',
  lr: 'learning_rate',
  beta: 'beta',
  temperature: 'temperature',
  'top-k': 'top_k',
  'top-p': 'top_p',
  'loss-type': 'loss_type',
  advantage: 'advantage',
};

function builder(cmd: OnlineCommand) {
  const section = cmd === 'online-dpo' ? 'online_dpo' : 'grpo';
  const help = (field: string) => fieldHelp(`${section}.${field}`);
  return (y: Argv) => {
    let b = recipeOptions(y)
      .option('model', { type: 'string', describe: fieldHelp('model') })
      .option('tokenizer', { type: 'string', describe: fieldHelp('tokenizer') })
      .option('reward', { type: 'string', array: true, describe: `${help('reward')} Repeatable.` })
      .option('reward-weights', { type: 'string', describe: `${help('reward_weights')} Comma-separated.` })
      .option('prompts', { type: 'string', describe: help('prompts') })
      .option('eval-prompts', { type: 'string', describe: help('eval_prompts') })
      .option('eval-count', { type: 'number', describe: help('eval_count') })
      .option('reference', { type: 'string', describe: help('reference') })
      .option('num-generations', { type: 'number', describe: help('num_generations') })
      .option('max-new-tokens', { type: 'number', describe: help('max_new_tokens') })
      .option('max-steps', { type: 'number', describe: help('max_steps') })
      .option('batch-size', { type: 'number', describe: `Completions per step (prompts × num_generations; TRL per_device_train_batch_size).` })
      .option('lr', { type: 'number', alias: 'learning-rate', describe: help('learning_rate') })
      .option('beta', { type: 'number', describe: help('beta') })
      .option('temperature', { type: 'number', describe: help('temperature') })
      .option('top-k', { type: 'number', describe: help('top_k') })
      .option('top-p', { type: 'number', describe: help('top_p') })
      .option('loss-type', { type: 'string', describe: help('loss_type') })
      .option('resume', { describe: 'Continue the newest checkpoint in --out (or the given checkpoint folder)' });
    if (cmd === 'grpo') b = b.option('advantage', { type: 'string', choices: ['grpo', 'rloo'], describe: help('advantage') });
    const examples: Record<OnlineCommand, [string, string]> = {
      grpo: ['rlhf grpo --model checkpoints/sft --reward checkpoints/rm --prompts prompts.jsonl --eval-count 16 --num-generations 4 --max-new-tokens 48 --out checkpoints/grpo', 'GRPO against a reward model'],
      rloo: ['rlhf rloo --model checkpoints/sft --reward fn:reward.mjs --prompts prompts.jsonl --num-generations 4 --max-new-tokens 48 --out checkpoints/rloo', 'RLOO against a reward function'],
      'online-dpo': ['rlhf online-dpo --model checkpoints/sft --reward checkpoints/rm --prompts prompts.jsonl --loss-type sigmoid --max-new-tokens 48 --out checkpoints/odpo', 'Online DPO labelled by a reward model'],
    };
    return b.example(...examples[cmd]);
  };
}

/** The recipe: file, then --set, then the flags (flags win); with no recipe file, the prompts stand in for data.train. */
export function onlineRecipeFromArgs(argv: Record<string, unknown>, cmd: OnlineCommand): Recipe {
  const section = cmd === 'online-dpo' ? 'online_dpo' : 'grpo';
  const overrides: Override[] = [];
  for (const s of (argv.set as string[] | undefined) ?? []) overrides.push(parseSetOption(s));
  if (!argv.recipe && argv.prompts !== undefined) overrides.push({ key: 'data.train', value: argv.prompts, origin: '--prompts' });
  if (cmd === 'rloo') overrides.push({ key: 'grpo.advantage', value: 'rloo', origin: 'rlhf rloo' });
  for (const [flag, field] of Object.entries(FLAGS)) {
    let v = argv[flag];
    if (v === undefined) continue;
    if (flag === 'reward-weights') v = parseWeights(v as string);
    if (flag === 'loss-type' && cmd === 'online-dpo' && typeof v === 'string' && v.includes(',')) v = v.split(',').map((x) => x.trim());
    overrides.push({ key: field.startsWith('.') ? field.slice(1) : `${section}.${field}`, value: v, origin: `--${flag}` });
  }
  return loadRecipe(argv.recipe as string | undefined, overrides);
}

function command(cmd: OnlineCommand, describe: string): CommandModule {
  return {
    command: cmd,
    describe,
    builder: builder(cmd),
    handler: async (argv) => {
      const recipe = onlineRecipeFromArgs(argv, cmd);
      const resume = argv.resume === undefined || argv.resume === false ? undefined : argv.resume === true || argv.resume === '' ? true : String(argv.resume);
      const o = { out: argv.out as string | undefined, overwrite: argv.overwrite as boolean, resume, quiet: argv.quiet as boolean };
      const summary: OnlineStageSummary = cmd === 'online-dpo' ? await trainOnlineDpo(recipe, o) : await trainGrpo(recipe, o);
      printResult(summary);
      if (summary.stopped_by === 'signal') process.exitCode = 130;
    },
  };
}

export const grpoCommand = command('grpo', 'GRPO (TRL GRPOTrainer): sample completions per prompt, score them with a reward, update the policy');
export const rlooCommand = command('rloo', 'RLOO (TRL RLOOTrainer): GRPO\'s loop with the leave-one-out baseline');
export const onlineDpoCommand = command('online-dpo', 'Online DPO (TRL OnlineDPOTrainer): two samples per prompt, the higher reward chosen, a DPO step');
