/**
 * `rlhf bench`: tokens/s and steps/s of DPO, reward-model and SFT steps and of compare's scoring, per
 * model and TF.js backend, beside TRL/PyTorch on the same weights and ids; matmul GFLOP/s and MFU.
 * Markdown on stdout (or one JSON object with --json, or README.md's table with --readme); progress on stderr.
 * See src/bench/.
 */
import * as fs from 'fs';
import type { CommandModule } from 'yargs';
import { requestedFromEnv, type BackendName } from '../backend';
import { BENCH_MODELS, defaultStoriesDir } from '../bench/models';
import { toMarkdown, toReadme } from '../bench/report';
import type { BenchOptions } from '../bench/options';
import { DEFAULT_MATMUL_N, runBench } from '../bench/run';
import { DEFAULT_KINDS, STEP_KINDS, type StepKind } from '../bench/steps';
import { PAIR_LAYOUTS, type PairLayout } from '../bench/workload';
import { UsageError } from './errors';
import { Progress } from '../util/progress';

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

/** --prompt: undefined (a quarter of --seq), else an integer leaving at least one completion token. */
function promptLength(v: unknown, seq: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || (typeof seq === 'number' && v >= seq)) {
    throw new UsageError(`--prompt must be an integer from 1 to --seq minus 1 (${typeof seq === 'number' ? seq - 1 : '?'}); got ${v}`);
  }
  return v;
}

function positiveInt(flag: string, v: unknown, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new UsageError(`--${flag} must be an integer >= ${min}; got ${v}`);
  return v;
}

/**
 * Which backends to time, in the one order of settings: --backends (or the global --backend, one name) >
 * RLHF_BACKEND > all three. `auto` from either of the last two means all three. Both flags naming different
 * backends is an error. Example: {} with RLHF_BACKEND=wasm -> {backends: ['wasm'], from: 'RLHF_BACKEND'}.
 */
export function benchBackends(argv: { backends?: unknown; backend?: unknown }, env: NodeJS.ProcessEnv = process.env): { backends: BackendName[]; from: string } {
  const one = argv.backend === undefined || argv.backend === 'auto' ? undefined : (argv.backend as BackendName);
  if (argv.backends !== undefined) {
    const backends = list('backends', argv.backends, BACKENDS);
    if (one && (backends.length !== 1 || backends[0] !== one)) {
      throw new UsageError(`--backend ${one} and --backends ${argv.backends} disagree; bench takes --backends (a comma list), e.g. --backends ${one}`);
    }
    return { backends, from: '--backends' };
  }
  if (one) return { backends: list('backend', one, BACKENDS), from: '--backend' };
  if (argv.backend === undefined) {
    const fromEnv = requestedFromEnv(env);
    if (fromEnv !== 'auto') return { backends: [fromEnv], from: 'RLHF_BACKEND' };
  }
  return { backends: [...BACKENDS], from: 'default' };
}

/** Environment variables that change what either side runs: the ones set are written before the command. */
const BENCH_ENV = ['RLHF_NATIVE_OPS', 'RLHF_NATIVE_THREADS', 'RLHF_WASM_THREADS', 'TF_ENABLE_ONEDNN_OPTS', 'TF_NUM_INTRAOP_THREADS',
  'TF_NUM_INTEROP_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS'];

/**
 * The command with every setting that shapes the figures written out (defaults included, so it still
 * reproduces them when a default changes), after the environment variables that are set; the report records
 * it. e.g. `RLHF_PYTHON=py rlhf bench --models 15m --backends tensorflow --kinds dpo --steps 5 --warmup 1
 * --batch 8 --seq 256 --rounds 3 --seed 1234`.
 */
