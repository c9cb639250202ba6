/**
 * `rlhf generate`: text from a model (greedy or sampled, seeded). One prompt: the text on stdout exactly as
 * decoded. A prompts file (--prompts): n samples per prompt, batched, one JSON line per sample in --out (or on
 * stdout), a summary on stderr.
 */
import * as fs from 'fs';
import type { CommandModule } from 'yargs';
import { initBackend, BackendRequest } from '../backend';
import { readPrompts, type PromptRecord } from '../data/prompts';
import { decoderStatus, type DecoderChoice } from '../model/decoder';
import { generate } from '../model/generate';
import { loadPolicy } from '../io/load-model';
import { completionText, defaultStops, samplePrompts } from '../model/sample-prompts';
import type { Tokenizer } from '../tokenizer/types';
import type { LanguageModel } from '../model/language-model';
import { UsageError } from './errors';

const DECODERS: DecoderChoice[] = ['auto', 'native', 'tfjs'];

export const generateCommand: CommandModule = {
  command: 'generate',
  describe: 'Generate text from a policy: one prompt, or n samples for every prompt of a file (batched, KV cache; greedy, temperature, top-k, top-p, min-p; seeded)',
  builder: (y) =>
    y
      .option('model', { type: 'string', demandOption: true, describe: 'Checkpoint/run folder, HF folder or llama2.c .bin' })
      .option('tokenizer', { type: 'string', describe: 'Tokenizer (default: the model\'s)' })
      .option('prompt', { type: 'string', default: '', describe: 'Prompt text (BOS is prepended)' })
      .option('prompts', { type: 'string', describe: 'Prompts file (.jsonl, .json, .arrow, .parquet, HF folder): a "prompt" column (string or chat messages) or preference records' })
      .option('n', { type: 'number', default: 1, describe: 'Samples per prompt (with --prompts)' })
      .option('out', { type: 'string', describe: 'With --prompts: write the JSONL here (default: stdout)' })
      .option('overwrite', { type: 'boolean', default: false, describe: 'Replace an existing --out file' })
      .option('batch-size', { type: 'number', default: 16, describe: 'Prompts per batch (rows per batch = batch size × n)' })
      .option('max-new-tokens', { type: 'number', default: 128 })
      .option('temperature', { type: 'number', default: 1, describe: '0 = greedy' })
      .option('top-k', { type: 'number', default: 0, describe: '0 = off' })
      .option('top-p', { type: 'number', default: 1, describe: '1 = off' })
      .option('min-p', { type: 'number', default: 0, describe: '0 = off' })
      .option('seed', { type: 'number', default: 0 })
      .option('decoder', { type: 'string', default: 'auto', choices: DECODERS, describe: 'native (tensorflow backend) or tfjs; auto = native where it runs' })
      .example('rlhf generate --model ../shared/models/stories260K/stories260K.bin --tokenizer ../shared/models/stories260K/tok512.bin --temperature 0 --max-new-tokens 200', 'Greedy text, identical to llama2.c run.c -t 0 -n 200')
      .example('rlhf generate --model checkpoints/quickstart/dpo --prompt "Please tell me the sum of two and three." --temperature 0.7 --top-p 0.9', 'Sample from a trained policy')
      .example('rlhf generate --model checkpoints/quickstart/dpo --prompts data/prefs-eval.jsonl --n 4 --top-p 0.9 --out samples.jsonl', '4 samples per prompt of a preference file, one JSON line each'),
  handler: async (argv) => {
    const n = argv.n as number;
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`--n must be an integer >= 1 (samples per prompt); got ${argv.n}`);
    const promptsFile = argv.prompts as string | undefined;
    if (promptsFile !== undefined && argv.prompt !== '') throw new UsageError('--prompt and --prompts exclude each other; pass one prompt or a prompts file');
    if (promptsFile === undefined && (n !== 1 || argv.out !== undefined)) throw new UsageError('--n and --out go with --prompts FILE; for one prompt the text goes to stdout');
    const out = argv.out as string | undefined;
    if (out && fs.existsSync(out) && !argv.overwrite) throw new UsageError(`--out ${out} exists; pass --overwrite to replace it`);
    const backend = await initBackend(argv.backend as BackendRequest | undefined);
    const { model, tokenizer } = loadPolicy(argv.model as string, { tokenizer: argv.tokenizer as string | undefined, trainable: false });
    try {
      if (promptsFile === undefined) await generateOne(model, tokenizer, argv, backend.name);
      else await generateFile(model, tokenizer, promptsFile, out, argv);
    } finally {
      model.dispose();
    }
  },
};

