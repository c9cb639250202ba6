/**
 * The benchmark's result: one JSON object (for tracking) and a markdown table (for the README).
 * Throughput: tokens/s = tokens per step / median step time (all rows are full length: no padding);
 * steps/s = 1 / median step time. MFU = the step's model FLOPs (flops.ts) per second divided by the
 * same side's measured large-matmul GFLOP/s (a TF.js backend's by matmul.ts, TRL's by torch in
 * bench/trl_bench.py at the tensorflow side's size and threads), so it says how close a step gets to that
 * side's own best dense product; each row records the peak it used. MFU against the hardware (mfu_hw) divides
 * the same FLOPs by the CPU's theoretical float32 peak (cpu-peak.ts: cores × FMA units × lanes × 2 × clock, its
 * sources and assumptions recorded), so a reader sees how close both sides are to the machine.
 * Beside the figures: each side's threads and BLAS / oneDNN build (build-info.ts), the ratio of the two
 * matmul peaks, so a reader can see when one side's BLAS is simply faster, and each step's peak RSS (its own
 * process's high-water mark on either side, rss.ts).
 *
 * Does: arithmetic and formatting. Does NOT: run anything.
 */
import * as os from 'os';
import type { LlamaConfig } from '../model/families/llama';
import { torchBuild, usableCpus, type TorchBuild } from './build-info';
import { cpuPeakLine, type CpuPeak } from './cpu-peak';
import { forwardFlopsPerToken, trainFlopsPerToken } from './flops';
import type { PreparedModel } from './models';
import type { BenchOptions } from './options';
import { machineCpuVendor, mklPathNote, type CpuVendor } from './mkl-shim';
import { median, spread } from './stats';
import { GRPO_BENCH } from './grpo-step';
import { BENCH_HYPER, type StepKind } from './steps';
import type { TrlResult } from './trl';
import type { NativeBuild, WorkerResult } from './worker';
import type { PairLayout, Workload } from './workload';

export const BENCH_FORMAT = 'rlhf-bench/v1';

export interface BenchRow {
  model: string;
  kind: StepKind;
  /** tensorflow | wasm | cpu | trl */
  backend: string;
  tokens_per_step: number;
  median_ms: number;
  ms: number[];
  /** (max − min) / median of the timed steps. */
  spread: number;
  /** The fastest timed step: the least disturbed by other load on a shared machine. */
  best_ms: number;
  tokens_per_s: number;
  steps_per_s: number;
  achieved_gflops: number;
  /** achieved / peak_gflops (null without a matmul measurement). */
  mfu: number | null;
  /** The peak MFU divides by: this side's own measured matmul (a TF.js backend's, or torch's for TRL). */
  peak_gflops: number | null;
  /** achieved / the CPU's theoretical float32 peak (machine.cpu_peak; null where it could not be computed). */
  mfu_hw: number | null;
  tensor_growth?: number;
  /** Peak RSS of the process that ran this step (MiB; the highest over rounds) and how it was read. */
  peak_rss_mib?: number;
  rss_source?: string;
  /** Sampling kinds: the decoder that ran (native or tfjs). */
  decoder?: string;
}

/** The TRL side as the report keeps it: versions, threads, torch's build and matmul peak. */
export interface TrlSide {
  versions: Record<string, string>;
  /** torch's intra-op threads. */
  threads: number;
  interop_threads?: number;
  /** CPUs the Python process may use (bench/cpus.py); torch's pools are set to it. */
  usable_cpus?: number;
  /** The summary fields, and torch.__config__.show() / parallel_info() verbatim. */
  build?: TorchBuild & { config: string; parallel: string };
  matmul_n?: number;
  matmul_gflops?: number;
  matmul_median_gflops?: number;
  matmul_ms?: number[];
  /** MKL ran on its Intel code path through the preloaded shim (--torch-mkl-intel-path, mkl-shim.ts). */
  mkl_shim?: boolean;
}

