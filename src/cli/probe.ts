/** `rlhf probe build`: counterfactual probe pairs from a template (src/data/probe-build.ts); plumbing only. */
import type { CommandModule } from 'yargs';
import { buildProbeTemplates } from '../data';
import { info, printResult } from './output';

export const probeCommand: CommandModule = {
  command: 'probe <action>',
  describe: 'Build counterfactual probe sets (pairs that differ in one attribute) from templates',
  builder: (y) =>
    y
      .command({
        command: 'build',
        describe: 'Render a probe template (or a folder of them) into {probe, group, prompt, a, b, attribute, values, a_value, b_value} JSONL',
        builder: (b) =>
          b
            .option('template', { type: 'string', demandOption: true, describe: 'Template .json file, or a folder of <probe>.json templates' })
            .option('out', { type: 'string', demandOption: true, describe: 'Output .jsonl file, or a folder that receives <probe>.jsonl' })
            .option('check', { type: 'boolean', default: false, describe: 'Write nothing; exit 1 when an output is missing or differs from a fresh build' })
            .example('rlhf probe build --template data/probes/templates/viewpoint.json --out data/probes/viewpoint.jsonl', 'One probe set')
            .example('rlhf probe build --template data/probes/templates --out data/probes --check', 'Are the shipped sets what the templates make?'),
        handler: (argv) => {
          const results = buildProbeTemplates(argv.template as string, argv.out as string, argv.check as boolean);
          for (const r of results) info(`${r.out}: ${r.pairs} pairs, ${r.attribute} ${r.values.join(' vs ')}, a = ${r.values[0]} in ${r.first_as_a}${r.unchanged ? ', unchanged' : argv.check ? '' : ', written'}`, argv.quiet as boolean);
          printResult({ files: results });
        },
      })
      .demandCommand(1, 'name an action: build'),
  handler: () => {},
};
