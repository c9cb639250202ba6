/**
 * The TF.js side of the benchmark for ONE backend, run in its own process (run.ts spawns one per
 * backend, so a backend's memory, thread pool and kernels never share a process with another's).
 *
 *   input:  argv[2] = path of a WorkerJob JSON file
 *   output: one WorkerResult JSON line on stdout; progress on stderr
 *
 * Per model and step kind: build the step (steps.ts), `warmup` untimed steps (kernels, kept RoPE/mask
 * tables, Adam slots), then `steps` timed ones; each timing ends when the step's results are on the host.
 * Also the backend's large-matmul GFLOP/s (matmul.ts) and tf.memory().numTensors around the timed steps.
 * Does NOT: compare with anything or format tables (report.ts).
 */
import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../backend';
import { measureMatmul, type MatmulResult } from './matmul';
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
}

export interface StepResult {
  model: string;
  kind: StepKind;
  tokens: number;
  ms: number[];
  median_ms: number;
  /** tf.memory().numTensors after the last timed step minus before the first (0 = no leak). */
  tensor_growth: number;
}

export interface WorkerResult {
  backend: string;
  version: string;
  threads: number;
  matmul: MatmulResult | null;
  results: StepResult[];
  errors: { model: string; kind: StepKind | 'setup'; message: string }[];
}

function log(msg: string): void {
  process.stderr.write(`[bench ${process.pid}] ${msg}\n`);
}

export async function runWorker(job: WorkerJob): Promise<WorkerResult> {
  const info = await initBackend(job.backend);
  const out: WorkerResult = { backend: info.name, version: info.version, threads: info.threads, matmul: null, results: [], errors: [] };
  if (job.matmulN > 0) {
    out.matmul = await measureMatmul(job.matmulN, job.matmulReps);
    log(`${info.name}: matmul ${job.matmulN}² ${out.matmul.gflops} GFLOP/s`);
  }
  for (const m of job.models) {
    for (const kind of job.kinds) {
      try {
        out.results.push(await timeStep(m.name, kind, m.dirs, job));
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        out.errors.push({ model: m.name, kind, message });
        log(`${info.name} ${m.name} ${kind}: failed: ${message}`);
      }
    }
  }
  return out;
}

async function timeStep(model: string, kind: StepKind, dirs: ModelDirs, job: WorkerJob): Promise<StepResult> {
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
    const med = median(ms);
    log(`${job.backend} ${model} ${kind}: ${ms.map((x) => (x / 1000).toFixed(2)).join(' ')} s -> ${Math.round(step.tokens / (med / 1000))} tok/s`);
    return { model, kind, tokens: step.tokens, ms, median_ms: med, tensor_growth: growth };
  } finally {
    step.dispose();
  }
}
