/**
 * `rlhf bench` as a library call: prepares the models (models.ts), runs one worker process per TF.js
 * backend (worker.ts) and the TRL/PyTorch script (trl.ts) on the same folders and ids, one after the
 * other (never two at once, so they do not compete for cores), and assembles the report (report.ts).
 *
 * Does: orchestration and process plumbing. Does NOT: time steps itself or format tables.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BenchReport, buildReport } from './report';
import { BENCH_HYPER, SAMPLE_SETTINGS, type StepKind } from './steps';
import { ModelUnavailable, prepareModel, type PreparedModel } from './models';
import { runTrl, trlUnavailable, type TrlJob, type TrlResult } from './trl';
import type { WorkerJob, WorkerResult } from './worker';
import { makeWorkload, pairIdsJson, samplePromptIds, type Workload } from './workload';
import { initBackend, type BackendName } from '../backend';

export interface BenchOptions {
  models: string[];
  backends: BackendName[];
  kinds: StepKind[];
  /** Timed steps per (model, kind) on tensorflow/wasm and on the TRL side. */
  steps: number;
  warmup: number;
  /** The pure-JS cpu backend is ~100x slower: its own (smaller) counts. */
  cpuSteps: number;
  cpuWarmup: number;
  batch: number;
  seqLen: number;
  /** Sampling kinds: prompts per batch and new tokens per row. @default 16, 64 */
  samplePrompts?: number;
  newTokens?: number;
  trl: boolean;
  python: string;
  storiesDir: string;
  seed: number;
  /** Square matmul side for each backend's peak (0 skips). */
  matmulN: Partial<Record<BackendName, number>>;
  matmulReps: number;
  /** Keep the model folders here instead of a temporary folder. */
  workDir?: string;
  /** Every side runs this many times, alternating; a row's median is over all rounds' timed steps. */
  rounds: number;
  /** After timing DPO (first round), this many more DPO steps sampling numTensors and RSS; 0 skips. */
  leakSteps?: number;
  log: (line: string) => void;
}

export const DEFAULT_MATMUL_N: Record<BackendName, number> = { tensorflow: 2048, wasm: 1024, cpu: 512 };

export async function runBench(o: BenchOptions): Promise<BenchReport> {
  const root = o.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-bench-'));
  fs.mkdirSync(root, { recursive: true });
  try {
    await initBackend('cpu'); // this process only builds and saves weights; the workers do the timed work
    const models: PreparedModel[] = [];
    const notes: string[] = [];
    for (const name of o.models) {
      try {
        models.push(prepareModel(name, root, { storiesDir: o.storiesDir, seed: o.seed }));
        o.log(`model ${name}: ${models[models.length - 1].params} params, folders in ${root}`);
      } catch (e) {
        if (!(e instanceof ModelUnavailable)) throw e;
        notes.push(e.message);
        o.log(e.message);
      }
    }
    const workloads = new Map(models.map((m) => [m.name, makeWorkload({ vocab: m.config.vocab_size, batch: o.batch, seqLen: o.seqLen, seed: o.seed, samplePrompts: o.samplePrompts, newTokens: o.newTokens })]));
    const workers = new Map<BackendName, WorkerResult>();
    const loads: { side: string; round: number; load1: number }[] = [];
    const load = (side: string, round: number) => loads.push({ side, round, load1: +os.loadavg()[0].toFixed(2) });
    const skipped: Record<string, string> = {};
    let trl: TrlResult | { skipped: string } = { skipped: o.trl ? 'no model to run' : 'not requested (--no-trl)' };
    const trlWhy = o.trl && models.length ? trlUnavailable(o.python) : null;
    if (trlWhy) o.log(`TRL side skipped: ${trlWhy}`);
    for (let round = 1; round <= o.rounds; round++) {
      if (o.rounds > 1) o.log(`round ${round}/${o.rounds}`);
      for (const backend of o.backends) {
        if (skipped[backend]) continue;
        load(backend, round);
        const r = await runBackend(backend, models, workloads, o, root, round === 1);
        // The matmul peak is measured every round; the best round counts (a busy machine only slows it).
        if ('skipped' in r) {
          skipped[backend] = r.skipped;
          workers.delete(backend);
        } else {
          workers.set(backend, workers.has(backend) ? mergeWorker(workers.get(backend)!, r) : r);
        }
      }
      if (o.trl && models.length) {
        if (trlWhy) {
          trl = { skipped: trlWhy };
        } else {
          load('trl', round);
          const r = await runTrlSide(models, workloads, o);
          trl = 'skipped' in r || 'skipped' in trl || round === 1 ? r : mergeTrl(trl, r);
        }
      }
    }
    return buildReport({ options: o, models, workloads, workers: [...workers.values()], skipped, trl, loads, notes });
  } finally {
    if (!o.workDir) fs.rmSync(root, { recursive: true, force: true });
  }
}

