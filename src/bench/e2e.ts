/**
 * The end-to-end benchmark (bench/e2e.ts, `npm run bench:e2e`): the same training run in both toolkits from the
 * same files, timed as a user lives it, from process start to exit, data preparation, model loading, the
 * reference pass, evaluation and saving included:
 *   ours  `rlhf reward|dpo --model M --data TRAIN --eval-data EVAL ...` (the built CLI, bin/rlhf.js)
 *   TRL   bench/trl_e2e.py: RewardTrainer / DPOTrainer from the same JSONL, model folder and tokenizer
 * on (1) long-prompt data generated on demand by scripts/generate-long-prefs.js into a cache folder and (2) the
 * shipped data/prefs.jsonl, each with its held-out file; one epoch, batch 8, lr 5e-4 cosine, max_length 512,
 * over-long pairs dropped on both sides (TRL's reward-trainer rule), DPO sigmoid β 0.1 with precomputed reference
 * log-probs on both sides, seed 42. Paired (the default, `paired`): one seeded order of the train file, one copy of
 * the model as transformers writes it and one initial reward model for both sides, so that the accuracy columns
 * compare the toolkits rather than two random draws.
 *
 * Every process runs under bench/measure.py, which measures both sides alike: wall time from just before the
 * start to exit, CPU seconds and peak RSS from the kernel's wait4 accounting. Ours gets a fresh RLHF_CACHE_DIR
 * (no reference log-probs cached by an earlier run) and TRL a fresh HF_DATASETS_CACHE, so no run starts warm.
 * Phases: TRL's script reports its own (imports, read, init with its reference pass, train, eval, save); ours
 * come from summary.json: a `phases` / `phase_seconds` object when the stage writes one, else `wall_seconds`
 * (the training loop) and the rest of the process around it.
 * `rounds` repeats everything, alternating which side goes first; a row shows medians over rounds.
 * `seeds` repeats the whole comparison once per seed (its own order, start and head draws): one reward run's held-out
 * accuracy moves by several points with the data order alone, on both sides, so an accuracy comparison of
 * unpaired runs needs the mean over seeds; a row then gives the mean accuracy and loss, and a table each seed's.
 *
 * Does: orchestrate, measure, aggregate, format. Does NOT: train anything itself or decide what a target is.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { mean, sd } from '../compare/stats';
import { seededPermutation } from '../data/rng';
import { usableCpus } from './build-info';
import { buildMklShim, machineCpuVendor, mklPathNote, withPreload } from './mkl-shim';
import { median } from './stats';

export const E2E_FORMAT = 'rlhf-bench-e2e/v1';
export const E2E_DATASETS = ['long', 'shipped'] as const;
export const E2E_STAGES = ['reward', 'dpo'] as const;
export type E2eDataset = (typeof E2E_DATASETS)[number];
export type E2eStage = (typeof E2E_STAGES)[number];
export type E2eSide = 'ours' | 'trl';

/** The run both sides do (TRL's names). */
export interface E2eSettings {
  epochs: number;
  batch_size: number;
  learning_rate: number;
  lr_scheduler_type: 'cosine' | 'linear' | 'constant';
  warmup_steps: number;
  weight_decay: number;
  max_grad_norm: number;
  max_length: number;
  seed: number;
  logging_steps: number;
  beta: number;
  loss_type: 'sigmoid';
  precompute_ref_log_probs: boolean;
  /**
   * Both sides train from the same start in the same order, so that their accuracies differ by the toolkits and
   * not by two draws of randomness (one reward run's held-out accuracy moves by several points with the seed):
   * the train file is shuffled once (seeded) and read in file order on both sides; both start from one copy of the
   * model written by transformers (so one tokenizer.json that both read alike: transformers 5 rewrites the
   * folder's normalizer into a Metaspace pre-tokenizer that encodes a leading space with one token fewer), and the
   * reward stage from one initial reward model (transformers' score-head draw), read at the EOS token on both.
   * false: each side draws its own head and order from the seed, as a user of each would run it.
   */
  paired: boolean;
}

export const E2E_DEFAULTS: E2eSettings = {
  epochs: 1, batch_size: 8, learning_rate: 5e-4, lr_scheduler_type: 'cosine', warmup_steps: 0, weight_decay: 0, max_grad_norm: 1,
  max_length: 512, seed: 42, logging_steps: 10, beta: 0.1, loss_type: 'sigmoid', precompute_ref_log_probs: true, paired: true,
};