export interface BenchReport {
  format: typeof BENCH_FORMAT;
  created: string;
  /** The command line that produced it (null when called as a library). */
  command: string | null;
  /** cpus: the host's; usable_cpus: this process's affinity capped by the cgroup quota (build-info.ts). */
  machine: { cpus: number; usable_cpus: number; cpu_model: string; cpu_vendor: CpuVendor; node: string; platform: string; cpu_peak: CpuPeak | null };
  /** layout: how our pair steps read the pairs (workload.ts); TRL's side pads them into 2B rows. */
  settings: { batch: number; seq_len: number; prompt_len: number; layout: PairLayout; sample_prompts: number; new_tokens: number; steps: number; warmup: number; cpu_steps: number; cpu_warmup: number; lr: number; max_grad_norm: number; beta: number };
  models: Record<string, { params: number; source: string; train_gflop_per_step: Partial<Record<StepKind, number>> }>;
  /** build: tensorflow's thread pools and oneDNN state (worker.ts NativeBuild). */
  backends: Record<string, { version: string; threads: number; build?: NativeBuild; matmul_n: number | null; matmul_gflops: number | null; matmul_median_gflops: number | null; matmul_ms: number[] | null }>;
  skipped_backends: Record<string, string>;
  trl: TrlSide | { skipped: string };
  /** Each TF.js backend's matmul peak over torch's (same size for tensorflow): above 1, its BLAS is faster. */
  matmul_over_torch: Record<string, number>;
  /** tokens_per_s[model][kind][backend | 'trl'] */
  tokens_per_s: Record<string, Partial<Record<StepKind, Record<string, number>>>>;
  results: BenchRow[];
  /** ours / TRL tokens/s per model, kind and TF.js backend (wasm's too: its ratio to TRL is what the report shows). */
  ratios: { model: string; kind: StepKind; backend: string; ours_over_trl: number; best_over_best: number }[];
  /** numTensors and RSS over a long DPO run per backend and model (--leak-steps). */
  leak_check: { backend: string; model: string; steps: number; every: number; num_tensors: number[]; rss_mib: number[]; tensor_growth: number; rss_growth_mib: number }[];
  errors: { side: string; model: string; kind: string; message: string }[];
  /** 1-minute load average when each side started, per round: how busy the shared machine was. */
  load_avg: { side: string; round: number; load1: number }[];
  notes: string[];
}

/** The steps that read preference pairs, packed with each prompt once under `--layout packed`. */
const PAIR_KINDS: ReadonlySet<string> = new Set(['dpo', 'reward', 'score']);

/** Model FLOPs of one step of `kind` per token (see flops.ts). */
export function stepFlopsPerToken(c: LlamaConfig, T: number, kind: StepKind): number {
  if (kind === 'sample' || kind === 'greedy') return forwardFlopsPerToken(c, T, 'lm'); // per new token, prompts not counted
  if (kind === 'reward') return trainFlopsPerToken(c, T, 'score');
  if (kind === 'score') return forwardFlopsPerToken(c, T, 'score') + 2 * forwardFlopsPerToken(c, T, 'lm');
  // Per completion token (prompts not counted): sampling, reward model, reference, then the training pass.
  if (kind === 'grpo') return 2 * forwardFlopsPerToken(c, T, 'lm') + forwardFlopsPerToken(c, T, 'score') + trainFlopsPerToken(c, T, 'lm');
  return trainFlopsPerToken(c, T, 'lm');
}

const round = (x: number, d = 0) => +x.toFixed(d);

/** What run.ts gathered from the workers and the TRL side, for buildReport. */
export interface BenchInputs {
  options: BenchOptions;
  models: PreparedModel[];
  workloads: Map<string, Workload>;
  workers: WorkerResult[];
  skipped: Record<string, string>;
  trl: TrlResult | { skipped: string };
  loads: { side: string; round: number; load1: number }[];
  notes: string[];
  /** The CPU's theoretical peak (run.ts reads it with readCpuPeak); null or absent: not computed. */
  cpuPeak?: CpuPeak | null;
  /** The CPU's vendor (default: read from /proc/cpuinfo), for the MKL note (mkl-shim.ts). */
  cpuVendor?: CpuVendor;
}

/** The workload's prompt and sampling sizes, and the context length FLOPs are counted at for each kind. */
function workloadShape(a: BenchInputs): { promptLen: number; layout: PairLayout; samplePrompts: number; newTokens: number; lengthOf: (kind: StepKind) => number } {
  const first = a.workloads.values().next().value as Workload | undefined;
  const promptLen = first?.promptLen ?? a.options.promptLen ?? Math.floor(a.options.seqLen / 4);
  const layout = first?.layout ?? a.options.layout ?? 'packed';
  const samplePrompts = first?.samplePrompts ?? 16;
  const newTokens = first?.newTokens ?? 64;
  // The sequence, or a sampled row's last position.
  const lengthOf = (kind: StepKind) => (kind === 'sample' || kind === 'greedy' || kind === 'grpo' ? promptLen + newTokens : a.options.seqLen);
  return { promptLen, layout, samplePrompts, newTokens, lengthOf };
}

