/**
 * `rlhf bench` as a library call: prepares the models (models.ts), runs one worker process per TF.js
 * backend, model and step kind (worker.ts) and the TRL/PyTorch script (trl.ts) once per model and step kind, on
 * the same folders and ids, one after the other (never two at once, so they do not compete for cores; a process
 * per step so each step's peak RSS is its own), and assembles the report (report.ts).
 *
 * Does: orchestration and process plumbing. Does NOT: time steps itself or format tables.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { oneDnnFromLog } from './build-info';
import { readCpuPeak } from './cpu-peak';
import { BenchReport, buildReport } from './report';
import { GRPO_BENCH, grpoPromptIds } from './grpo-step';
import { BENCH_HYPER, SAMPLE_SETTINGS, type StepKind } from './steps';
import { ModelUnavailable, prepareModel, type PreparedModel } from './models';
import { runTrl, trlUnavailable, type TrlJob, type TrlResult } from './trl';
import type { WorkerJob, WorkerResult } from './worker';
import { makeWorkload, pairIdsJson, samplePromptIds, type Workload } from './workload';
import { initBackend, type BackendName } from '../backend';
import { buildMklShim, withPreload } from './mkl-shim';
import type { BenchOptions } from './options';

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
    const workloads = new Map(models.map((m) => [m.name, makeWorkload({
      vocab: m.config.vocab_size, batch: o.batch, seqLen: o.seqLen, promptLen: o.promptLen, seed: o.seed, layout: o.layout, samplePrompts: o.samplePrompts, newTokens: o.newTokens,
    })]));
    const workers = new Map<BackendName, WorkerResult>();
    const loads: { side: string; round: number; load1: number }[] = [];
    const load = (side: string, round: number) => loads.push({ side, round, load1: +os.loadavg()[0].toFixed(2) });
    const skipped: Record<string, string> = {};
    let trl: TrlResult | { skipped: string } = { skipped: o.trl ? 'no model to run' : 'not requested (--no-trl)' };
    const trlWhy = o.trl && models.length ? trlUnavailable(o.python) : null;
    if (trlWhy) o.log(`TRL side skipped: ${trlWhy}`);
    // Built before anything is timed: asked for and not buildable is an error, not a silently stock TRL side.
    const trlEnv = o.trl && !trlWhy && o.torchMklIntelPath ? withPreload(process.env, buildMklShim(path.join(root, 'mkl-shim'))) : process.env;
    const sides = o.rounds * (o.backends.length + (o.trl && models.length && !trlWhy ? 1 : 0));
    let sidesDone = 0;
    o.onSide?.(0, sides);
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
        o.onSide?.(++sidesDone, sides);
      }
      if (o.trl && models.length) {
        if (trlWhy) {
          trl = { skipped: trlWhy };
        } else {
          load('trl', round);
          const r = await runTrlSide(models, workloads, o, trlEnv);
          trl = 'skipped' in r || 'skipped' in trl || round === 1 ? r : mergeTrl(trl, r);
          o.onSide?.(++sidesDone, sides);
        }
      }
    }
    return buildReport({ options: o, models, workloads, workers: [...workers.values()], skipped, trl, loads, notes, cpuPeak: readCpuPeak() });
  } finally {
    if (!o.workDir) fs.rmSync(root, { recursive: true, force: true });
  }
}

/**
 * One worker process per model and step kind on `backend`: each row's peak RSS is then that step's alone (a
 * process's high-water mark never comes down, so a second kind in the same process would inherit the first's).
 * The first process also measures the backend's matmul peak.
 */
async function runBackend(backend: BackendName, models: PreparedModel[], workloads: Map<string, Workload>, o: BenchOptions, root: string, firstRound: boolean): Promise<WorkerResult | { skipped: string }> {
  const cpu = backend === 'cpu';
  let merged: WorkerResult | null = null;
  const jobs = models.length ? models.flatMap((m) => o.kinds.map((kind) => ({ m, kind }))) : [{ m: null, kind: o.kinds[0] }];
  for (const { m, kind } of jobs) {
    const job: WorkerJob = {
      backend, kinds: m ? [kind] : [], steps: cpu ? o.cpuSteps : o.steps, warmup: cpu ? o.cpuWarmup : o.warmup,
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
      // The backend works (an earlier process ran); only this model and kind failed (e.g. out of memory).
      merged.errors.push({ model: m.name, kind, message });
      o.log(`${backend} ${m.name} ${kind}: failed (${message})`);
    }
  }
  return merged!;
}