export interface E2eOptions {
  datasets: E2eDataset[];
  stages: E2eStage[];
  sides: E2eSide[];
  rounds: number;
  /** The seeds to repeat the comparison over (default: settings.seed alone); settings.seed is ignored when given. */
  seeds?: number[];
  /** Starting model: an HF folder (policy) with its tokenizer; both sides load it. */
  model: string;
  python: string;
  /** The command that runs our CLI, e.g. [node, bin/rlhf.js]. */
  rlhf: string[];
  /** Long-prompt data: generated into `dir` (reused when it matches). */
  long: { dir: string; train: number; eval: number; seed: number };
  /** The shipped data (or any train/eval pair of files). */
  shipped: { train: string; eval: string };
  settings: E2eSettings;
  /** Run folders go here (kept); default: a temporary folder, removed afterwards. */
  workDir?: string;
  /** --backend for our side (default: the CLI's own choice). */
  backend?: string;
  /** TRL's side runs with MKL on its Intel code path (mkl-shim.ts; for AMD CPUs). */
  torchMklIntelPath?: boolean;
  command?: string;
  log: (line: string) => void;
}

/** One process: what measure.py measured and what the side reported. */
export interface E2eRun {
  dataset: E2eDataset;
  stage: E2eStage;
  side: E2eSide;
  round: number;
  /** The run's seed (its settings' seed: order, head draw). */
  seed: number;
  command: string;
  exit_code: number | null;
  /** Start to exit, measured from outside (bench/measure.py). */
  wall_s: number;
  cpu_s: number;
  /** ru_maxrss of the process (wait4). */
  peak_rss_mib: number;
  eval_accuracy: number | null;
  /** The held-out loss (sharper than the accuracy for telling two runs apart). */
  eval_loss: number | null;
  records: { train: number; eval: number } | null;
  train_pairs: number | null;
  eval_pairs: number | null;
  steps: number | null;
  /** Real (non-pad) tokens trained in the run: every row of every kept pair. */
  tokens: number | null;
  phases: Record<string, number | null>;
  phases_from: string;
  /** The backend our side ran on / TRL's versions. */
  runtime: string;
  load1: number;
  error?: string;
}

export interface E2eSideRow {
  rounds: number;
  wall_s: number;
  cpu_s: number;
  peak_rss_mib: number;
  /** Mean over the seeds of each seed's median over its rounds (one seed: the median). */
  eval_accuracy: number | null;
  eval_loss: number | null;
  train_pairs: number | null;
  eval_pairs: number | null;
  tokens: number | null;
  /** Median of each phase over the rounds. */
  phases: Record<string, number | null>;
  phases_from: string;
}

export interface E2eRow {
  dataset: E2eDataset;
  stage: E2eStage;
  ours: E2eSideRow | null;
  trl: E2eSideRow | null;
  /** TRL's wall time over ours (medians): how many times faster the whole run is. */
  speedup: number | null;
  /** The same for CPU seconds (steadier than wall time on a shared machine). */
  cpu_speedup: number | null;
  /** (ours − TRL) eval accuracy in percentage points (means over the seeds). */
  accuracy_delta_points: number | null;
  /** One entry per seed: each side's held-out accuracy and loss (medians over that seed's rounds). */
  by_seed: E2eSeedResult[];
}

export interface E2eSeedResult {
  seed: number;
  ours: { eval_accuracy: number | null; eval_loss: number | null } | null;
  trl: { eval_accuracy: number | null; eval_loss: number | null } | null;
  accuracy_delta_points: number | null;
}

export interface E2eReport {
  format: typeof E2E_FORMAT;
  created: string;
  command: string | null;
  machine: { cpu_model: string; cpus: number; usable_cpus: number; node: string; platform: string };
  model: string;
  /** settings.seed: the first of `seeds`. */
  settings: E2eSettings;
  /** Every seed the comparison ran with, in order. */
  seeds: number[];
  /**
   * train: the file both sides read (paired: the shuffled copy of `source_train`, for the first seed;
   * `train_by_seed` names each seed's when there are several).
   */
  data: Record<E2eDataset, { train: string; eval: string; stats?: unknown; source_train?: string; train_by_seed?: Record<string, string> }>;
  /** Paired: the folders both sides start from (the policy copy for DPO, the initial reward model), for the first seed; each run's command names its own. */
  paired_start: PairedStart | null;
  runs: E2eRun[];
  rows: E2eRow[];
  /** 1-minute load average when each process started. */
  load_avg: { min: number; max: number } | null;
}