/**
 * One row per (model, step kind, side) timed: medians, throughput, achieved GFLOP/s, MFU against the side's own
 * matmul peak and against the CPU's theoretical peak, and the step process's peak RSS.
 */
function resultRows(a: BenchInputs): { results: BenchRow[]; errors: BenchReport['errors'] } {
  const o = a.options;
  const byName = new Map(a.models.map((m) => [m.name, m]));
  const peak = new Map(a.workers.map((w) => [w.backend, w.matmul?.gflops ?? null]));
  const hw = a.cpuPeak?.gflops ?? null;
  const { lengthOf } = workloadShape(a);
  const row = (model: string, kind: StepKind, backend: string, tokens: number, ms: number[], extra: { growth?: number; rss?: number; rssSource?: string; decoder?: string } = {}): BenchRow => {
    const med = median(ms);
    const m = byName.get(model)!;
    const gflops = (stepFlopsPerToken(m.config, lengthOf(kind), kind) * tokens) / (med / 1000) / 1e9;
    // Each side against its own peak: TRL's steps against torch's matmul, a backend's against its own.
    const p = backend === 'trl' ? ('skipped' in a.trl ? null : a.trl.matmul?.gflops ?? a.trl.matmul_gflops ?? null) : peak.get(backend) ?? null;
    return {
      model, kind, backend, tokens_per_step: tokens, median_ms: round(med, 1), ms, spread: round(spread(ms), 3), best_ms: Math.min(...ms),
      tokens_per_s: round(tokens / (med / 1000)), steps_per_s: round(1000 / med, 3), achieved_gflops: round(gflops, 1),
      mfu: p ? round(gflops / p, 3) : null, peak_gflops: p, mfu_hw: hw ? round(gflops / hw, 3) : null,
      ...(extra.growth === undefined ? {} : { tensor_growth: extra.growth }),
      ...(extra.rss === undefined ? {} : { peak_rss_mib: extra.rss, rss_source: extra.rssSource }),
      ...(extra.decoder ? { decoder: extra.decoder } : {}),
    };
  };
  const results: BenchRow[] = [];
  const errors: BenchReport['errors'] = [];
  for (const w of a.workers) {
    for (const r of w.results) results.push(row(r.model, r.kind, w.backend, r.tokens, r.ms, { growth: r.tensor_growth, rss: r.peak_rss_mib, rssSource: r.rss_source, decoder: r.decoder }));
    for (const e of w.errors) errors.push({ side: w.backend, ...e });
  }
  if (!('skipped' in a.trl)) {
    for (const r of a.trl.results) results.push(row(r.model, r.kind, 'trl', r.tokens, r.ms, { rss: r.peak_rss_mib, rssSource: r.rss_source }));
    for (const e of a.trl.errors) errors.push({ side: 'trl', ...e });
  }
  return { results, errors };
}

/** tokens/s by model, kind and side; each side over TRL (medians, and best step over best step; wasm's too). */
function ratiosOf(results: BenchRow[]): Pick<BenchReport, 'tokens_per_s' | 'ratios'> {
  const tps: BenchReport['tokens_per_s'] = {};
  for (const r of results) ((tps[r.model] ??= {})[r.kind] ??= {})[r.backend] = r.tokens_per_s;
  const ratios: BenchReport['ratios'] = [];
  for (const [model, kinds] of Object.entries(tps)) {
    for (const [kind, b] of Object.entries(kinds) as [StepKind, Record<string, number>][]) {
      for (const backend of Object.keys(b)) {
        if (backend === 'trl' || !b.trl) continue;
        const at = (bk: string) => results.find((x) => x.model === model && x.kind === kind && x.backend === bk)!;
        // From the step times, not the rounded tokens/s (a 135M model runs a few hundred tokens a second).
        const speed = (x: BenchRow) => x.tokens_per_step / x.median_ms;
        ratios.push({ model, kind, backend, ours_over_trl: round(speed(at(backend)) / speed(at('trl')), 2), best_over_best: round(at('trl').best_ms / at(backend).best_ms, 2) });
      }
    }
  }
  return { tokens_per_s: tps, ratios };
}

