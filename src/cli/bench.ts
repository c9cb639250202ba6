/**
 * `rlhf bench`: tokens/s and steps/s of DPO, reward-model and SFT steps and of compare's scoring, per
 * model and TF.js backend, beside TRL/PyTorch on the same weights and ids; matmul GFLOP/s and MFU.
 * Markdown on stdout (or one JSON object with --json); progress on stderr. See src/bench/.
 */
import * as fs from 'fs';
import type { CommandModule } from 'yargs';
import type { BackendName } from '../backend';
import { BENCH_MODELS, defaultStoriesDir } from '../bench/models';
import { toMarkdown } from '../bench/report';
import { DEFAULT_MATMUL_N, runBench } from '../bench/run';
import { DEFAULT_KINDS, STEP_KINDS, type StepKind } from '../bench/steps';
import { UsageError } from './errors';

const BACKENDS: BackendName[] = ['tensorflow', 'wasm', 'cpu'];

/** "a,b" -> ['a', 'b'], each checked against `allowed`. */
function list<T extends string>(flag: string, raw: unknown, allowed: readonly T[]): T[] {
  const items = String(raw).split(',').map((x) => x.trim()).filter(Boolean);
  const bad = items.filter((x) => !allowed.includes(x as T));
  if (bad.length || items.length === 0) {
    throw new UsageError(`--${flag} ${raw}: expected a comma-separated list of ${allowed.join(', ')}${bad.length ? `; unknown: ${bad.join(', ')}` : ''}`);
  }
  return items as T[];
}

function positiveInt(flag: string, v: unknown, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new UsageError(`--${flag} must be an integer >= ${min}; got ${v}`);
  return v;
}

export const benchCommand: CommandModule = {
  command: 'bench',
  describe: 'Benchmark DPO / reward / SFT steps and compare scoring (tokens/s, MFU) per backend, beside TRL/PyTorch',
  builder: (y) =>
    y
      .option('models', { type: 'string', default: 'stories260K,15m', describe: `Models: ${BENCH_MODELS.join(', ')} (15m/tiny: random init, vocab 512)` })
      .option('backends', { type: 'string', default: BACKENDS.join(','), describe: 'TF.js backends, each in its own process' })
      .option('kinds', { type: 'string', default: DEFAULT_KINDS.join(','), describe: `Step kinds: ${STEP_KINDS.join(', ')} (sample/greedy: batched sampling beside transformers' generate)` })
      .option('steps', { type: 'number', default: 5, describe: 'Timed steps per model and kind (tensorflow, wasm, TRL)' })
      .option('warmup', { type: 'number', default: 1, describe: 'Untimed warm-up steps before them' })
      .option('cpu-steps', { type: 'number', default: 1, describe: 'Timed steps on the (slow) pure-JS cpu backend' })
      .option('cpu-warmup', { type: 'number', default: 1, describe: 'Warm-up steps on the cpu backend' })
      .option('batch', { type: 'number', default: 8, describe: 'Pairs per DPO/reward step and scoring batch; sequences per SFT step' })
      .option('seq', { type: 'number', default: 256, describe: 'Tokens per row (a quarter of them prompt)' })
      .option('sample-prompts', { type: 'number', default: 16, describe: 'Sampling kinds: prompts per batch (ragged, seq/8 to seq/4 tokens)' })
      .option('new-tokens', { type: 'number', default: 64, describe: 'Sampling kinds: new tokens per prompt' })
      .option('trl', { type: 'boolean', default: true, describe: 'Also time TRL/PyTorch (RLHF_PYTHON, default python3); --no-trl skips it' })
      .option('stories', { type: 'string', describe: 'stories260K HF folder (default: ../shared/models/stories260K/hf)' })
      .option('seed', { type: 'number', default: 1234, describe: 'Seed of the random weights and token ids' })
      .option('json', { type: 'boolean', default: false, describe: 'Print one JSON object instead of the markdown table' })
      .option('out', { type: 'string', describe: 'Also write the JSON result to this file' })
      .option('rounds', { type: 'number', default: 1, describe: 'Repeat every side this many times, alternating (a busy machine drifts); medians over all timed steps' })
      .option('leak-steps', { type: 'number', default: 0, describe: 'After timing DPO, run N more DPO steps and report numTensors and RSS along the way' })
      .option('work-dir', { type: 'string', describe: 'Write (and keep) the model folders here instead of a temporary folder' })
      .example('rlhf bench', 'Both models, every backend, TRL beside them (minutes)')
      .example('rlhf bench --backends tensorflow --models 15m --kinds dpo,reward --json', 'Native only, 15M model, JSON')
      .example('rlhf bench --kinds sample,greedy --backends tensorflow,wasm', 'Batched sampling (16 prompts × 64 new tokens) beside transformers\' generate'),
  handler: async (argv) => {
    const backends = list('backends', argv.backends, BACKENDS);
    const quiet = Boolean(argv.quiet);
    const report = await runBench({
      models: list('models', argv.models, BENCH_MODELS),
      backends,
      kinds: list<StepKind>('kinds', argv.kinds, STEP_KINDS),
      steps: positiveInt('steps', argv.steps),
      warmup: positiveInt('warmup', argv.warmup, 0),
      cpuSteps: positiveInt('cpu-steps', argv['cpu-steps']),
      cpuWarmup: positiveInt('cpu-warmup', argv['cpu-warmup'], 0),
      batch: positiveInt('batch', argv.batch),
      seqLen: positiveInt('seq', argv.seq, 4),
      samplePrompts: positiveInt('sample-prompts', argv['sample-prompts']),
      newTokens: positiveInt('new-tokens', argv['new-tokens']),
      trl: Boolean(argv.trl),
      python: process.env.RLHF_PYTHON || 'python3',
      storiesDir: (argv.stories as string | undefined) ?? defaultStoriesDir(),
      seed: positiveInt('seed', argv.seed, 0),
      matmulN: DEFAULT_MATMUL_N,
      matmulReps: 10,
      rounds: positiveInt('rounds', argv.rounds),
      leakSteps: positiveInt('leak-steps', argv['leak-steps'], 0),
      workDir: argv['work-dir'] as string | undefined,
      log: (line) => {
        if (!quiet) process.stderr.write(line + '\n');
      },
    });
    if (argv.out) fs.writeFileSync(String(argv.out), JSON.stringify(report, null, 2) + '\n');
    process.stdout.write(argv.json ? JSON.stringify(report) + '\n' : toMarkdown(report));
  },
};
