/**
 * Soak: a long DPO run on the tiny preset through the real stage (trainDpo: data, reference log-prob
 * cache, loop, periodic checkpoints, metrics.jsonl), or with --trainer grpo a GRPO run (trainGrpo: batched
 * sampling, a function reward, a β > 0 reference, checkpoints), sampling tf.memory() and process memory every 100
 * steps. Flat numTensors after the first sample = no tensor leak. numBytes may move within a bound: the
 * model keeps causal-mask tensors for the last 4 sequence lengths it saw (4 tensors, at most
 * 4 * max_length^2 floats), so their sizes follow the batches. RSS and heap growth are reported for a
 * person to judge (a native backend's allocator may settle for a while).
 *
 *   node bench/run-ts.js bench/soak.ts [--trainer dpo|grpo] [--model SPEC] [--steps 2000] [--every 100] [--backend auto|tensorflow|wasm|cpu]
 *       [--share-prompt true|false] [--padding-free true|false] [--json]
 * --model: the starting model (default the recipe default), e.g. ../shared/models/stories260K/hf for GRPO on stories260K.
 *
 * The batch layout is the recipe's (dpo.share_prompt, dpo.padding_free: both on by default, so the reference pass
 * and every step run packed rows with shared prompts); the two flags set them, and the result names them. The GRPO
 * run's rows are its rollouts (prompt + completion, right-padded); the layout flags do not apply to it.
 *
 * Exit code 1 when numTensors changed after the first sample, or numBytes moved by more than that bound. Does NOT belong in the unit
 * tests (minutes, not seconds); its figures go in the reliability note.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { currentBackend } from '../src/backend';
import { loadRecipe, parseSetOption } from '../src/recipes/load';
import type { RewardSource } from '../src/rewards/types';
import { trainGrpo } from '../src/train/online-stages';
import { trainDpo } from '../src/train/stages';

interface Sample {
  step: number;
  numTensors: number;
  numBytes: number;
  rssMb: number;
  heapMb: number;
  externalMb: number;
  seconds: number;
}

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : dflt;
}

const mb = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;

/**
 * Calls `onStep(step)` whenever the loop appends a train row to metrics.jsonl: the loop writes it with
 * fs.appendFileSync right after the optimiser step, so this samples at the same point of every step
 * without touching the training code.
 */
function watchSteps(metricsFile: string, onStep: (step: number) => void): () => void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const realFs = require('fs') as typeof fs;
  const orig = realFs.appendFileSync;
  realFs.appendFileSync = function (this: unknown, file: fs.PathOrFileDescriptor, data: string | Uint8Array, ...rest: unknown[]) {
    const r = (orig as (...a: unknown[]) => void).call(this, file, data, ...rest);
    if (file === metricsFile && typeof data === 'string') {
      const row = JSON.parse(data) as { step: number; loss?: number };
      if (row.loss !== undefined) onStep(row.step);
    }
    return r;
  } as typeof fs.appendFileSync;
  return () => {
    realFs.appendFileSync = orig;
  };
}