export function buildReport(a: BenchInputs): BenchReport {
  const o = a.options;
  const { results, errors } = resultRows(a);
  const { tokens_per_s, ratios } = ratiosOf(results);
  const shape = workloadShape(a);
  const trl = trlSide(a.trl);
  const torchPeak = 'skipped' in trl ? undefined : trl.matmul_gflops;
  return {
    format: BENCH_FORMAT,
    created: new Date().toISOString(),
    command: o.command ?? null,
    machine: {
      cpus: os.cpus().length, usable_cpus: usableCpus(), cpu_model: os.cpus()[0]?.model ?? 'unknown', cpu_vendor: a.cpuVendor ?? machineCpuVendor(), node: process.version,
      platform: `${process.platform}-${process.arch}`, cpu_peak: a.cpuPeak ?? null,
    },
    settings: {
      batch: o.batch, seq_len: o.seqLen, prompt_len: shape.promptLen, layout: shape.layout,
      sample_prompts: shape.samplePrompts, new_tokens: shape.newTokens, steps: o.steps, warmup: o.warmup,
      cpu_steps: o.cpuSteps, cpu_warmup: o.cpuWarmup, lr: BENCH_HYPER.lr, max_grad_norm: BENCH_HYPER.maxGradNorm, beta: BENCH_HYPER.beta,
    },
    models: Object.fromEntries(a.models.map((m) => [m.name, {
      params: m.params, source: m.source,
      train_gflop_per_step: Object.fromEntries(o.kinds.map((k) => {
        const tokens = k === 'sample' || k === 'greedy' ? shape.samplePrompts * shape.newTokens
          : k === 'grpo' ? GRPO_BENCH.prompts * GRPO_BENCH.generations * shape.newTokens : (k === 'sft' ? 1 : 2) * o.batch * o.seqLen;
        return [k, round((stepFlopsPerToken(m.config, shape.lengthOf(k), k) * tokens) / 1e9, 2)];
      })),
    }])),
    backends: Object.fromEntries(a.workers.map((w) => [w.backend, {
      version: w.version, threads: w.threads, ...(w.build ? { build: w.build } : {}), matmul_n: w.matmul?.n ?? null,
      matmul_gflops: w.matmul?.gflops ?? null, matmul_median_gflops: w.matmul?.median_gflops ?? null, matmul_ms: w.matmul?.ms ?? null,
    }])),
    skipped_backends: a.skipped,
    trl,
    matmul_over_torch: Object.fromEntries(torchPeak ? a.workers.filter((w) => w.matmul).map((w) => [w.backend, round(w.matmul!.gflops / torchPeak, 2)]) : []),
    tokens_per_s,
    results,
    ratios,
    leak_check: a.workers.flatMap((w) => (w.leak ?? []).map((l) => ({
      backend: w.backend, ...l,
      tensor_growth: l.num_tensors[l.num_tensors.length - 1] - l.num_tensors[0],
      rss_growth_mib: l.rss_mib[l.rss_mib.length - 1] - l.rss_mib[0],
    }))),
    errors,
    load_avg: a.loads,
    notes: a.notes,
  };
}

/** The TRL side's report entry: the raw result without its step timings, torch's build summarised. */
function trlSide(t: TrlResult | { skipped: string }): TrlSide | { skipped: string } {
  if ('skipped' in t) return t;
  const mm = t.matmul;
  return {
    versions: t.versions, threads: t.threads,
    ...(t.interop_threads !== undefined ? { interop_threads: t.interop_threads } : {}),
    ...(t.usable_cpus !== undefined ? { usable_cpus: t.usable_cpus } : {}),
    ...(t.build ? { build: { ...torchBuild(t.build.config, t.build.parallel), ...t.build } } : {}),
    ...(t.mkl_shim !== undefined ? { mkl_shim: t.mkl_shim } : {}),
    ...(mm ? { matmul_n: mm.n, matmul_gflops: mm.gflops, matmul_median_gflops: mm.median_gflops, matmul_ms: mm.ms } : t.matmul_gflops ? { matmul_gflops: t.matmul_gflops } : {}),
  };
}

const KIND_LABEL: Record<StepKind, string> = {
  dpo: 'DPO step (sigmoid, precomputed ref)',
  reward: 'reward-model step (Bradley-Terry)',
  sft: 'SFT step (completion NLL)',
  score: 'compare scoring (reward + policy + ref, no grad)',
  sample: 'sampling, top-p 0.9 (new tokens/s)',
  greedy: 'greedy decoding (new tokens/s)',
  grpo: 'GRPO step: sample + reward model + ref + update (completion tokens/s)',
};