export function benchCommandLine(o: BenchOptions, env: NodeJS.ProcessEnv = process.env): string {
  const vars = [...(o.trl ? [`RLHF_PYTHON=${o.python}`] : []), ...BENCH_ENV.filter((k) => env[k] !== undefined).map((k) => `${k}=${env[k]}`)];
  const parts = [...vars, 'rlhf bench', `--models ${o.models.join(',')}`, `--backends ${o.backends.join(',')}`, `--kinds ${o.kinds.join(',')}`,
    `--steps ${o.steps}`, `--warmup ${o.warmup}`];
  if (o.backends.includes('cpu')) parts.push(`--cpu-steps ${o.cpuSteps}`, `--cpu-warmup ${o.cpuWarmup}`);
  parts.push(`--batch ${o.batch}`, `--seq ${o.seqLen}`);
  if (o.promptLen !== undefined) parts.push(`--prompt ${o.promptLen}`);
  parts.push(`--layout ${o.layout ?? 'packed'}`, `--rounds ${o.rounds}`, `--seed ${o.seed}`);
  if (o.kinds.some((k) => k === 'sample' || k === 'greedy')) parts.push(`--sample-prompts ${o.samplePrompts ?? 16}`, `--new-tokens ${o.newTokens ?? 64}`);
  else if (o.kinds.includes('grpo')) parts.push(`--new-tokens ${o.newTokens ?? 64}`);
  if (o.leakSteps) parts.push(`--leak-steps ${o.leakSteps}`);
  if (!o.trl) parts.push('--no-trl');
  else if (o.torchMklIntelPath) parts.push('--torch-mkl-intel-path');
  if (o.storiesDir !== defaultStoriesDir() && o.models.includes('stories260K')) parts.push(`--stories ${o.storiesDir}`);
  return parts.join(' ');
}

