/**
 * The benchmark's result: one JSON object (for tracking) and a markdown table (for the README).
 * Throughput: tokens/s = tokens per step / median step time (all rows are full length: no padding);
 * steps/s = 1 / median step time. MFU = the step's model FLOPs (flops.ts) per second divided by the
 * same side's measured large-matmul GFLOP/s (a TF.js backend's by matmul.ts, TRL's by torch in
 * bench/trl_bench.py at the tensorflow side's size and threads), so it says how close a step gets to that
 * side's own best dense product, not to a hardware datasheet number; each row records the peak it used.
 * Beside the figures: each side's threads and BLAS / oneDNN build (build-info.ts), and the ratio of the two
 * matmul peaks, so a reader can see when one side's BLAS is simply faster.
 *
 * Does: arithmetic and formatting. Does NOT: run anything.
 */
import * as os from 'os';
import type { LlamaConfig } from '../model/families/llama';
import { torchBuild, usableCpus, type TorchBuild } from './build-info';
import { forwardFlopsPerToken, trainFlopsPerToken } from './flops';
import type { PreparedModel } from './models';
import type { BenchOptions } from './options';
import { median, spread } from './stats';
import { BENCH_HYPER, type StepKind } from './steps';
import type { TrlResult } from './trl';
import type { NativeBuild, WorkerResult } from './worker';
import type { Workload } from './workload';

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
  tensor_growth?: number;
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
}

export interface BenchReport {
  format: typeof BENCH_FORMAT;
  created: string;
  /** The command line that produced it (null when called as a library). */
  command: string | null;
  /** cpus: the host's; usable_cpus: this process's affinity capped by the cgroup quota (build-info.ts). */
  machine: { cpus: number; usable_cpus: number; cpu_model: string; node: string; platform: string };
  settings: { batch: number; seq_len: number; prompt_len: number; steps: number; warmup: number; cpu_steps: number; cpu_warmup: number; lr: number; max_grad_norm: number; beta: number };
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
  /** ours / TRL tokens/s per model, kind and TF.js backend. */
  ratios: { model: string; kind: StepKind; backend: string; ours_over_trl: number; best_over_best: number }[];
  /** wasm tokens/s as a fraction of tensorflow's, per model and kind. */
  wasm_over_native: { model: string; kind: StepKind; ratio: number }[];
  /** numTensors and RSS over a long DPO run per backend and model (--leak-steps). */
  leak_check: { backend: string; model: string; steps: number; every: number; num_tensors: number[]; rss_mib: number[]; tensor_growth: number; rss_growth_mib: number }[];
  errors: { side: string; model: string; kind: string; message: string }[];
  /** 1-minute load average when each side started, per round: how busy the shared machine was. */
  load_avg: { side: string; round: number; load1: number }[];
  notes: string[];
}

/** Model FLOPs of one step of `kind` per token (see flops.ts). */
function stepFlopsPerToken(c: LlamaConfig, T: number, kind: StepKind): number {
  if (kind === 'reward') return trainFlopsPerToken(c, T, 'score');
  if (kind === 'score') return forwardFlopsPerToken(c, T, 'score') + 2 * forwardFlopsPerToken(c, T, 'lm');
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
}