const fmt = (x: number) => Math.round(x).toLocaleString('en-US');

/** "- tensorflow: 4.22.0 (TensorFlow 2.21.0); oneDNN on (...); threads: ...; matmul 2048² 430 GFLOP/s ...". */
function backendLine(name: string, x: BenchReport['backends'][string]): string {
  const mm = x.matmul_gflops == null ? 'no matmul measured' : `matmul ${x.matmul_n}² ${x.matmul_gflops} GFLOP/s (median ${x.matmul_median_gflops ?? '—'}): the peak its MFU is measured against`;
  const b = x.build;
  if (!b) return `- ${name}: ${x.version}, ${x.threads} threads; ${mm}`;
  const dnn = `oneDNN ${b.onednn ?? 'unknown'} (${b.onednn_evidence ?? 'not read'}; TF_ENABLE_ONEDNN_OPTS ${b.tf_enable_onednn_opts ?? 'unset'})`;
  const fused = b.native_ops_threads != null ? `fused kernels ${b.native_ops_threads}` : `no fused kernels (${b.native_ops_reason ?? 'not loaded'})`;
  return `- ${name}: ${x.version}; ${dnn}; threads: intra-op ${b.threads.intra_op} (${b.threads.intra_op_from}), inter-op ${b.threads.inter_op ?? '—'}, ${fused}; ${mm}`;
}

/**
 * Where torch's BLAS is MKL on an AMD CPU, which code path MKL took (mkl-shim.ts): e.g. "; MKL on an AMD CPU: its
 * generic code path (stock; --torch-mkl-intel-path times TRL on MKL's Intel path)". '' elsewhere.
 */
export function mklNote(t: TrlSide, vendor: CpuVendor): string {
  const note = mklPathNote(t.mkl_shim, /mkl/i.test(t.build?.blas ?? ''), vendor);
  return note ? `; ${note}` : '';
}

function trlLine(t: TrlSide, vendor: CpuVendor): string {
  const build = t.build ? `: ${t.build.summary}${mklNote(t, vendor)}` : '';
  const threads = `threads: intra-op ${t.threads}${t.interop_threads !== undefined ? `, inter-op ${t.interop_threads}` : ''}${t.usable_cpus !== undefined ? ` (${t.usable_cpus} usable CPUs)` : ''}`;
  const mm = t.matmul_gflops ? `; torch matmul ${t.matmul_n ?? 2048}² ${t.matmul_gflops} GFLOP/s${t.matmul_median_gflops ? ` (median ${t.matmul_median_gflops})` : ''}: the peak TRL's MFU is measured against` : '';
  return `- TRL ${t.versions.trl}, transformers ${t.versions.transformers}, torch ${t.versions.torch}${build}; ${threads}${mm}`;
}

/**
 * "- matmul peaks over torch's: tensorflow 1.97x (2048² both), wasm 0.36x (1024² vs 2048²). ..." ([] without
 * TRL's peak): a step ratio near its matmul ratio is the BLAS, not the step's code.
 */
function matmulRatioLines(r: BenchReport): string[] {
  const t = r.trl as TrlSide;
  const tn = t.matmul_n ?? 2048;
  const parts = Object.entries(r.matmul_over_torch).map(([b, q]) => {
    const n = r.backends[b].matmul_n;
    return `${b} ${q.toFixed(2)}x (${n === tn ? `${n}² both` : `${n}² vs ${tn}²`})`;
  });
  return parts.length ? [`- Matmul peaks over torch's: ${parts.join(', ')}. A speed ratio near its matmul ratio comes from the BLAS, not from the step's code.`] : [];
}

/** "Machine: <model>, 2 of 2 cores usable (affinity mask, cgroup quota); node v20". */
function machineLine(r: BenchReport): string {
  const m = r.machine;
  return `Machine: ${m.cpu_model}, ${m.usable_cpus} of ${m.cpus} cores usable (affinity mask and cgroup CPU quota); node ${m.node}, ${m.platform}.`;
}

const pct = (x: number | null | undefined) => (x != null ? `${(x * 100).toFixed(1)}%` : '—');
const mib = (x: number | undefined) => (x != null ? fmt(x) : '—');

