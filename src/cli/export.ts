/** `rlhf export`: argument plumbing into exportModel (io/export.ts), under the output folder's lock. */
import type { CommandModule } from 'yargs';
import { initBackend, BackendRequest } from '../backend';
import { exportModel } from '../io/export';
import { withOutputLock } from '../io/lock';
import { printResult } from './output';

export const exportCommand: CommandModule = {
  command: 'export',
  describe: 'Write a model as a Hugging Face folder (config.json + model.safetensors + tokenizer + rlhf.json)',
  builder: (y) =>
    y
      .option('model', { type: 'string', demandOption: true, describe: 'llama2.c .bin, HF folder, checkpoint or run folder' })
      .option('tokenizer', { type: 'string', describe: 'Tokenizer to save with it (default: the model\'s)' })
      .option('out', { type: 'string', demandOption: true })
      .option('overwrite', { type: 'boolean', default: false })
      .example('rlhf export --model ../shared/models/stories260K/stories260K.bin --tokenizer ../shared/models/stories260K/tok512.bin --out checkpoints/stories260K', 'llama2.c -> Hugging Face LlamaForCausalLM folder'),
  handler: async (argv) => {
    await initBackend(argv.backend as BackendRequest | undefined);
    const res = await withOutputLock(argv.out as string, async () =>
      exportModel(argv.model as string, argv.out as string, { tokenizer: argv.tokenizer as string | undefined, overwrite: argv.overwrite as boolean }),
    );
    printResult(res);
  },
};