/** One row per (model, step kind, side) timed: medians, throughput, achieved GFLOP/s and MFU against the side's own matmul peak. */
function resultRows(a: BenchInputs): { results: BenchRow[]; errors: BenchReport['errors'] } {
  const o = a.options;
  const byName = new Map(a.models.map((m) => [m.name, m]));
  const peak = new Map(a.workers.map((w) => [w.backend, w.matmul?.gflops ?? null]));
  const row = (model: string, kind: StepKind, backend: string, tokens: number, ms: number[], growth?: number): BenchRow => {
    const med = median(ms);
    const m = byName.get(model)!;
    const gflops = (stepFlopsPerToken(m.config, o.seqLen, kind) * tokens) / (med / 1000) / 1e9;
    // Each side against its own peak: TRL's steps against torch's matmul, a backend's against its own.
    const p = backend === 'trl' ? ('skipped' in a.trl ? null : a.trl.matmul?.gflops ?? a.trl.matmul_gflops ?? null) : peak.get(backend) ?? null;
    return {
      model, kind, backend, tokens_per_step: tokens, median_ms: round(med, 1), ms, spread: round(spread(ms), 3), best_ms: Math.min(...ms),
      tokens_per_s: round(tokens / (med / 1000)), steps_per_s: round(1000 / med, 3), achieved_gflops: round(gflops, 1),
      mfu: p ? round(gflops / p, 3) : null, peak_gflops: p, ...(growth === undefined ? {} : { tensor_growth: growth }),
    };
  };
  const results: BenchRow[] = [];
  const errors: BenchReport['errors'] = [];
  for (const w of a.workers) {
    for (const r of w.results) results.push(row(r.model, r.kind, w.backend, r.tokens, r.ms, r.tensor_growth));
    for (const e of w.errors) errors.push({ side: w.backend, ...e });
  }
  if (!('skipped' in a.trl)) {
    for (const r of a.trl.results) results.push(row(r.model, r.kind, 'trl', r.tokens, r.ms));
    for (const e of a.trl.errors) errors.push({ side: 'trl', ...e });
  }
  return { results, errors };
}

/** tokens/s by model, kind and side; each side over TRL (medians, and best step over best step); wasm over native. */
function ratiosOf(results: BenchRow[]): Pick<BenchReport, 'tokens_per_s' | 'ratios' | 'wasm_over_native'> {
  const tps: BenchReport['tokens_per_s'] = {};
  for (const r of results) ((tps[r.model] ??= {})[r.kind] ??= {})[r.backend] = r.tokens_per_s;
  const ratios: BenchReport['ratios'] = [];
  const wasmOverNative: BenchReport['wasm_over_native'] = [];
  for (const [model, kinds] of Object.entries(tps)) {
    for (const [kind, b] of Object.entries(kinds) as [StepKind, Record<string, number>][]) {
      for (const [backend, v] of Object.entries(b)) {
        if (backend === 'trl' || !b.trl) continue;
        const best = (bk: string) => results.find((x) => x.model === model && x.kind === kind && x.backend === bk)!.best_ms;
        ratios.push({ model, kind, backend, ours_over_trl: round(v / b.trl, 2), best_over_best: round(best('trl') / best(backend), 2) });
      }
      if (b.wasm && b.tensorflow) wasmOverNative.push({ model, kind, ratio: round(b.wasm / b.tensorflow, 3) });
    }
  }
  return { tokens_per_s: tps, ratios, wasm_over_native: wasmOverNative };
}

