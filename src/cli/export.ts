/**
 * `rlhf export`: argument plumbing into exportModel (io/export.ts: any model source to a checkpoint folder
 * transformers loads), or with --trl into exportForTrl (run/trl-export.ts: one stage of a recipe as a folder TRL
 * trains from), under the output folder's lock.
 */
import type { CommandModule } from 'yargs';
import { exportForTrl, TRL_STAGES, type TrlStageName } from '../run/trl-export';
import { recipeFromArgs } from './options';
import { UsageError } from './errors';
import { initBackend, BackendRequest } from '../backend';
import { exportModel } from '../io/export';
import { assertNoLiveLocksInside, withOutputLock } from '../io/lock';
import { printResult } from './output';

export const exportCommand: CommandModule = {
  command: 'export',
  describe: 'Write a model as a Hugging Face folder (config.json + model.safetensors + tokenizer + rlhf.json), or a recipe stage for TRL (--trl)',
  builder: (y) =>
    y
      .option('model', { type: 'string', describe: 'llama2.c .bin, HF folder, checkpoint or run folder (with --trl: the starting model, default the recipe\'s)' })
      .option('tokenizer', { type: 'string', describe: 'Tokenizer to save with it (default: the model\'s)' })
      .option('out', { type: 'string', demandOption: true })
      .option('overwrite', { type: 'boolean', default: false })
      .option('trl', { type: 'boolean', default: false, describe: 'Write a TRL hand-over folder for one stage of --recipe: config YAML, data JSONL, model folder, README with the commands' })
      .option('recipe', { type: 'string', describe: 'With --trl: the recipe whose stage is handed over' })
      .option('set', { type: 'string', array: true, describe: 'With --trl: override a recipe field (--set reward.learning_rate=1e-4)' })
      .option('stage', { type: 'string', choices: Object.keys(TRL_STAGES), describe: 'With --trl: the stage to hand over' })
      .check((a) => {
        if (a.trl && !a.stage) throw new UsageError(`--trl needs --stage (${Object.keys(TRL_STAGES).join(' or ')}). Example: rlhf export --trl --recipe recipes/quickstart.json --stage dpo --out trl-dpo`);
        if (!a.trl && !a.model) throw new UsageError('--model is required (or --trl --recipe R --stage S for a TRL hand-over). Example: rlhf export --model checkpoints/quickstart/dpo --out hf-dpo');
        if (!a.trl && (a.stage || a.recipe)) throw new UsageError('--stage and --recipe go with --trl: rlhf export --trl --recipe R --stage reward|dpo|grpo --out DIR');
        return true;
      })
      .example('rlhf export --model ../shared/models/stories260K/stories260K.bin --tokenizer ../shared/models/stories260K/tok512.bin --out checkpoints/stories260K', 'llama2.c -> Hugging Face LlamaForCausalLM folder')
      .example('rlhf export --trl --recipe recipes/quickstart.json --stage dpo --out trl-dpo', 'The DPO stage for TRL: cd trl-dpo && trl dpo --config dpo.yaml'),
  handler: async (argv) => {
    await initBackend(argv.backend as BackendRequest | undefined);
    await withOutputLock(argv.out as string, () => (argv.trl ? exportTrl(argv) : exportHf(argv)));
  },
};

/** --trl: the recipe's stage as a TRL hand-over folder; prints what was written and the command to run. */
async function exportTrl(argv: Record<string, unknown>): Promise<void> {
  if (argv.overwrite) assertNoLiveLocksInside(argv.out as string);
  const recipe = recipeFromArgs({ recipe: argv.recipe, set: argv.set, model: argv.model, tokenizer: argv.tokenizer });
  const res = await exportForTrl(recipe, { stage: argv.stage as TrlStageName, out: argv.out as string, model: argv.model as string | undefined, overwrite: argv.overwrite as boolean });
  if (!argv.quiet) process.stderr.write(`TRL hand-over in ${res.out}; run: cd ${res.out} && ${res.commands[0]}\n`);
  printResult(res);
}

/** The model as a checkpoint folder (reward model or policy, as its files say). */
async function exportHf(argv: Record<string, unknown>): Promise<void> {
  printResult(exportModel(argv.model as string, argv.out as string, { tokenizer: argv.tokenizer as string | undefined, overwrite: argv.overwrite as boolean }));
}
