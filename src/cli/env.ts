/** `rlhf env`: which backend runs, its version and threads, and why each better one is not used. */
import type { CommandModule } from 'yargs';
import { describeEnvironment, initBackend, BackendRequest } from '../backend';
import { printResult } from './output';

export const envCommand: CommandModule = {
  command: 'env',
  describe: 'Show the TF.js backend in use, its version and threads, and why better ones are not used',
  builder: (y) =>
    y.option('json', { type: 'boolean', default: false, describe: 'Print one JSON object instead of text' })
      .example('rlhf env', 'Which backend will train, and how to get a faster one')
      .example('rlhf env --backend wasm --json', 'Check that wasm works, as JSON'),
  handler: async (argv) => {
    const info = await initBackend(argv.backend as BackendRequest | undefined);
    const report = describeEnvironment(info);
    if (argv.json) printResult(report);
    else process.stdout.write(report.text + '\n');
  },
};
