/** `rlhf generate`: text from a model (greedy or sampled, seeded), on stdout exactly as decoded. */
import type { CommandModule } from 'yargs';
import { initBackend, BackendRequest } from '../backend';
import { generate } from '../model/generate';
import { loadPolicy } from '../io/load-model';
import { UsageError } from './errors';

export const generateCommand: CommandModule = {
  command: 'generate',
  describe: 'Generate text from a policy (KV cache; greedy, temperature, top-k, top-p; seeded)',
  builder: (y) =>
    y
      .option('model', { type: 'string', demandOption: true, describe: 'Checkpoint/run folder, HF folder or llama2.c .bin' })
      .option('tokenizer', { type: 'string', describe: 'Tokenizer (default: the model\'s)' })
      .option('prompt', { type: 'string', default: '', describe: 'Prompt text (BOS is prepended)' })
      .option('max-new-tokens', { type: 'number', default: 128 })
      .option('temperature', { type: 'number', default: 1, describe: '0 = greedy' })
      .option('top-k', { type: 'number', default: 0, describe: '0 = off' })
      .option('top-p', { type: 'number', default: 1, describe: '1 = off' })
      .option('seed', { type: 'number', default: 0 })
      .example('rlhf generate --model ../shared/models/stories260K/stories260K.bin --tokenizer ../shared/models/stories260K/tok512.bin --temperature 0 --max-new-tokens 200', 'Greedy text, identical to llama2.c run.c -t 0 -n 200')
      .example('rlhf generate --model checkpoints/quickstart/dpo --prompt "Please tell me the sum of two and three." --temperature 0.7 --top-p 0.9', 'Sample from a trained policy'),
  handler: async (argv) => {
    const backend = await initBackend(argv.backend as BackendRequest | undefined);
    const { model, tokenizer } = loadPolicy(argv.model as string, { tokenizer: argv.tokenizer as string | undefined, trainable: false });
    try {
      const prompt = tokenizer.encode(argv.prompt as string);
      const ids = tokenizer.bosId !== null ? [tokenizer.bosId, ...prompt] : prompt;
      if (ids.length === 0) throw new UsageError('the tokenizer has no BOS token, so an empty --prompt gives nothing to start from; pass --prompt TEXT');
      // llama2.c stops on BOS (it delimits stories); HF-style models stop on EOS.
      const stops = [tokenizer.eosId, tokenizer.kind === 'llama2c' ? tokenizer.bosId : null].filter((x): x is number => x !== null);
      const res = await generate(model, ids, {
        maxNewTokens: argv['max-new-tokens'] as number,
        temperature: argv.temperature as number,
        topK: argv['top-k'] as number,
        topP: argv['top-p'] as number,
        seed: argv.seed as number,
        stopTokenIds: stops,
      });
      // Decode with the prompt as context (a leading space after BOS is dropped, but not after a prompt).
      const full = tokenizer.decode([...ids, ...res.tokens]);
      const head = tokenizer.decode(ids);
      const text = full.startsWith(head) ? full.slice(head.length) : tokenizer.decode(res.tokens);
      process.stdout.write(text);
      if (process.stdout.isTTY) process.stdout.write('\n');
      process.stderr.write(`[${res.tokens.length} tokens, finished by ${res.finishReason}, ${backend.name} backend]\n`);
    } finally {
      model.dispose();
    }
  },
};
