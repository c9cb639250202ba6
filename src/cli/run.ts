/** `rlhf run RECIPE`: the whole pipeline (SFT?, reward, DPO, compare) with cheap re-runs. */
import type { CommandModule } from 'yargs';
import { loadRecipe, parseSetOption } from '../recipes/load';
import { runPipeline } from '../run/pipeline';
import { headline } from '../report/report';
import { printResult } from './output';

export const runCommand: CommandModule = {
  command: 'run <recipe>',
  describe: 'Run a recipe end to end: optional SFT, reward model, DPO, comparison report (stages already done are skipped)',
  builder: (y) =>
    y
      .positional('recipe', { type: 'string', describe: 'Recipe JSON (see recipes/)' })
      .option('set', { type: 'string', array: true, describe: 'Override a recipe field: --set dpo.beta=0.2' })
      .option('out', { type: 'string', describe: 'Run folder (default: the recipe\'s out, else checkpoints/<name>)' })
      .option('overwrite', { type: 'boolean', default: false, describe: 'Retrain stages whose inputs changed' })
      .example('rlhf run recipes/quickstart.json', 'The main job: SFT + reward + DPO + report on the shipped data')
      .example('rlhf run recipes/quickstart.json --set dpo.beta=0.5 --overwrite', 'Re-run with another beta (stages before DPO are reused)'),
  handler: async (argv) => {
    const overrides = ((argv.set as string[]) ?? []).map(parseSetOption);
    if (argv.out) overrides.push({ key: 'out', value: argv.out, origin: '--out' });
    if (argv.backend) overrides.push({ key: 'backend', value: argv.backend, origin: '--backend' });
    const recipe = loadRecipe(argv.recipe as string, overrides);
    const res = await runPipeline(recipe, { overwrite: argv.overwrite as boolean, quiet: argv.quiet as boolean });
    if (res.report) process.stderr.write(`\nreport: ${res.report}\n`);
    printResult({
      run: res.run,
      out: res.out,
      wall_seconds: res.wall_seconds,
      stages: res.stages.map((s) => ({ stage: s.stage, status: s.status, out: s.out, eval: s.summary?.eval ?? null })),
      comparison: res.comparison && res.report ? headline(res.comparison, res.report) : null,
    });
  },
};