/** The repository root (src/bench or dist/bench alike). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** Our CLI's arguments for one run. e.g. reward -> ['reward', '--model', M, '--data', T, ...]. */
export function oursArgs(stage: E2eStage, s: E2eSettings, files: { model: string; train: string; eval: string; out: string }, backend?: string): string[] {
  const set = (k: string, v: unknown) => ['--set', `${stage}.${k}=${JSON.stringify(v)}`];
  return [
    stage, '--model', files.model, '--data', files.train, '--eval-data', files.eval, '--out', files.out, '--overwrite',
    '--epochs', String(s.epochs), '--batch-size', String(s.batch_size), '--lr', String(s.learning_rate), '--max-length', String(s.max_length),
    '--seed', String(s.seed),
    ...set('lr_scheduler_type', s.lr_scheduler_type), ...set('warmup_steps', s.warmup_steps), ...set('weight_decay', s.weight_decay),
    ...set('max_grad_norm', s.max_grad_norm), ...set('logging_steps', s.logging_steps),
    ...(s.paired ? set('shuffle', false) : []),
    // no separate prompt limit; a pair over max_length is dropped (as TRL's RewardTrainer does)
    ...set('max_prompt_length', null), ...set('truncation_mode', 'drop'),
    ...(stage === 'dpo' ? ['--beta', String(s.beta), '--loss-type', s.loss_type, ...set('precompute_ref_log_probs', s.precompute_ref_log_probs)] : []),
    ...(backend ? ['--backend', backend] : []),
  ];
}

/** TRL's job file for one run (bench/trl_e2e.py). */
export function trlJob(stage: E2eStage, s: E2eSettings, files: { model: string; train: string; eval: string; out: string }): Record<string, unknown> {
  return { stage, ...files, ...s };
}

/**
 * Our phases from a summary.json object: its `phases` (or `phase_seconds`) object of seconds when the stage
 * writes one, else the training loop (`wall_seconds`) and the rest of the process (total − loop).
 * e.g. ({wall_seconds: 3.5}, 5.7) -> {phases: {train_loop: 3.5, rest_of_process: 2.2}, from: '...'}.
 */
export function oursPhases(summary: Record<string, unknown>, totalS: number): { phases: Record<string, number | null>; from: string } {
  for (const key of ['phases', 'phase_seconds']) {
    const p = summary[key];
    if (p && typeof p === 'object' && !Array.isArray(p) && Object.values(p).every((v) => typeof v === 'number' || v === null)) {
      return { phases: p as Record<string, number | null>, from: `summary.json ${key}` };
    }
  }
  const loop = typeof summary.wall_seconds === 'number' ? summary.wall_seconds : null;
  return {
    phases: { train_loop: loop, rest_of_process: loop === null ? null : +(totalS - loop).toFixed(3) },
    from: 'summary.json wall_seconds (the training loop); the rest of the process is everything else (start-up, data, model, reference pass, eval, save)',
  };
}

/** The eval accuracy our summary reports for `stage` (TRL's metric names). */
export function oursAccuracy(stage: E2eStage, summary: { eval?: Record<string, number> | null }): number | null {
  const v = summary.eval?.[stage === 'reward' ? 'eval_accuracy' : 'eval_rewards/accuracies'];
  return typeof v === 'number' ? v : null;
}

/**
 * The train file in one seeded order, for paired runs: its lines shuffled (Fisher-Yates on mulberry32, the
 * recipe's own shuffle) into `out`. Only JSONL can be reordered by line. e.g. 3 records, seed 42 -> 3 lines.
 */
export function shuffledCopy(file: string, seed: number, out: string): string {
  if (!/\.jsonl$/i.test(file)) throw new Error(`${file}: paired runs reorder the train file by line, so it must be .jsonl; convert it or pass --no-paired`);
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim());
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, seededPermutation(lines.length, seed).map((i) => lines[i]).join('\n') + '\n');
  return out;
}

interface Measured {
  stdout: string;
  stderr: string;
  m: { wall_s: number; cpu_s: number; max_rss_mib: number; exit_code: number | null; signal: number | null } | null;
}