/** bench/trl_bench.py once per model and step kind (a process each, as ours), torch's matmul in the first. */
async function runTrlSide(models: PreparedModel[], workloads: Map<string, Workload>, o: BenchOptions, env: NodeJS.ProcessEnv): Promise<TrlResult | { skipped: string }> {
  let merged: TrlResult | null = null;
  const failed: TrlResult['errors'] = [];
  for (const m of models) {
    for (const kind of o.kinds) {
      const job: TrlJob = {
        models: [{
          name: m.name, policy_dir: m.dirs.policy, reward_dir: m.dirs.reward, vocab: m.config.vocab_size,
          pad_id: m.specialIds.pad, bos_id: m.specialIds.bos, eos_id: m.specialIds.eos, pairs: pairIdsJson(workloads.get(m.name)!),
          sample_prompts: samplePromptIds(workloads.get(m.name)!), grpo_prompts: grpoPromptIds(workloads.get(m.name)!),
        }],
        kinds: [kind], steps: o.steps, warmup: o.warmup, batch: o.batch,
        new_tokens: o.newTokens ?? 64, sample: SAMPLE_SETTINGS,
        grpo: { num_generations: GRPO_BENCH.generations, beta: GRPO_BENCH.beta, loss_type: GRPO_BENCH.lossType, temperature: GRPO_BENCH.temperature,
          top_p: GRPO_BENCH.topP, top_k: GRPO_BENCH.topK, num_iterations: GRPO_BENCH.numIterations },
        lr: BENCH_HYPER.lr, max_grad_norm: BENCH_HYPER.maxGradNorm, beta: BENCH_HYPER.beta,
        // torch's matmul peak at the size and repetitions of the tensorflow side's, so the two peaks compare.
        matmul_n: merged ? 0 : o.matmulN.tensorflow || DEFAULT_MATMUL_N.tensorflow, matmul_reps: o.matmulReps,
      };
      try {
        const r = await runTrl(o.python, job, o.log, env);
        if (!merged) merged = r;
        else {
          merged.results.push(...r.results);
          merged.errors.push(...r.errors);
        }
      } catch (e) {
        // One model and kind failed (e.g. out of memory): the others still run; with none run, the side is skipped.
        const message = e instanceof Error ? e.message : String(e);
        o.log(`TRL side ${m.name} ${kind} failed: ${message}`);
        failed.push({ model: m.name, kind, message });
      }
    }
  }
  if (!merged) return { skipped: failed[0]?.message ?? 'no model to run' };
  merged.errors.push(...failed);
  return merged;
}

/** Appends round b's timed steps to round a's, per (model, kind); keeps the faster matmul. */
function mergeWorker(a: WorkerResult, b: WorkerResult): WorkerResult {
  for (const r of b.results) {
    const x = a.results.find((y) => y.model === r.model && y.kind === r.kind);
    if (x) {
      x.ms.push(...r.ms);
      x.tensor_growth = Math.max(x.tensor_growth, r.tensor_growth);
      x.peak_rss_mib = Math.max(x.peak_rss_mib, r.peak_rss_mib);
    } else a.results.push(r);
  }
  a.errors.push(...b.errors);
  if (b.leak) (a.leak ??= []).push(...b.leak);
  if (b.matmul && (!a.matmul || b.matmul.gflops > a.matmul.gflops)) a.matmul = b.matmul;
  return a;
}

/** As mergeWorker: timed steps appended, the faster torch matmul kept. */
function mergeTrl(a: TrlResult, b: TrlResult): TrlResult {
  for (const r of b.results) {
    const x = a.results.find((y) => y.model === r.model && y.kind === r.kind);
    if (x) {
      x.ms.push(...r.ms);
      if (r.peak_rss_mib !== undefined) x.peak_rss_mib = Math.max(x.peak_rss_mib ?? 0, r.peak_rss_mib);
    } else a.results.push(r);
  }
  a.errors.push(...b.errors);
  if (b.matmul && (!a.matmul || b.matmul.gflops > a.matmul.gflops)) {
    a.matmul = b.matmul;
    a.matmul_gflops = b.matmul.gflops;
  }
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
  // TensorFlow says whether it turned oneDNN on only in an INFO line at start-up: let the worker print it (to
  // this pipe, not the terminal) and read it below.
  const env = job.backend === 'tensorflow' ? { ...process.env, TF_CPP_MIN_LOG_LEVEL: '0' } : process.env;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...workerCommand(), jobFile], { stdio: ['ignore', 'pipe', 'pipe'], env });
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
      let r: WorkerResult;
      try {
        r = JSON.parse(last) as WorkerResult;
      } catch {
        return reject(new Error(`the ${job.backend} worker printed no JSON result; its last line was: ${last.slice(0, 200)}`));
      }
      if (r.build) {
        const d = oneDnnFromLog(err);
        r.build.onednn = d.onednn;
        r.build.onednn_evidence = d.evidence;
      }
      resolve(r);
    });
  });
}