async function main(): Promise<void> {
  const steps = Number(arg('steps', '2000'));
  const maxLength = 128;
  const every = Number(arg('every', '100'));
  const backend = arg('backend', 'auto');
  const trainer = arg('trainer', 'dpo');
  const model = arg('model', '');
  const modelSet = model ? [`model=${JSON.stringify(path.resolve(model))}`] : [];
  const share = arg('share-prompt', 'true');
  const paddingFree = arg('padding-free', 'true');
  for (const [flag, v] of [['share-prompt', share], ['padding-free', paddingFree]]) {
    if (v !== 'true' && v !== 'false') throw new Error(`--${flag} ${v}: expected true or false`);
  }
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-soak-'));
  const out = path.join(root, trainer);
  // GRPO: 2 prompts x 4 samples x 32 new tokens per step (prompt + completion stays under maxLength), β 0.04.
  const grpoRecipe = () => loadRecipe(undefined, [
    `data.train=${path.resolve(__dirname, '../data/prefs.jsonl')}`, `backend="${backend}"`, 'grpo.reward=["count-e"]',
    `grpo.max_steps=${steps}`, 'grpo.batch_size=8', 'grpo.num_generations=4', 'grpo.max_new_tokens=32', 'grpo.beta=0.04',
    'grpo.learning_rate=0.0005', 'grpo.save_steps=100', 'grpo.save_total_limit=2', 'grpo.logging_steps=100000', ...modelSet,
  ].map(parseSetOption));
  const countE: RewardSource = { name: 'count-e', score: async (_p, c) => c.map((x) => (x.match(/e/g) ?? []).length) };
  const recipe = loadRecipe(undefined, [
    `data.train=${path.resolve(__dirname, '../data/prefs.jsonl')}`, 'data.limit=256', `backend="${backend}"`,
    `dpo.max_steps=${steps}`, 'dpo.batch_size=8', `dpo.max_length=${maxLength}`, 'dpo.max_prompt_length=64',
    'dpo.learning_rate=0.0005', 'dpo.save_steps=500', 'dpo.save_total_limit=2', 'dpo.logging_steps=100000', ...modelSet,
    `dpo.share_prompt=${share}`, `dpo.padding_free=${paddingFree}`,
  ].map(parseSetOption));
  const samples: Sample[] = [];
  const t0 = Date.now();
  const unwatch = watchSteps(path.join(out, 'metrics.jsonl'), (step) => {
    if (step % every !== 0) return;
    const m = tf.memory();
    const p = process.memoryUsage();
    const s: Sample = { step, numTensors: m.numTensors, numBytes: m.numBytes, rssMb: mb(p.rss), heapMb: mb(p.heapUsed), externalMb: mb(p.external + p.arrayBuffers), seconds: (Date.now() - t0) / 1000 };
    samples.push(s);
    if (!process.argv.includes('--json')) {
      process.stderr.write(`step ${String(step).padStart(5)} | tensors ${s.numTensors} | tensor bytes ${s.numBytes} | rss ${s.rssMb} MB | heap ${s.heapMb} MB | external ${s.externalMb} MB | ${s.seconds.toFixed(0)} s\n`);
    }
  });
  let summary;
  try {
    summary = trainer === 'grpo'
      ? await trainGrpo(grpoRecipe(), { out, quiet: true, rewards: [countE] })
      : await trainDpo(recipe, { out, quiet: true, cacheDir: path.join(root, 'cache') });
  } finally {
    unwatch();
  }
  const first = samples[0];
  const last = samples[samples.length - 1];
  const flatTensors = samples.every((s) => s.numTensors === first.numTensors);
  const bytes = samples.map((s) => s.numBytes);
  const bytesSpread = Math.max(...bytes) - Math.min(...bytes);
  const bytesBound = 4 * maxLength * maxLength * 4; // the causal-mask cache (see the header)
  const result = {
    backend: currentBackend()?.name ?? tf.getBackend(),
    layout: 'layout' in summary.data ? summary.data.layout : null,
    fused_ops: summary.backend.fused_ops,
    steps: summary.steps,
    seconds: (Date.now() - t0) / 1000,
    final_loss: summary.train.loss,
    samples,
    tensors_flat: flatTensors,
    tensor_bytes_spread: bytesSpread,
    tensor_bytes_bound: bytesBound,
    rss_growth_mb: Math.round((last.rssMb - first.rssMb) * 10) / 10,
    rss_growth_second_half_mb: Math.round((last.rssMb - samples[Math.floor(samples.length / 2)].rssMb) * 10) / 10,
    heap_growth_mb: Math.round((last.heapMb - first.heapMb) * 10) / 10,
  };
  if (process.argv.includes('--json')) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  else {
    process.stdout.write(
      `soak: ${result.steps} ${trainer === 'grpo' ? 'GRPO steps' : `DPO steps (share_prompt ${share}, padding_free ${paddingFree}; ${(100 * (result.layout?.padding_saved_fraction ?? 0)).toFixed(1)}% of the padding saved)`} on ${result.backend} in ${result.seconds.toFixed(0)} s; numTensors ${first.numTensors} -> ${last.numTensors} ` +
        `(${flatTensors ? 'flat' : 'NOT flat'}), tensor bytes within ${bytesSpread} of each other (bound ${bytesBound}), RSS ${first.rssMb} -> ${last.rssMb} MB (+${result.rss_growth_mb}; second half +${result.rss_growth_second_half_mb}), ` +
        `heap ${first.heapMb} -> ${last.heapMb} MB\n`,
    );
  }
  fs.rmSync(root, { recursive: true, force: true });
  if (!flatTensors || bytesSpread > bytesBound) process.exitCode = 1;
}

void main();