/** Runs `cmd` under bench/measure.py; its stdout is collected, stderr lines are passed to `log` with a prefix. */
function measured(python: string, cmd: string[], env: NodeJS.ProcessEnv, tag: string, log: (l: string) => void, tmp: string): Promise<Measured> {
  const result = path.join(tmp, `measure-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
  return new Promise((resolve, reject) => {
    const child = spawn(python, [path.join(REPO_ROOT, 'bench', 'measure.py'), result, '--', ...cmd], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
      for (const line of d.toString().split('\n')) if (/^(step |\[trl-e2e\]|== )/.test(line)) log(`[${tag}] ${line}`);
    });
    child.on('error', reject);
    child.on('close', () => {
      let m: Measured['m'] = null;
      try {
        m = JSON.parse(fs.readFileSync(result, 'utf8'));
        fs.rmSync(result, { force: true });
      } catch {
        // measure.py itself failed: m stays null and the caller reports stderr
      }
      resolve({ stdout, stderr, m });
    });
  });
}

const lastJson = (text: string): Record<string, unknown> | null => {
  const last = text.trim().split('\n').pop() ?? '';
  try {
    const v = JSON.parse(last);
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
};

const tail = (text: string, n = 3) => text.trim().split('\n').filter((l) => !/^(I0000|WARNING: All log)/.test(l)).slice(-n).join(' | ');

/** ", <which MKL path ran>" for TRL's runtime line, where that matters (mkl-shim.ts); '' elsewhere. */
function mklRuntime(shim: boolean | undefined, mkl: boolean): string {
  const note = mklPathNote(shim, mkl, machineCpuVendor());
  return note ? `, ${note}` : '';
}

/** One run of one side; failures come back as a run with `error` (the other runs still go ahead). */
async function runOne(o: E2eOptions, settings: E2eSettings, dataset: E2eDataset, stage: E2eStage, side: E2eSide, round: number, files: { train: string; eval: string }, root: string, start: PairedStart | null, mklShim: string | null): Promise<E2eRun> {
  const dir = path.join(root, `${dataset}-${stage}-${side}-r${round}`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const out = path.join(dir, 'out');
  // Fresh caches per run: nothing computed by an earlier run (reference log-probs, tokenised datasets) is reused.
  const cacheEnv = { ...process.env, RLHF_CACHE_DIR: path.join(dir, 'rlhf-cache'), HF_DATASETS_CACHE: path.join(dir, 'hf-datasets-cache') };
  const env = side === 'trl' && mklShim ? withPreload(cacheEnv, mklShim) : cacheEnv;
  const f = { model: (stage === 'reward' ? start?.reward : start?.policy) ?? o.model, train: files.train, eval: files.eval, out };
  let cmd: string[];
  if (side === 'ours') cmd = [...o.rlhf, ...oursArgs(stage, settings, f, o.backend)];
  else {
    const job = path.join(dir, 'trl-job.json');
    fs.writeFileSync(job, JSON.stringify(trlJob(stage, settings, f), null, 2));
    cmd = [o.python, path.join(REPO_ROOT, 'bench', 'trl_e2e.py'), job];
  }
  const load1 = +os.loadavg()[0].toFixed(2);
  o.log(`${dataset} ${stage} ${side} (seed ${settings.seed}, round ${round}): ${cmd.map((c) => (/\s/.test(c) ? JSON.stringify(c) : c)).join(' ')}`);
  const r = await measured(o.python, cmd, env, `${side} ${stage}`, o.log, dir);
  const base: E2eRun = {
    dataset, stage, side, round, seed: settings.seed, command: cmd.join(' '), exit_code: r.m?.exit_code ?? null, wall_s: r.m?.wall_s ?? NaN, cpu_s: r.m?.cpu_s ?? NaN,
    peak_rss_mib: r.m?.max_rss_mib ?? NaN, eval_accuracy: null, eval_loss: null, records: null, train_pairs: null, eval_pairs: null, steps: null, tokens: null,
    phases: {}, phases_from: '', runtime: '', load1,
  };
  const j = lastJson(r.stdout);
  if (!r.m || r.m.exit_code !== 0 || !j) {
    const why = !r.m ? `bench/measure.py failed: ${tail(r.stderr)}` : r.m.exit_code !== 0 ? `exited with ${r.m.exit_code ?? `signal ${r.m.signal}`}: ${tail(r.stderr)}` : 'printed no JSON result';
    o.log(`${dataset} ${stage} ${side}: FAILED (${why})`);
    return { ...base, error: why };
  }
  if (side === 'ours') {
    const s = j as { data?: { train_records: number; eval_records: number; train_examples: number; eval_examples: number }; steps?: number; tokens?: number; eval?: Record<string, number> | null; backend?: { name: string; version: string; threads: number } };
    const ph = oursPhases(j, base.wall_s);
    return {
      ...base, eval_accuracy: oursAccuracy(stage, s), eval_loss: typeof s.eval?.eval_loss === 'number' ? s.eval.eval_loss : null, records: s.data ? { train: s.data.train_records, eval: s.data.eval_records } : null,
      train_pairs: s.data?.train_examples ?? null, eval_pairs: s.data?.eval_examples ?? null, steps: s.steps ?? null, tokens: s.tokens ?? null,
      phases: ph.phases, phases_from: ph.from, runtime: s.backend ? `${s.backend.name} ${s.backend.version}, ${s.backend.threads} threads` : 'unknown',
    };
  }
  const t = j as { records: { train: number; eval: number }; train_pairs: number; eval_pairs: number; steps: number; tokens: number; eval_accuracy: number | null; eval_loss?: number | null; phases: Record<string, number | null>; versions: Record<string, string>; threads: number; mkl_shim?: boolean; mkl?: boolean };
  return {
    ...base, eval_accuracy: t.eval_accuracy, eval_loss: t.eval_loss ?? null, records: t.records, train_pairs: t.train_pairs, eval_pairs: t.eval_pairs, steps: t.steps, tokens: t.tokens,
    phases: t.phases, phases_from: 'bench/trl_e2e.py (its own clock)',
    runtime: `TRL ${t.versions.trl}, transformers ${t.versions.transformers}, torch ${t.versions.torch}, ${t.threads} threads${mklRuntime(t.mkl_shim, t.mkl === true)}`,
  };
}

export interface PairedStart {
  /** The model re-saved by transformers, with its tokenizer (DPO's policy and reference on both sides). */
  policy: string | null;
  /** The initial reward model (the same backbone plus a score head). */
  reward: string | null;
}

/** Runs a helper process to its end; rejects, naming `label` and the end of its stderr, unless it exits 0. */
function runToEnd(cmd: string, args: string[], label: string): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve({ stdout, stderr }) : reject(new Error(`${label} exited with ${code}: ${tail(stderr)}`))));
  });
}

/** Paired runs: the folders both sides start from, written by bench/trl_e2e.py --paired-start (not timed). */
async function pairedStart(o: E2eOptions, seed: number, out: string): Promise<PairedStart> {
  const args = [path.join(REPO_ROOT, 'bench', 'trl_e2e.py'), '--paired-start', o.model, out, String(seed), o.stages.join(',')];
  await runToEnd(o.python, args, `${o.python} ${args.join(' ')}`);
  o.log(`paired: starting folders in ${out}`);
  const has = (name: string) => (fs.existsSync(path.join(out, name, 'config.json')) ? path.join(out, name) : null);
  return { policy: has('policy'), reward: has('reward') };
}

/** Generates (or reuses) the long-prompt files; returns their paths and the generator's stats. */
async function longData(o: E2eOptions): Promise<{ train: string; eval: string; stats: unknown }> {
  const script = path.join(REPO_ROOT, 'scripts', 'generate-long-prefs.js');
  const args = [script, '--out', o.long.dir, '--train', String(o.long.train), '--eval', String(o.long.eval), '--seed', String(o.long.seed)];
  const { stdout, stderr } = await runToEnd(process.execPath, args, script);
  o.log(stderr.trim());
  return { train: path.join(o.long.dir, 'train.jsonl'), eval: path.join(o.long.dir, 'eval.jsonl'), stats: JSON.parse(stdout.trim().split('\n').pop()!) };
}

export async function runE2e(o: E2eOptions): Promise<E2eReport> {
  const root = o.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-e2e-'));
  fs.mkdirSync(root, { recursive: true });
  try {
    const data = {} as E2eReport['data'];
    if (o.datasets.includes('long')) data.long = await longData(o);
    if (o.datasets.includes('shipped')) data.shipped = { ...o.shipped };
    const seeds = e2eSeeds(o);
    const runs: E2eRun[] = [];
    // Built before anything runs: asked for and not buildable is an error, not a silently stock TRL side.
    const mklShim = o.sides.includes('trl') && o.torchMklIntelPath ? buildMklShim(path.join(root, 'mkl-shim')) : null;
    let firstStart: PairedStart | null = null;
    for (const [k, seed] of seeds.entries()) {
      const settings = { ...o.settings, seed };
      // One seed keeps the layout of a single comparison; several get a folder each.
      const seedRoot = seeds.length > 1 ? path.join(root, `seed-${seed}`) : root;
      const files = { ...data };
      let start: PairedStart | null = null;
      if (settings.paired) {
        for (const d of o.datasets) {
          const source = data[d].source_train ?? data[d].train;
          files[d] = { ...data[d], train: shuffledCopy(source, seed, path.join(seedRoot, `${d}-train-order`, 'train.jsonl')) };
          if (seed === seeds[0]) data[d] = { ...data[d], source_train: source, train: files[d].train };
          if (seeds.length > 1) data[d] = { ...data[d], train_by_seed: { ...data[d].train_by_seed, [seed]: files[d].train } };
        }
        start = await pairedStart(o, seed, path.join(seedRoot, 'paired-start'));
        if (seed === seeds[0]) firstStart = start;
      }
      for (let round = 1; round <= o.rounds; round++) {
        for (const dataset of o.datasets) {
          for (const stage of o.stages) {
            for (const side of sideOrder(o.sides, k * o.rounds + round)) runs.push(await runOne(o, settings, dataset, stage, side, round, files[dataset], seedRoot, start, mklShim));
          }
        }
      }
    }
    return buildE2eReport({ ...o, seeds }, data, runs, firstStart);
  } finally {
    if (!o.workDir) fs.rmSync(root, { recursive: true, force: true });
  }
}

/**
 * Which side goes first in the `turn`-th round of the whole benchmark (1-based, counted over every seed's rounds):
 * alternating, so that a drift in the machine's load does not always favour one, with one round per seed too.
 * e.g. (['ours', 'trl'], 1) -> ours first; (['ours', 'trl'], 2) -> trl first.
 */
export function sideOrder(sides: E2eSide[], turn: number): E2eSide[] {
  return turn % 2 === 1 ? sides : [...sides].reverse();
}

/** The seeds a comparison runs over: `seeds` when given (integers, no repeats), else settings.seed. */
export function e2eSeeds(o: Pick<E2eOptions, 'seeds' | 'settings'>): number[] {
  const seeds = o.seeds ?? [o.settings.seed];
  if (!seeds.length || seeds.some((x) => !Number.isInteger(x) || x < 0) || new Set(seeds).size !== seeds.length) {
    throw new Error(`seeds ${seeds.join(',') || '(none)'}: expected distinct integers >= 0`);
  }
  return seeds;
}

const finite = (xs: (number | null)[]) => xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
const medianOr = (xs: (number | null)[]): number | null => {
  const v = finite(xs);
  return v.length ? median(v) : null;
};
const meanOr = (xs: (number | null)[]): number | null => {
  const v = finite(xs);
  return v.length ? mean(v) : null;
};
const seedsOf = (runs: E2eRun[]) => [...new Set(runs.map((r) => r.seed))];

/**
 * One side's figures over its successful runs (null when none succeeded): times, RSS and phases over every run
 * (medians; the peak RSS its maximum); accuracy and loss as the mean over the seeds of each seed's median over
 * its rounds, so that a seed with more rounds does not weigh more.
 */
export function sideRow(runs: E2eRun[]): E2eSideRow | null {
  const ok = runs.filter((r) => !r.error);
  if (!ok.length) return null;
  const names = [...new Set(ok.flatMap((r) => Object.keys(r.phases)))];
  const overSeeds = (of: (r: E2eRun) => number | null) => meanOr(seedsOf(ok).map((seed) => medianOr(ok.filter((r) => r.seed === seed).map(of))));
  return {
    rounds: ok.length,
    wall_s: medianOr(ok.map((r) => r.wall_s))!,
    cpu_s: medianOr(ok.map((r) => r.cpu_s))!,
    peak_rss_mib: Math.max(...ok.map((r) => r.peak_rss_mib)),
    eval_accuracy: overSeeds((r) => r.eval_accuracy),
    eval_loss: overSeeds((r) => r.eval_loss),
    train_pairs: ok[0].train_pairs,
    eval_pairs: ok[0].eval_pairs,
    tokens: ok[0].tokens,
    phases: Object.fromEntries(names.map((n) => [n, medianOr(ok.map((r) => r.phases[n] ?? null))])),
    phases_from: ok[0].phases_from,
  };
}

const deltaPoints = (a: number | null | undefined, b: number | null | undefined) => (a != null && b != null ? +((a - b) * 100).toFixed(1) : null);

export function buildE2eReport(o: Pick<E2eOptions, 'model' | 'settings' | 'command' | 'datasets' | 'stages' | 'seeds'>, data: E2eReport['data'], runs: E2eRun[], pairedStartFolders: PairedStart | null = null): E2eReport {
  const seeds = e2eSeeds(o);
  const rows: E2eRow[] = [];
  for (const dataset of o.datasets) {
    for (const stage of o.stages) {
      const mine = runs.filter((r) => r.dataset === dataset && r.stage === stage);
      const of = (side: E2eSide, seed?: number) => sideRow(mine.filter((r) => r.side === side && (seed === undefined || r.seed === seed)));
      const ours = of('ours');
      const trl = of('trl');
      const ratio = (a?: number, b?: number) => (a && b ? +(a / b).toFixed(2) : null);
      const bySeed = seeds.map((seed): E2eSeedResult => {
        const pick = (x: E2eSideRow | null) => (x ? { eval_accuracy: x.eval_accuracy, eval_loss: x.eval_loss } : null);
        const [so, st] = [pick(of('ours', seed)), pick(of('trl', seed))];
        return { seed, ours: so, trl: st, accuracy_delta_points: deltaPoints(so?.eval_accuracy, st?.eval_accuracy) };
      });
      rows.push({
        dataset, stage, ours, trl, speedup: ratio(trl?.wall_s, ours?.wall_s), cpu_speedup: ratio(trl?.cpu_s, ours?.cpu_s),
        accuracy_delta_points: deltaPoints(ours?.eval_accuracy, trl?.eval_accuracy), by_seed: bySeed,
      });
    }
  }
  const loads = runs.map((r) => r.load1);
  return {
    format: E2E_FORMAT,
    created: new Date().toISOString(),
    command: o.command ?? null,
    machine: { cpu_model: os.cpus()[0]?.model ?? 'unknown', cpus: os.cpus().length, usable_cpus: usableCpus(), node: process.version, platform: `${process.platform}-${process.arch}` },
    model: o.model,
    settings: { ...o.settings, seed: seeds[0] },
    seeds,
    data,
    paired_start: pairedStartFolders,
    runs,
    rows,
    load_avg: loads.length ? { min: Math.min(...loads), max: Math.max(...loads) } : null,
  };
}

const DATA_LABEL: Record<E2eDataset, string> = { long: 'long-prompt (generated)', shipped: 'shipped (data/prefs.jsonl)' };
const s1 = (x: number | null | undefined) => (x == null ? '—' : x.toFixed(1));
const acc = (x: number | null | undefined) => (x == null ? '—' : `${(x * 100).toFixed(1)}%`);
const int = (x: number | null | undefined) => (x == null ? '—' : Math.round(x).toLocaleString('en-US'));
const x2 = (x: number | null) => (x == null ? '—' : `${x.toFixed(2)}x`);
const loss = (x: number | null | undefined) => (x == null ? '—' : x.toFixed(4));
/** Percentage points with their sign: +1.5, -7.0, — for none. */
const signed = (x: number | null) => (x == null ? '—' : `${x >= 0 ? '+' : ''}${x.toFixed(1)}`);
const PAIRED_TEXT =
  'Paired: the train file shuffled once (seeded) and read in that order on both sides; both start from one copy of the model written by transformers (one tokenizer.json, read alike), the reward stage from one initial reward model (transformers\' score-head draw), with the reward read at EOS on both.';
const UNPAIRED_TEXT = 'Unpaired: each side draws its own data order (and reward head) from the seed.';

/**
 * Held-out accuracy seed by seed, then per data set and stage how often each side came out ahead and the spread
 * of the per-seed differences (a single seed's difference is mostly the draw when it is of the order of that spread).
 */
function seedTable(rows: E2eRow[]): string[] {
  const out = ['Held-out accuracy by seed:', '', '| data | stage | seed | eval acc ours | eval acc TRL | Δ acc (points) | eval loss (ours / TRL) |', '|---|---|---|---|---|---|---|'];
  for (const row of rows) {
    for (const b of row.by_seed) out.push(`| ${DATA_LABEL[row.dataset]} | ${row.stage} | ${b.seed} | ${acc(b.ours?.eval_accuracy)} | ${acc(b.trl?.eval_accuracy)} | ${signed(b.accuracy_delta_points)} | ${loss(b.ours?.eval_loss)} / ${loss(b.trl?.eval_loss)} |`);
  }
  out.push('');
  for (const row of rows) {
    const d = finite(row.by_seed.map((b) => b.accuracy_delta_points));
    if (d.length < 2) continue;
    const [m, s] = [mean(d), sd(d)];
    out.push(`- ${row.dataset} ${row.stage}: ours ahead on ${d.filter((x) => x > 0).length}, TRL on ${d.filter((x) => x < 0).length}, level on ${d.filter((x) => x === 0).length} of ${d.length} seeds; Δ mean ${signed(+m.toFixed(1))} points, standard deviation over seeds ${s.toFixed(1)}, standard error of the mean ${(s / Math.sqrt(d.length)).toFixed(1)}.`);
  }
  return out;
}

/** "train_loop 3.5, rest_of_process 2.2" (seconds, medians). */
function phaseText(p: Record<string, number | null>): string {
  return Object.entries(p).filter(([, v]) => v != null).map(([k, v]) => `${k} ${v!.toFixed(1)}`).join(', ');
}

/**
 * The table to paste into README.md beside the step table: dated, with the command, the machine, the settings,
 * a row per data set and stage, then each row's phases and the runtimes.
 */
export function e2eMarkdown(r: E2eReport): string {
  const s = r.settings;
  const seeds = r.seeds ?? [s.seed];
  const lines = [
    `Measured ${r.created.slice(0, 10)}${r.command ? ` with \`${r.command}\`` : ''}${r.load_avg ? `; 1-minute load average ${r.load_avg.min.toFixed(1)}–${r.load_avg.max.toFixed(1)} when the processes started` : ''}.`,
    `Machine: ${r.machine.cpu_model}, ${r.machine.usable_cpus} of ${r.machine.cpus} cores usable; node ${r.machine.node}. Model: ${r.model}. One epoch, batch ${s.batch_size}, lr ${s.learning_rate} ${s.lr_scheduler_type}, warmup ${s.warmup_steps}, max_length ${s.max_length} (longer pairs dropped on both sides), DPO ${s.loss_type} β ${s.beta} with ${s.precompute_ref_log_probs ? 'precomputed' : 'live'} reference log-probs, ${seeds.length > 1 ? `seeds ${seeds.join(', ')} (the whole comparison once per seed)` : `seed ${s.seed}`}. ${s.paired ? PAIRED_TEXT : UNPAIRED_TEXT} Whole process, start to exit (data preparation, model loading, reference pass, training, eval, save), measured from outside by bench/measure.py; peak RSS from wait4.`,
    '',
    '| data | stage | pairs kept (ours / TRL) | tokens (ours / TRL) | ours s | TRL s | TRL / ours | CPU s (ours / TRL) | eval acc ours | eval acc TRL | Δ acc (points) | eval loss (ours / TRL) | peak RSS MiB (ours / TRL) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const row of r.rows) {
    const o = row.ours;
    const t = row.trl;
    const kept = (x: E2eSideRow | null) => (x ? `${int(x.train_pairs)}+${int(x.eval_pairs)}` : '—');
    lines.push(`| ${DATA_LABEL[row.dataset]} | ${row.stage} | ${kept(o)} / ${kept(t)} | ${int(o?.tokens)} / ${int(t?.tokens)} | ${s1(o?.wall_s)} | ${s1(t?.wall_s)} | ${x2(row.speedup)} | ${s1(o?.cpu_s)} / ${s1(t?.cpu_s)} | ${acc(o?.eval_accuracy)} | ${acc(t?.eval_accuracy)} | ${signed(row.accuracy_delta_points)} | ${loss(o?.eval_loss)} / ${loss(t?.eval_loss)} | ${int(o?.peak_rss_mib)} / ${int(t?.peak_rss_mib)} |`);
  }
  lines.push('', `Pairs kept: train + eval after the max_length filter. Tokens: real tokens trained in the epoch (every row of every kept pair). Times are medians over the ${seeds.length > 1 ? 'runs of every seed' : 'rounds'}; TRL / ours > 1 means ours finished first.${seeds.length > 1 ? ` Accuracy and loss: means over the ${seeds.length} seeds (pairs kept and tokens: the first seed's).` : ''}`);
  if (seeds.length > 1) lines.push('', ...seedTable(r.rows));
  lines.push('', 'Phases (seconds, medians):');
  for (const row of r.rows) {
    if (row.ours) lines.push(`- ${row.dataset} ${row.stage}, ours: ${phaseText(row.ours.phases) || '—'}`);
    if (row.trl) lines.push(`- ${row.dataset} ${row.stage}, TRL: ${phaseText(row.trl.phases) || '—'}`);
  }
  const from = [...new Set(r.rows.flatMap((x) => (x.ours ? [x.ours.phases_from] : [])))];
  if (from.length) lines.push('', `Our phases from ${from.join('; ')}. TRL's from bench/trl_e2e.py's own clock (total_in_process: from its first line to the JSON answer; the rest of its wall time is the interpreter's start and exit).`);
  const runtimes = [...new Set(r.runs.filter((x) => x.runtime).map((x) => `${x.side === 'ours' ? 'ours' : 'TRL'}: ${x.runtime}`))];
  if (runtimes.length) lines.push('', `Runtimes: ${runtimes.join('; ')}.`);
  const ls = r.data.long?.stats as { train?: { prompt_chars?: Record<string, number>; completion_chars?: Record<string, number> } } | undefined;
  if (ls?.train?.prompt_chars) {
    const p = ls.train.prompt_chars;
    const c = ls.train.completion_chars!;
    lines.push('', `Long-prompt data (scripts/generate-long-prefs.js): prompt characters p10 ${p.p10}, median ${p.p50}, p90 ${p.p90}, max ${p.max}; completion characters p10 ${c.p10}, median ${c.p50}, p90 ${c.p90}.`);
  }
  for (const x of r.runs.filter((y) => y.error)) lines.push('', `Failed: ${x.dataset} ${x.stage} ${x.side}${seeds.length > 1 ? ` seed ${x.seed}` : ''} round ${x.round}: ${x.error}`);
  return lines.join('\n') + '\n';
}