/**
 * The CPU's theoretical peak and each side's matmul peak as a share of it, e.g. "CPU theoretical float32 peak:
 * 268.8 GFLOP/s = ... Measured matmul peaks as a share of it: tensorflow 160%, torch 81% (above 100%: ...)." (a
 * share above 100% means the clock source under-states the clock the CPU really ran at, e.g. a base clock under turbo).
 */
function cpuPeakLines(r: BenchReport): string[] {
  const p = r.machine.cpu_peak;
  if (!p) return [];
  const shares = p.gflops
    ? [...Object.entries(r.backends).filter(([, b]) => b.matmul_gflops).map(([n, b]) => `${n} ${((b.matmul_gflops! / p.gflops!) * 100).toFixed(0)}%`),
      ...('skipped' in r.trl || !r.trl.matmul_gflops ? [] : [`torch ${((r.trl.matmul_gflops / p.gflops) * 100).toFixed(0)}%`])]
    : [];
  const over = p.gflops ? Math.max(...Object.values(r.backends).map((b) => b.matmul_gflops ?? 0), 'skipped' in r.trl ? 0 : r.trl.matmul_gflops ?? 0) > p.gflops : false;
  const tail = shares.length ? ` Measured matmul peaks as a share of it: ${shares.join(', ')}${over ? ' (above 100%: the CPU ran faster than the clock read, e.g. a base clock under turbo)' : ''}.` : '';
  return [`- ${cpuPeakLine(p)}${tail}`];
}

/**
 * Packed pair steps do less work than the FLOPs they are credited with: those are counted as TRL computes them
 * (two full rows per pair), while ours computes each prompt once, (P + 2C) of the 2T positions, and the heads only
 * where read. Says so, with the positions' share, so that an MFU over 100% reads as less work rather than as a
 * faster machine. e.g. T 256, P 64 -> 87.5%.
 */
function packedNote(r: BenchReport): string {
  const s = r.settings;
  if (s.layout !== 'packed' || !r.results.some((x) => x.backend !== 'trl' && PAIR_KINDS.has(x.kind))) return '';
  const share = (s.prompt_len + 2 * (s.seq_len - s.prompt_len)) / (2 * s.seq_len);
  return ` Pair steps (DPO, reward, scoring) are credited with the FLOPs of TRL's two full rows per pair; ours computes each prompt once, ${s.prompt_len} + 2 × ${s.seq_len - s.prompt_len} of the 2 × ${s.seq_len} positions (${(share * 100).toFixed(1)}%), and its LM and score heads only where they are read, so its MFU can pass 100%: it counts TRL's work done per second, not the share of its own peak it used.`;
}