const sampling = (argv: Record<string, unknown>) => ({
  maxNewTokens: argv['max-new-tokens'] as number,
  temperature: argv.temperature as number,
  topK: argv['top-k'] as number,
  topP: argv['top-p'] as number,
  minP: argv['min-p'] as number,
  seed: argv.seed as number,
  decoder: argv.decoder as DecoderChoice,
});

async function generateOne(model: LanguageModel, tokenizer: Tokenizer, argv: Record<string, unknown>, backend: string): Promise<void> {
  const prompt = tokenizer.encode(argv.prompt as string);
  const ids = tokenizer.bosId !== null ? [tokenizer.bosId, ...prompt] : prompt;
  if (ids.length === 0) throw new UsageError('the tokenizer has no BOS token, so an empty --prompt gives nothing to start from; pass --prompt TEXT');
  // llama2.c stops on BOS (it delimits stories); HF-style models stop on EOS.
  const res = await generate(model, ids, { ...sampling(argv), stopTokenIds: defaultStops(tokenizer) });
  process.stdout.write(completionText(tokenizer, ids, res.tokens));
  if (process.stdout.isTTY) process.stdout.write('\n');
  process.stderr.write(`[${res.tokens.length} tokens, finished by ${res.finishReason}, ${backend} backend]\n`);
}

async function generateFile(model: LanguageModel, tokenizer: Tokenizer, file: string, out: string | undefined, argv: Record<string, unknown>): Promise<void> {
  const prompts: PromptRecord[] = [];
  for await (const p of readPrompts(file)) prompts.push(p);
  if (prompts.length === 0) throw new UsageError(`${file}: no prompts in it; expected rows with a "prompt" field (a string or chat messages) or preference records`);
  const quiet = Boolean(argv.quiet);
  const status = decoderStatus(model);
  const decoder = argv.decoder === 'auto' ? status.name : (argv.decoder as string);
  const tmp = out ? `${out}.tmp-${process.pid}` : null;
  const sink = tmp ? fs.openSync(tmp, 'w') : null;
  const t0 = performance.now();
  let lines = 0;
  let tokens = 0;
  try {
    const rows = samplePrompts(model, tokenizer, prompts, {
      ...sampling(argv), n: argv.n as number, batchSize: argv['batch-size'] as number,
      onBatch: (done, total, newTokens, ms) => {
        if (!quiet) process.stderr.write(`[generate] prompts ${done}/${total} | ${newTokens} new tokens in ${(ms / 1000).toFixed(2)} s (${Math.round(newTokens / (ms / 1000))} tok/s, ${decoder} decoder)\n`);
      },
    });
    for await (const line of rows) {
      const text = JSON.stringify(line) + '\n';
      if (sink !== null) fs.writeSync(sink, text);
      else process.stdout.write(text);
      lines++;
      tokens += line.num_tokens;
    }
    if (sink !== null) {
      fs.closeSync(sink);
      fs.renameSync(tmp!, out!); // the file appears whole or not at all
    }
  } catch (e) {
    if (sink !== null) {
      fs.closeSync(sink);
      fs.rmSync(tmp!, { force: true });
    }
    throw e;
  }
  const s = (performance.now() - t0) / 1000;
  process.stderr.write(`[${lines} samples (${prompts.length} prompts × ${argv.n}), ${tokens} new tokens in ${s.toFixed(2)} s, ${decoder} decoder${out ? `, written to ${out}` : ''}]\n`);
}
