/** `rlhf recipe explain | check`: the documented recipe fields, and validating a recipe file. */
import type { CommandModule } from 'yargs';
import { explainRecipe } from '../recipes/explain';
import { loadRecipe, parseSetOption } from '../recipes/load';
import { UsageError } from './errors';
import { printResult } from './output';

export const recipeCommand: CommandModule = {
  command: 'recipe <action>',
  describe: 'Explain recipe fields or check a recipe file',
  builder: (y) =>
    y
      .command({
        command: 'explain [field]',
        describe: 'Every recipe field with type, default and meaning (optionally one section or field)',
        builder: (b) => b.example('rlhf recipe explain dpo', 'The DPO section').example('rlhf recipe explain dpo.beta', 'One field'),
        handler: (argv) => {
          const text = explainRecipe(argv.field as string | undefined);
          if (!text) throw new UsageError(`no recipe field or section "${argv.field}"; run rlhf recipe explain to list them`);
          process.stdout.write(text + '\n');
        },
      })
      .command({
        command: 'check <file>',
        describe: 'Validate a recipe (with --set overrides) and print it with every default filled in',
        builder: (b) => b.option('set', { type: 'string', array: true }),
        handler: (argv) => {
          printResult(loadRecipe(argv.file as string, ((argv.set as string[]) ?? []).map(parseSetOption)));
        },
      })
      .demandCommand(1, 'name an action: explain or check'),
  handler: () => {},
};