/** The report as markdown: one section per model, a row per step kind, a column per backend and TRL. */
export function toMarkdown(r: BenchReport): string {
  const backends = Object.keys(r.backends);
  const hasTrl = !('skipped' in r.trl);
  const native = backends.includes('tensorflow') ? 'tensorflow' : backends[0];
  const hasHw = r.machine.cpu_peak?.gflops != null;
  const lines: string[] = [];
  const s = r.settings;
  lines.push(`Measured ${r.created.slice(0, 10)}${r.command ? ` with \`${r.command}\`` : ''}.`, '');
  const rows = s.layout === 'padded' ? `${2 * s.batch} rows` : `${2 * s.batch} rows on TRL's side, ours packed with each prompt computed once`;
  lines.push(`${machineLine(r)} Batch ${s.batch} pairs (DPO, reward, scoring: ${rows}) or ${s.batch} sequences (SFT), ${s.seq_len} tokens per row (prompt ${s.prompt_len}), no padding. Median of ${s.steps} timed steps after ${s.warmup} warm-up (cpu: ${s.cpu_steps} after ${s.cpu_warmup}).`);
  if (r.results.some((x) => x.kind === 'sample' || x.kind === 'greedy')) {
    lines.push('', `Sampling: ${s.sample_prompts} prompts of ${Math.max(1, Math.floor(s.prompt_len / 2))}-${s.prompt_len} tokens (left-padded), ${s.new_tokens} new tokens each (no stop tokens); a step is one whole batch from the prompt pass on (TRL column: transformers' generate on the same weights, prompts and settings, top-k off). tok/s counts new tokens only.`);
  }
  if (r.results.some((x) => x.kind === 'grpo')) {
    const g = GRPO_BENCH;
    lines.push('', `GRPO: one step = ${g.prompts} prompts × ${g.generations} generations × ${s.new_tokens} completion tokens (no stop tokens) sampled at temperature ${g.temperature}, scored by the reward model (prompt + completion re-encoded), reference log-probs (β ${g.beta}), ${g.lossType} loss, ${g.numIterations} iteration, AdamW update; TRL column: GRPOTrainer (transformers' generate, no vLLM) on the same folders, prompts and settings. tok/s counts completion tokens.`);
  }
  lines.push('');
  for (const b of backends) lines.push(backendLine(b, r.backends[b]));
  for (const [b, why] of Object.entries(r.skipped_backends)) lines.push(`- ${b}: skipped (${why})`);
  if (hasTrl) lines.push(trlLine(r.trl as TrlSide, r.machine.cpu_vendor), ...matmulRatioLines(r));
  else lines.push(`- TRL: skipped (${(r.trl as { skipped: string }).skipped})`);
  lines.push(...cpuPeakLines(r));
  const sides = [...backends, ...(hasTrl ? ['trl'] : [])];
  const sideName = (b: string) => (b === 'trl' ? 'TRL' : b);
  for (const [model, kinds] of Object.entries(r.tokens_per_s)) {
    lines.push('', `#### ${model} (${(r.models[model].params / 1e6).toFixed(2)}M params)`, '');
    const head = ['step', ...backends.map((b) => `${b} tok/s`), ...(hasTrl ? ['TRL tok/s', ...backends.filter((b) => b !== 'cpu').map((b) => `${b} / TRL`)] : []),
      `MFU ${native} (vs its matmul)`, ...(hasTrl ? ['MFU TRL (vs torch matmul)'] : []),
      ...(hasHw ? [`MFU vs CPU peak (${[native, ...(hasTrl ? ['TRL'] : [])].join(' / ')})`] : []),
      `peak RSS MiB (${sides.map(sideName).join(' / ')})`];
    lines.push(`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`);
    for (const kind of Object.keys(kinds) as StepKind[]) {
      const rowOf = (backend: string) => r.results.find((x) => x.model === model && x.kind === kind && x.backend === backend);
      const cell = (backend: string) => {
        const x = rowOf(backend);
        return x ? `${fmt(x.tokens_per_s)} (${x.steps_per_s.toFixed(2)} st/s)` : '—';
      };
      const dec = backends.map(rowOf).find((x) => x?.decoder === 'native') ? ', native decoder on tensorflow' : '';
      const cells = [KIND_LABEL[kind].replace(/\)$/, `${dec})`), ...backends.map(cell)];
      if (hasTrl) {
        cells.push(cell('trl'));
        for (const bk of backends.filter((x) => x !== 'cpu')) {
          const q = r.ratios.find((x) => x.model === model && x.kind === kind && x.backend === bk);
          cells.push(q ? `${q.ours_over_trl.toFixed(2)}x (${q.best_over_best.toFixed(2)}x)` : '—');
        }
      }
      cells.push(pct(rowOf(native)?.mfu));
      if (hasTrl) cells.push(pct(rowOf('trl')?.mfu));
      if (hasHw) cells.push([native, ...(hasTrl ? ['trl'] : [])].map((b) => pct(rowOf(b)?.mfu_hw)).join(' / '));
      cells.push(sides.map((b) => mib(rowOf(b)?.peak_rss_mib)).join(' / '));
      lines.push(`| ${cells.join(' | ')} |`);
    }
  }
  const worst = r.results.reduce((m, x) => Math.max(m, x.spread), 0);
  const loads = r.load_avg.map((l) => l.load1);
  if (loads.length) lines.push('', `Ratios: median step vs median step, and in brackets fastest vs fastest step (the least disturbed by other load). 1-minute load average when each side started: ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} on ${r.machine.cpus} cores.`);
  const rssFrom = [...new Set(r.results.map((x) => x.rss_source).filter(Boolean))].join(' or ');
  lines.push('', `tok/s counts every token of every row (chosen and rejected both count for pair steps). st/s = steps per second. MFU = model FLOPs per second (6·N + 12·L·T·d per trained token, 2·N + 4·L·T·d per scored token and model) over that side's own measured matmul GFLOP/s (a backend's own; TRL's: torch's, above)${hasHw ? ', and over the CPU\'s theoretical float32 peak (above)' : ''}.${packedNote(r)} Peak RSS: the high-water mark of the process that ran the step (one process per model and step on either side; ${rssFrom || 'not recorded'}). Largest spread (max − min) / median over a row's timed steps: ${(worst * 100).toFixed(0)}%.`);
  for (const l of r.leak_check) {
    lines.push('', `Leak check (${l.backend}, ${l.model}): ${l.steps} DPO steps after the timed ones; tf.memory().numTensors ${l.num_tensors[0]} -> ${l.num_tensors[l.num_tensors.length - 1]} (growth ${l.tensor_growth}), RSS ${l.rss_mib[0]} -> ${l.rss_mib[l.rss_mib.length - 1]} MiB (min ${Math.min(...l.rss_mib)}, max ${Math.max(...l.rss_mib)}).`);
  }
  for (const n of r.notes) lines.push('', `Note: ${n}`);
  for (const e of r.errors) lines.push('', `Error (${e.side}, ${e.model}, ${e.kind}): ${e.message}`);
  return lines.join('\n') + '\n';
}