export const benchCommand: CommandModule = {
  command: 'bench',
  describe: 'Benchmark DPO / reward / SFT steps and compare scoring (tokens/s, MFU) per backend, beside TRL/PyTorch',
  builder: (y) =>
    y
      .option('models', { type: 'string', default: 'stories260K,15m', describe: `Models: ${BENCH_MODELS.join(', ')} (15m/tiny: random init, vocab 512; smollm2-135m: SmolLM2-135M's configuration, random init, vocab 49,152)` })
      .option('backends', { type: 'string', describe: `TF.js backends, each in its own process (default: --backend or RLHF_BACKEND when set, else ${BACKENDS.join(',')})` })
      .option('kinds', { type: 'string', default: DEFAULT_KINDS.join(','), describe: `Step kinds: ${STEP_KINDS.join(', ')} (sample/greedy: batched sampling beside transformers' generate; grpo: one GRPO step, 8 prompts × 8 generations, beside TRL's GRPOTrainer)` })
      .option('steps', { type: 'number', default: 5, describe: 'Timed steps per model and kind (tensorflow, wasm, TRL)' })
      .option('warmup', { type: 'number', default: 1, describe: 'Untimed warm-up steps before them' })
      .option('cpu-steps', { type: 'number', default: 1, describe: 'Timed steps on the (slow) pure-JS cpu backend' })
      .option('cpu-warmup', { type: 'number', default: 1, describe: 'Warm-up steps on the cpu backend' })
      .option('batch', { type: 'number', default: 8, describe: 'Pairs per DPO/reward step and scoring batch; sequences per SFT step' })
      .option('seq', { type: 'number', default: 256, describe: 'Tokens per row (a quarter of them prompt, unless --prompt)' })
      .option('prompt', { type: 'number', describe: 'Prompt tokens per row, from 1 to --seq minus 1 (default: a quarter of --seq)' })
      .option('layout', { type: 'string', default: 'packed', choices: PAIR_LAYOUTS as unknown as string[], describe: 'Our pair steps (dpo, reward, score): packed, each prompt computed once (the default, as the stages train); padded, 2B rows as TRL reads them' })
      .option('sample-prompts', { type: 'number', default: 16, describe: 'Sampling kinds: prompts per batch (ragged, from half the prompt length to all of it)' })
      .option('new-tokens', { type: 'number', default: 64, describe: 'Sampling kinds and grpo: new tokens per prompt (per completion)' })
      .option('trl', { type: 'boolean', default: true, describe: 'Also time TRL/PyTorch (RLHF_PYTHON, default python3); --no-trl skips it' })
      .option('torch-mkl-intel-path', { type: 'boolean', default: false, describe: "Run the TRL side with MKL on its Intel code path (a one-function shim built with cc and preloaded): on AMD CPUs MKL otherwise takes a generic path, much slower than the one it runs on Intel CPUs with the same instruction sets, and the ratio measures MKL's vendor check (src/bench/mkl-shim.ts)" })
      .option('stories', { type: 'string', describe: 'stories260K HF folder (default: ../shared/models/stories260K/hf)' })
      .option('seed', { type: 'number', default: 1234, describe: 'Seed of the random weights and token ids' })
      .option('json', { type: 'boolean', default: false, describe: 'Print one JSON object instead of the markdown table' })
      .option('readme', { type: 'boolean', default: false, describe: "Print README.md's performance table (dated, with the command and the machine line) instead" })
      .option('out', { type: 'string', describe: 'Also write the JSON result to this file' })
      .option('rounds', { type: 'number', default: 1, describe: 'Repeat every side this many times, alternating (a busy machine drifts); medians over all timed steps' })
      .option('leak-steps', { type: 'number', default: 0, describe: 'After timing DPO, run N more DPO steps and report numTensors and RSS along the way' })
      .option('work-dir', { type: 'string', describe: 'Write (and keep) the model folders here instead of a temporary folder' })
      .example('rlhf bench', 'Both models, every backend, TRL beside them (minutes)')
      .example('rlhf bench --backends tensorflow --models 15m --kinds dpo,reward --json', 'Native only, 15M model, JSON')
      .example('rlhf bench --models smollm2-135m --backends tensorflow --kinds dpo,reward --seq 512 --steps 3', 'A real-size model (135M) beside TRL: tokens/s and peak RSS')
      .example('rlhf bench --backends tensorflow --torch-mkl-intel-path', 'On an AMD CPU: TRL with MKL on its Intel code path (AVX-512 where the CPU has it), not the generic one stock torch takes there')
      .example('rlhf bench --kinds sample,greedy --backends tensorflow,wasm', 'Batched sampling (16 prompts × 64 new tokens) beside transformers\' generate'),
  handler: async (argv) => {
    const { backends, from } = benchBackends({ backends: argv.backends, backend: argv.backend });
    const quiet = Boolean(argv.quiet);
    if (from === 'RLHF_BACKEND' && !quiet) process.stderr.write(`RLHF_BACKEND=${backends[0]}: timing ${backends[0]} only (--backends ${BACKENDS.join(',')} times all)\n`);
    if (argv.json && argv.readme) throw new UsageError('--json and --readme both choose what is printed; pick one (--out FILE writes the JSON as well)');
    // A live line over the sides timed (each backend, then TRL, per round) on a terminal; the log lines as before.
    let progress: Progress | null = null;
    const options: BenchOptions = {
      models: list('models', argv.models, BENCH_MODELS),
      backends,
      kinds: list<StepKind>('kinds', argv.kinds, STEP_KINDS),
      steps: positiveInt('steps', argv.steps),
      warmup: positiveInt('warmup', argv.warmup, 0),
      cpuSteps: positiveInt('cpu-steps', argv['cpu-steps']),
      cpuWarmup: positiveInt('cpu-warmup', argv['cpu-warmup'], 0),
      batch: positiveInt('batch', argv.batch),
      seqLen: positiveInt('seq', argv.seq, 4),
      promptLen: promptLength(argv.prompt, argv.seq),
      layout: argv.layout as PairLayout,
      samplePrompts: positiveInt('sample-prompts', argv['sample-prompts']),
      newTokens: positiveInt('new-tokens', argv['new-tokens']),
      trl: Boolean(argv.trl),
      torchMklIntelPath: Boolean(argv['torch-mkl-intel-path']),
      python: process.env.RLHF_PYTHON || 'python3',
      storiesDir: (argv.stories as string | undefined) ?? defaultStoriesDir(),
      seed: positiveInt('seed', argv.seed, 0),
      matmulN: DEFAULT_MATMUL_N,
      matmulReps: 10,
      rounds: positiveInt('rounds', argv.rounds),
      leakSteps: positiveInt('leak-steps', argv['leak-steps'], 0),
      workDir: argv['work-dir'] as string | undefined,
      log: (line) => {
        if (progress) progress.log(line);
        else if (!quiet) process.stderr.write(line + '\n');
      },
      onSide: (done, total) => {
        progress ??= new Progress(total, 'bench', { enabled: !quiet, unit: 'sides' });
        progress.tick(done);
      },
    };
    const report = await runBench({ ...options, command: benchCommandLine(options) }).finally(() => progress?.finish());
    if (argv.out) fs.writeFileSync(String(argv.out), JSON.stringify(report, null, 2) + '\n');
    process.stdout.write(argv.json ? JSON.stringify(report) + '\n' : argv.readme ? toReadme(report) : toMarkdown(report));
  },
};
