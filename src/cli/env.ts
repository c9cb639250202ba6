/**
 * `rlhf env`: which backend runs, its version and threads, why each better one is not used, and which fused
 * kernels each model family's runs use (a family's other ops, e.g. GPT-2's LayerNorm and GELU, are TF.js ops).
 */
import type { CommandModule } from 'yargs';
import { describeEnvironment, initBackend, BackendRequest } from '../backend';
import { fusedOpsByFamily } from '../model/families';
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
    const fused = info.nativeOps?.loaded ? fusedOpsByFamily() : null;
    const families = fused ? `families: fused per family: ${fused.text}` : 'families: every family on TF.js ops (no fused kernels here)';
    if (argv.json) printResult({ ...report, fusedByFamily: fused?.byFamily ?? {}, text: `${report.text}\n${families}` });
    else process.stdout.write(`${report.text}\n${families}\n`);
  },
};