const SHORT_KIND: Record<StepKind, string> = { dpo: 'DPO', reward: 'reward', sft: 'SFT', score: 'scoring', sample: 'sampling (top-p)', greedy: 'greedy decoding', grpo: 'GRPO step' };

/**
 * README.md's performance table: dated, the exact command, the machine line (CPU, usable cores, both sides'
 * matmul peaks and builds, the CPU's theoretical peak), then per model and step native and TRL tokens/s, their
 * ratio, wasm's ratio to TRL, each side's MFU against its own matmul and against the CPU peak, and each side's
 * peak RSS. `rlhf bench --readme` prints it.
 */
export function toReadme(r: BenchReport): string {
  const hasTrl = !('skipped' in r.trl);
  const t = r.trl as TrlSide;
  const nat = r.backends.tensorflow;
  const loads = r.load_avg.map((l) => l.load1);
  const peaks = [
    nat ? `tensorflow ${nat.matmul_gflops ?? '—'} GFLOP/s at ${nat.matmul_n}² (${nat.version}, oneDNN ${nat.build?.onednn ?? 'unknown'})` : null,
    hasTrl ? `torch ${t.matmul_gflops ?? '—'} GFLOP/s at ${t.matmul_n ?? 2048}² (${t.versions.torch}${t.build ? `, ${t.build.summary}${mklNote(t, r.machine.cpu_vendor)}` : ''})` : null,
  ].filter(Boolean);
  const cpu = r.machine.cpu_peak;
  const lines = [
    `Measured ${r.created.slice(0, 10)} with \`${r.command ?? 'rlhf bench'}\`${loads.length ? `; 1-minute load average ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} when each side started` : ''}.`,
    `${machineLine(r)} Matmul peaks (float32, fastest of ${nat?.matmul_ms?.length ?? '—'}): ${peaks.join('; ') || 'none measured'}.${cpu ? ` ${cpuPeakLine(cpu)}` : ''}`,
    '',
    '| model | step | native tok/s | TRL tok/s | native / TRL | wasm / TRL | MFU native (vs its matmul) | MFU TRL (vs torch matmul) | MFU native / TRL (vs CPU peak) | peak RSS native / TRL (MiB) |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const [model, kinds] of Object.entries(r.tokens_per_s)) {
    const name = `${model} (${(r.models[model].params / 1e6).toFixed(2)}M params)`;
    for (const kind of Object.keys(kinds) as StepKind[]) {
      const row = (b: string) => r.results.find((x) => x.model === model && x.kind === kind && x.backend === b);
      const ratio = (b: string) => r.ratios.find((x) => x.model === model && x.kind === kind && x.backend === b);
      const q = ratio('tensorflow');
      const w = ratio('wasm');
      const tok = (b: string) => (row(b) ? fmt(row(b)!.tokens_per_s) : '—');
      lines.push(`| ${name} | ${SHORT_KIND[kind]} | ${tok('tensorflow')} | ${tok('trl')} | ${q ? `${q.ours_over_trl.toFixed(2)}x` : '—'} | ${w ? `${w.ours_over_trl.toFixed(2)}x` : '—'} | ${pct(row('tensorflow')?.mfu)} | ${pct(row('trl')?.mfu)} | ${pct(row('tensorflow')?.mfu_hw)} / ${pct(row('trl')?.mfu_hw)} | ${mib(row('tensorflow')?.peak_rss_mib)} / ${mib(row('trl')?.peak_rss_mib)} |`);
    }
  }
  return lines.join('\n') + '\n';
}