export function buildReport(a: BenchInputs): BenchReport {
  const o = a.options;
  const { results, errors } = resultRows(a);
  const { tokens_per_s, ratios, wasm_over_native } = ratiosOf(results);
  const first = a.workloads.values().next().value as Workload | undefined;
  const trl = trlSide(a.trl);
  const torchPeak = 'skipped' in trl ? undefined : trl.matmul_gflops;
  return {
    format: BENCH_FORMAT,
    created: new Date().toISOString(),
    command: o.command ?? null,
    machine: { cpus: os.cpus().length, usable_cpus: usableCpus(), cpu_model: os.cpus()[0]?.model ?? 'unknown', node: process.version, platform: `${process.platform}-${process.arch}` },
    settings: {
      batch: o.batch, seq_len: o.seqLen, prompt_len: first?.promptLen ?? Math.floor(o.seqLen / 4), steps: o.steps, warmup: o.warmup,
      cpu_steps: o.cpuSteps, cpu_warmup: o.cpuWarmup, lr: BENCH_HYPER.lr, max_grad_norm: BENCH_HYPER.maxGradNorm, beta: BENCH_HYPER.beta,
    },
    models: Object.fromEntries(a.models.map((m) => [m.name, {
      params: m.params, source: m.source,
      train_gflop_per_step: Object.fromEntries(o.kinds.map((k) => {
        const tokens = (k === 'sft' ? 1 : 2) * o.batch * o.seqLen;
        return [k, round((stepFlopsPerToken(m.config, o.seqLen, k) * tokens) / 1e9, 2)];
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
    wasm_over_native,
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
    ...(mm ? { matmul_n: mm.n, matmul_gflops: mm.gflops, matmul_median_gflops: mm.median_gflops, matmul_ms: mm.ms } : t.matmul_gflops ? { matmul_gflops: t.matmul_gflops } : {}),
  };
}

const KIND_LABEL: Record<StepKind, string> = {
  dpo: 'DPO step (sigmoid, precomputed ref)',
  reward: 'reward-model step (Bradley-Terry)',
  sft: 'SFT step (completion NLL)',
  score: 'compare scoring (reward + policy + ref, no grad)',
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

function trlLine(t: TrlSide): string {
  const build = t.build ? `: ${t.build.summary}` : '';
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

/** The report as markdown: one section per model, a row per step kind, a column per backend and TRL. */
export function toMarkdown(r: BenchReport): string {
  const backends = Object.keys(r.backends);
  const hasTrl = !('skipped' in r.trl);
  const native = backends.includes('tensorflow') ? 'tensorflow' : backends[0];
  const lines: string[] = [];
  const s = r.settings;
  lines.push(`Measured ${r.created.slice(0, 10)}${r.command ? ` with \`${r.command}\`` : ''}.`, '');
  lines.push(`${machineLine(r)} Batch ${s.batch} pairs (DPO, reward, scoring: ${2 * s.batch} rows) or ${s.batch} sequences (SFT), ${s.seq_len} tokens per row (prompt ${s.prompt_len}), no padding. Median of ${s.steps} timed steps after ${s.warmup} warm-up (cpu: ${s.cpu_steps} after ${s.cpu_warmup}).`);
  lines.push('');
  for (const b of backends) lines.push(backendLine(b, r.backends[b]));
  for (const [b, why] of Object.entries(r.skipped_backends)) lines.push(`- ${b}: skipped (${why})`);
  if (hasTrl) lines.push(trlLine(r.trl as TrlSide), ...matmulRatioLines(r));
  else lines.push(`- TRL: skipped (${(r.trl as { skipped: string }).skipped})`);
  for (const [model, kinds] of Object.entries(r.tokens_per_s)) {
    lines.push('', `#### ${model} (${(r.models[model].params / 1e6).toFixed(2)}M params)`, '');
    const head = ['step', ...backends.map((b) => `${b} tok/s`), ...(hasTrl ? ['TRL tok/s', ...backends.filter((b) => b !== 'cpu').map((b) => `${b} / TRL`)] : []),
      `MFU ${native} (vs its matmul)`, ...(hasTrl ? ['MFU TRL (vs torch matmul)'] : []),
      ...(backends.includes('wasm') && backends.includes('tensorflow') ? ['wasm / tensorflow'] : [])];
    lines.push(`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`);
    for (const [kind, b] of Object.entries(kinds) as [StepKind, Record<string, number>][]) {
      const rowOf = (backend: string) => r.results.find((x) => x.model === model && x.kind === kind && x.backend === backend);
      const cell = (backend: string) => {
        const x = rowOf(backend);
        return x ? `${fmt(x.tokens_per_s)} (${x.steps_per_s.toFixed(2)} st/s)` : '—';
      };
      const cells = [KIND_LABEL[kind], ...backends.map(cell)];
      if (hasTrl) {
        cells.push(cell('trl'));
        for (const bk of backends.filter((x) => x !== 'cpu')) {
          const q = r.ratios.find((x) => x.model === model && x.kind === kind && x.backend === bk);
          cells.push(q ? `${q.ours_over_trl.toFixed(2)}x (${q.best_over_best.toFixed(2)}x)` : '—');
        }
      }
      cells.push(pct(rowOf(native)?.mfu));
      if (hasTrl) cells.push(pct(rowOf('trl')?.mfu));
      if (backends.includes('wasm') && backends.includes('tensorflow')) cells.push(b.wasm && b.tensorflow ? `${((b.wasm / b.tensorflow) * 100).toFixed(0)}%` : '—');
      lines.push(`| ${cells.join(' | ')} |`);
    }
  }
  const worst = r.results.reduce((m, x) => Math.max(m, x.spread), 0);
  const loads = r.load_avg.map((l) => l.load1);
  if (loads.length) lines.push('', `Ratios: median step vs median step, and in brackets fastest vs fastest step (the least disturbed by other load). 1-minute load average when each side started: ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} on ${r.machine.cpus} cores.`);
  lines.push('', `tok/s counts every token of every row (chosen and rejected both count for pair steps). st/s = steps per second. MFU = model FLOPs per second (6·N + 12·L·T·d per trained token, 2·N + 4·L·T·d per scored token and model) over that side's own measured matmul GFLOP/s (a backend's own; TRL's: torch's, above). Largest spread (max − min) / median over a row's timed steps: ${(worst * 100).toFixed(0)}%.`);
  for (const l of r.leak_check) {
    lines.push('', `Leak check (${l.backend}, ${l.model}): ${l.steps} DPO steps after the timed ones; tf.memory().numTensors ${l.num_tensors[0]} -> ${l.num_tensors[l.num_tensors.length - 1]} (growth ${l.tensor_growth}), RSS ${l.rss_mib[0]} -> ${l.rss_mib[l.rss_mib.length - 1]} MiB (min ${Math.min(...l.rss_mib)}, max ${Math.max(...l.rss_mib)}).`);
  }
  for (const n of r.notes) lines.push('', `Note: ${n}`);
  for (const e of r.errors) lines.push('', `Error (${e.side}, ${e.model}, ${e.kind}): ${e.message}`);
  return lines.join('\n') + '\n';
}

const SHORT_KIND: Record<StepKind, string> = { dpo: 'DPO', reward: 'reward', sft: 'SFT', score: 'scoring' };

/**
 * README.md's performance table: dated, the exact command, the machine line (CPU, usable cores, both sides'
 * matmul peaks and builds), then per model and step native and TRL tokens/s, their ratio, wasm's share of
 * native, and each side's MFU against its own matmul. `rlhf bench --readme` prints it.
 */
export function toReadme(r: BenchReport): string {
  const hasTrl = !('skipped' in r.trl);
  const t = r.trl as TrlSide;
  const nat = r.backends.tensorflow;
  const loads = r.load_avg.map((l) => l.load1);
  const peaks = [
    nat ? `tensorflow ${nat.matmul_gflops ?? '—'} GFLOP/s at ${nat.matmul_n}² (${nat.version}, oneDNN ${nat.build?.onednn ?? 'unknown'})` : null,
    hasTrl ? `torch ${t.matmul_gflops ?? '—'} GFLOP/s at ${t.matmul_n ?? 2048}² (${t.versions.torch}${t.build ? `, ${t.build.summary}` : ''})` : null,
  ].filter(Boolean);
  const lines = [
    `Measured ${r.created.slice(0, 10)} with \`${r.command ?? 'rlhf bench'}\`${loads.length ? `; 1-minute load average ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} when each side started` : ''}.`,
    `${machineLine(r)} Matmul peaks (float32, fastest of ${nat?.matmul_ms?.length ?? '—'}): ${peaks.join('; ') || 'none measured'}.`,
    '',
    '| model | step | native tok/s | TRL tok/s | native / TRL | wasm / native | MFU native (vs its matmul) | MFU TRL (vs torch matmul) |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const [model, kinds] of Object.entries(r.tokens_per_s)) {
    const name = `${model} (${(r.models[model].params / 1e6).toFixed(2)}M params)`;
    for (const kind of Object.keys(kinds) as StepKind[]) {
      const row = (b: string) => r.results.find((x) => x.model === model && x.kind === kind && x.backend === b);
      const q = r.ratios.find((x) => x.model === model && x.kind === kind && x.backend === 'tensorflow');
      const w = r.wasm_over_native.find((x) => x.model === model && x.kind === kind);
      const tok = (b: string) => (row(b) ? fmt(row(b)!.tokens_per_s) : '—');
      lines.push(`| ${name} | ${SHORT_KIND[kind]} | ${tok('tensorflow')} | ${tok('trl')} | ${q ? `${q.ours_over_trl.toFixed(2)}x` : '—'} | ${w ? `${(w.ratio * 100).toFixed(0)}%` : '—'} | ${pct(row('tensorflow')?.mfu)} | ${pct(row('trl')?.mfu)} |`);
    }
  }
  return lines.join('\n') + '\n';
}