/** One worker process per model on `backend` (the workload's vocab may differ between models). */
async function runBackend(backend: BackendName, models: PreparedModel[], workloads: Map<string, Workload>, o: BenchOptions, root: string, firstRound: boolean): Promise<WorkerResult | { skipped: string }> {
  const cpu = backend === 'cpu';
  let merged: WorkerResult | null = null;
  for (const m of models.length ? models : [null]) {
    const job: WorkerJob = {
      backend, kinds: o.kinds, steps: cpu ? o.cpuSteps : o.steps, warmup: cpu ? o.cpuWarmup : o.warmup,
      matmulN: merged ? 0 : o.matmulN[backend] ?? 0, matmulReps: o.matmulReps,
      leakSteps: firstRound ? o.leakSteps ?? 0 : 0,
      models: m ? [{ name: m.name, dirs: m.dirs }] : [],
      workload: m ? workloads.get(m.name)! : makeWorkload({ vocab: 512 }),
    };
    try {
      const r = await runWorkerProcess(job, root, o.log);
      if (!merged) merged = r;
      else {
        merged.results.push(...r.results);
        merged.errors.push(...r.errors);
        if (r.leak) (merged.leak ??= []).push(...r.leak);
      }
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      if (!merged || !m) {
        o.log(`${backend}: skipped (${message})`);
        return { skipped: message };
      }
      // The backend works (an earlier model ran); only this model's process failed.
      merged.errors.push({ model: m.name, kind: 'setup', message });
      o.log(`${backend} ${m.name}: failed (${message})`);
    }
  }
  return merged!;
}

async function runTrlSide(models: PreparedModel[], workloads: Map<string, Workload>, o: BenchOptions): Promise<TrlResult | { skipped: string }> {
  const job: TrlJob = {
    models: models.map((m) => ({
      name: m.name, policy_dir: m.dirs.policy, reward_dir: m.dirs.reward, vocab: m.config.vocab_size,
      pad_id: m.specialIds.pad, bos_id: m.specialIds.bos, eos_id: m.specialIds.eos, pairs: pairIdsJson(workloads.get(m.name)!),
      sample_prompts: samplePromptIds(workloads.get(m.name)!),
    })),
    kinds: o.kinds, steps: o.steps, warmup: o.warmup, batch: o.batch,
    new_tokens: o.newTokens ?? 64, sample: SAMPLE_SETTINGS,
    lr: BENCH_HYPER.lr, max_grad_norm: BENCH_HYPER.maxGradNorm, beta: BENCH_HYPER.beta,
  };
  try {
    return await runTrl(o.python, job, o.log);
  } catch (e) {
    const skipped = e instanceof Error ? e.message : String(e);
    o.log(`TRL side failed: ${skipped}`);
    return { skipped };
  }
}

/** Appends round b's timed steps to round a's, per (model, kind); keeps the faster matmul. */
function mergeWorker(a: WorkerResult, b: WorkerResult): WorkerResult {
  for (const r of b.results) {
    const x = a.results.find((y) => y.model === r.model && y.kind === r.kind);
    if (x) {
      x.ms.push(...r.ms);
      x.tensor_growth = Math.max(x.tensor_growth, r.tensor_growth);
    } else a.results.push(r);
  }
  a.errors.push(...b.errors);
  if (b.leak) (a.leak ??= []).push(...b.leak);
  if (b.matmul && (!a.matmul || b.matmul.gflops > a.matmul.gflops)) a.matmul = b.matmul;
  return a;
}

function mergeTrl(a: TrlResult, b: TrlResult): TrlResult {
  for (const r of b.results) {
    const x = a.results.find((y) => y.model === r.model && y.kind === r.kind);
    if (x) x.ms.push(...r.ms);
    else a.results.push(r);
  }
  a.errors.push(...b.errors);
  return a;
}

/** worker-main.js from dist, or worker-main.ts through bench/run-ts.js from the sources. */
function workerCommand(): string[] {
  const ts = __filename.endsWith('.ts');
  const entry = path.join(__dirname, ts ? 'worker-main.ts' : 'worker-main.js');
  return ts ? [path.resolve(__dirname, '..', '..', 'bench', 'run-ts.js'), entry] : [entry];
}

function runWorkerProcess(job: WorkerJob, root: string, log: (line: string) => void): Promise<WorkerResult> {
  const jobFile = path.join(root, `job-${job.backend}-${process.pid}-${Date.now()}.json`);
  fs.writeFileSync(jobFile, JSON.stringify(job));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...workerCommand(), jobFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d: Buffer) => {
      err += d;
      for (const line of d.toString().split('\n')) if (line.startsWith('[bench')) log(line);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      fs.rmSync(jobFile, { force: true });
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !last) {
        const tail = err.trim().split('\n').filter((l) => !l.startsWith('[bench')).slice(-3).join(' | ');
        return reject(new Error(`the ${job.backend} worker ${signal ? `was killed by ${signal}` : `exited with ${code}`}: ${tail || 'no message'}`));
      }
      try {
        resolve(JSON.parse(last) as WorkerResult);
      } catch {
        reject(new Error(`the ${job.backend} worker printed no JSON result; its last line was: ${last.slice(0, 200)}`));
      }
    });
  });
}
