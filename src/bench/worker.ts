/**
 * The TF.js side of the benchmark for ONE backend, run in its own process (run.ts spawns one per
 * backend, so a backend's memory, thread pool and kernels never share a process with another's).
 *
 *   input:  argv[2] = path of a WorkerJob JSON file
 *   output: one WorkerResult JSON line on stdout; progress on stderr
 *
 * Per model and step kind: build the step (steps.ts), `warmup` untimed steps (kernels, kept RoPE/mask
 * tables, Adam slots), then `steps` timed ones; each timing ends when the step's results are on the host.
 * Also the backend's large-matmul GFLOP/s (matmul.ts), tf.memory().numTensors around the timed steps, the
 * process's peak RSS after them (rss.ts: run.ts gives each model and step kind a process of its own, so it is that
 * step's peak: weights, optimiser state, activations, the reference pass for DPO, and the runtime), and on
 * tensorflow its thread pools and oneDNN setting (build-info.ts; run.ts adds oneDNN's state from this
 * process's log).
 * Does NOT: compare with anything or format tables (report.ts).
 */
import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../backend';
import { tfThreads, type OneDnn, type TfThreads } from './build-info';
import { measureMatmul, type MatmulResult } from './matmul';
import { peakRss } from './rss';
import { median } from './stats';
import { prepareStep, type ModelDirs, type StepKind } from './steps';
import type { Workload } from './workload';

export interface WorkerJob {
  backend: BackendName;
  models: { name: string; dirs: ModelDirs }[];
  kinds: StepKind[];
  workload: Workload;
  steps: number;
  warmup: number;
  /** Side of the square matmul for the peak (0 skips it). */
  matmulN: number;
  matmulReps: number;
  /** After timing DPO, run this many more DPO steps and sample numTensors and RSS (0 skips). */
  leakSteps?: number;
}

/** numTensors and RSS sampled over a long DPO run: flat lines mean no leak. */
export interface LeakCheck {
  model: string;
  steps: number;
  /** Sampled every `every` steps, starting after the warm-up and timed steps. */
  every: number;
  num_tensors: number[];
  rss_mib: number[];
}

export interface StepResult {
  model: string;
  kind: StepKind;
  tokens: number;
  ms: number[];
  median_ms: number;
  /** tf.memory().numTensors after the last timed step minus before the first (0 = no leak). */
  tensor_growth: number;
  /** This process's peak RSS after the timed steps (MiB), and how it was read (rss.ts). */
  peak_rss_mib: number;
  rss_source: string;
  /** Sampling kinds: which decoder ran. */
  decoder?: string;
}

/** tensorflow only: what its kernels ran on. */
export interface NativeBuild {
  threads: TfThreads;
  /** Threads of native/rlhf_ops.cc's pool; null when the fused kernels are not in use. */
  native_ops_threads: number | null;
  native_ops_reason?: string;
  /** TF_ENABLE_ONEDNN_OPTS as this process saw it (null: unset, TensorFlow decides by CPU). */
  tf_enable_onednn_opts: string | null;
  /** Filled in by run.ts from this process's stderr (oneDnnFromLog). */
  onednn?: OneDnn;
  onednn_evidence?: string;
}

export interface WorkerResult {
  backend: string;
  version: string;
  threads: number;
  build?: NativeBuild;
  matmul: MatmulResult | null;
  results: StepResult[];
  leak?: LeakCheck[];
  errors: { model: string; kind: StepKind | 'setup'; message: string }[];
}

function log(msg: string): void {
  process.stderr.write(`[bench ${process.pid}] ${msg}\n`);
}

export async function runWorker(job: WorkerJob): Promise<WorkerResult> {
  const info = await initBackend(job.backend);
  const out: WorkerResult = { backend: info.name, version: info.version, threads: info.threads, matmul: null, results: [], errors: [] };
  if (info.name === 'tensorflow') {
    out.build = {
      threads: tfThreads(), native_ops_threads: info.nativeOps?.loaded ? info.nativeOps.threads ?? null : null,
      ...(info.nativeOps?.reason ? { native_ops_reason: info.nativeOps.reason } : {}),
      tf_enable_onednn_opts: process.env.TF_ENABLE_ONEDNN_OPTS ?? null,
    };
  }
  if (job.matmulN > 0) {
    out.matmul = await measureMatmul(job.matmulN, job.matmulReps);
    log(`${info.name}: matmul ${job.matmulN}² ${out.matmul.gflops} GFLOP/s`);
  }
  for (const m of job.models) {
    for (const kind of job.kinds) {
      try {
        out.results.push(await timeStep(m.name, kind, m.dirs, job, out));
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        out.errors.push({ model: m.name, kind, message });
        log(`${info.name} ${m.name} ${kind}: failed: ${message}`);
      }
    }
  }
  return out;
}

/** Runs `steps` more steps, sampling tf.memory().numTensors and process RSS ~20 times along the way. */
async function leakCheck(model: string, run: () => Promise<void>, steps: number): Promise<LeakCheck> {
  const every = Math.max(1, Math.floor(steps / 20));
  const out: LeakCheck = { model, steps, every, num_tensors: [], rss_mib: [] };
  const sample = () => {
    out.num_tensors.push(tf.memory().numTensors);
    out.rss_mib.push(Math.round(process.memoryUsage().rss / 2 ** 20));
  };
  sample();
  for (let i = 1; i <= steps; i++) {
    await run();
    if (i % every === 0) sample();
  }
  log(`leak check ${model}: numTensors ${out.num_tensors[0]} -> ${out.num_tensors.at(-1)}, RSS ${out.rss_mib[0]} -> ${out.rss_mib.at(-1)} MiB over ${steps} DPO steps`);
  return out;
}

async function timeStep(model: string, kind: StepKind, dirs: ModelDirs, job: WorkerJob, out: WorkerResult): Promise<StepResult> {
  const step = await prepareStep(kind, dirs, job.workload);
  try {
    for (let i = 0; i < job.warmup; i++) await step.run();
    const before = tf.memory().numTensors;
    const ms: number[] = [];
    for (let i = 0; i < job.steps; i++) {
      const t0 = performance.now();
      await step.run();
      ms.push(+(performance.now() - t0).toFixed(1));
    }
    const growth = tf.memory().numTensors - before;
    const rss = peakRss(); // before the leak check's extra steps
    const med = median(ms);
    log(`${job.backend} ${model} ${kind}: ${ms.map((x) => (x / 1000).toFixed(2)).join(' ')} s -> ${Math.round(step.tokens / (med / 1000))} tok/s, peak RSS ${rss.mib} MiB${step.decoder ? ` (${step.decoder} decoder)` : ''}`);
    if (kind === 'dpo' && job.leakSteps) (out.leak ??= []).push(await leakCheck(model, step.run, job.leakSteps));
    return { model, kind, tokens: step.tokens, ms, median_ms: med, tensor_growth: growth, peak_rss_mib: rss.mib, rss_source: rss.source, ...(step.decoder ? { decoder: step.decoder } : {}) };
  } finally {
    step.dispose();
  }
}
