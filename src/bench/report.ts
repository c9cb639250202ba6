/**
 * The benchmark's result: one JSON object (for tracking) and a markdown table (for the README).
 * Throughput: tokens/s = tokens per step / median step time (all rows are full length: no padding);
 * steps/s = 1 / median step time. MFU = the step's model FLOPs (flops.ts) per second divided by the
 * same backend's measured large-matmul GFLOP/s (matmul.ts), so it says how close a step gets to that
 * backend's own best dense product, not to a hardware datasheet number.
 *
 * Does: arithmetic and formatting. Does NOT: run anything.
 */
import * as os from 'os';
import type { LlamaConfig } from '../model/config';
import { forwardFlopsPerToken, trainFlopsPerToken } from './flops';
import type { PreparedModel } from './models';
import type { BenchOptions } from './run';
import { median, spread } from './stats';
import type { StepKind } from './steps';
import type { TrlResult } from './trl';
import type { WorkerResult } from './worker';
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
  /** achieved / this backend's matmul GFLOP/s (null without a matmul measurement). */
  mfu: number | null;
  tensor_growth?: number;
  /** Sampling kinds: the decoder that ran (native or tfjs). */
  decoder?: string;
}

export interface BenchReport {
  format: typeof BENCH_FORMAT;
  created: string;
  machine: { cpus: number; cpu_model: string; node: string; platform: string };
  settings: { batch: number; seq_len: number; prompt_len: number; sample_prompts: number; new_tokens: number; steps: number; warmup: number; cpu_steps: number; cpu_warmup: number; lr: number; max_grad_norm: number; beta: number };
  models: Record<string, { params: number; source: string; train_gflop_per_step: Partial<Record<StepKind, number>> }>;
  backends: Record<string, { version: string; threads: number; matmul_n: number | null; matmul_gflops: number | null; matmul_ms: number[] | null }>;
  skipped_backends: Record<string, string>;
  trl: { versions: Record<string, string>; threads: number; matmul_gflops?: number } | { skipped: string };
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
export function stepFlopsPerToken(c: LlamaConfig, T: number, kind: StepKind): number {
  if (kind === 'sample' || kind === 'greedy') return forwardFlopsPerToken(c, T, 'lm'); // per new token, prompts not counted
  if (kind === 'reward') return trainFlopsPerToken(c, T, 'score');
  if (kind === 'score') return forwardFlopsPerToken(c, T, 'score') + 2 * forwardFlopsPerToken(c, T, 'lm');
  return trainFlopsPerToken(c, T, 'lm');
}

const round = (x: number, d = 0) => +x.toFixed(d);

export function buildReport(a: {
  options: BenchOptions;
  models: PreparedModel[];
  workloads: Map<string, Workload>;
  workers: WorkerResult[];
  skipped: Record<string, string>;
  trl: TrlResult | { skipped: string };
  loads: { side: string; round: number; load1: number }[];
  notes: string[];
}): BenchReport {
  const o = a.options;
  const byName = new Map(a.models.map((m) => [m.name, m]));
  const peak = new Map(a.workers.map((w) => [w.backend, w.matmul?.gflops ?? null]));
  const first = a.workloads.values().next().value as Workload | undefined;
  const samplePrompts = first?.samplePrompts ?? 16;
  const newTokens = first?.newTokens ?? 64;
  const promptLen = first?.promptLen ?? Math.floor(o.seqLen / 4);
  /** The context length FLOPs are counted at: the sequence, or a sampled row's last position. */
  const lengthOf = (kind: StepKind) => (kind === 'sample' || kind === 'greedy' ? promptLen + newTokens : o.seqLen);
  const row = (model: string, kind: StepKind, backend: string, tokens: number, ms: number[], growth?: number, decoder?: string): BenchRow => {
    const med = median(ms);
    const m = byName.get(model)!;
    const gflops = (stepFlopsPerToken(m.config, lengthOf(kind), kind) * tokens) / (med / 1000) / 1e9;
    const p = backend === 'trl' ? ('skipped' in a.trl ? null : a.trl.matmul_gflops ?? null) : peak.get(backend) ?? null;
    return {
      model, kind, backend, tokens_per_step: tokens, median_ms: round(med, 1), ms, spread: round(spread(ms), 3), best_ms: Math.min(...ms),
      tokens_per_s: round(tokens / (med / 1000)), steps_per_s: round(1000 / med, 3), achieved_gflops: round(gflops, 1),
      mfu: p ? round(gflops / p, 3) : null, ...(growth === undefined ? {} : { tensor_growth: growth }), ...(decoder ? { decoder } : {}),
    };
  };
  const results: BenchRow[] = [];
  const errors: BenchReport['errors'] = [];
  for (const w of a.workers) {
    for (const r of w.results) results.push(row(r.model, r.kind, w.backend, r.tokens, r.ms, r.tensor_growth, r.decoder));
    for (const e of w.errors) errors.push({ side: w.backend, ...e });
  }
  if (!('skipped' in a.trl)) {
    for (const r of a.trl.results) results.push(row(r.model, r.kind, 'trl', r.tokens, r.ms));
    for (const e of a.trl.errors) errors.push({ side: 'trl', ...e });
  }
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
  return {
    format: BENCH_FORMAT,
    created: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model ?? 'unknown', node: process.version, platform: `${process.platform}-${process.arch}` },
    settings: {
      batch: o.batch, seq_len: o.seqLen, prompt_len: promptLen, sample_prompts: samplePrompts, new_tokens: newTokens, steps: o.steps, warmup: o.warmup,
      cpu_steps: o.cpuSteps, cpu_warmup: o.cpuWarmup, lr: 1e-6, max_grad_norm: 1, beta: 0.1,
    },
    models: Object.fromEntries(a.models.map((m) => [m.name, {
      params: m.params, source: m.source,
      train_gflop_per_step: Object.fromEntries(o.kinds.map((k) => {
        const tokens = k === 'sample' || k === 'greedy' ? samplePrompts * newTokens : (k === 'sft' ? 1 : 2) * o.batch * o.seqLen;
        return [k, round((stepFlopsPerToken(m.config, lengthOf(k), k) * tokens) / 1e9, 2)];
      })),
    }])),
    backends: Object.fromEntries(a.workers.map((w) => [w.backend, {
      version: w.version, threads: w.threads, matmul_n: w.matmul?.n ?? null, matmul_gflops: w.matmul?.gflops ?? null, matmul_ms: w.matmul?.ms ?? null,
    }])),
    skipped_backends: a.skipped,
    trl: 'skipped' in a.trl ? a.trl : { versions: a.trl.versions, threads: a.trl.threads, ...(a.trl.matmul_gflops ? { matmul_gflops: a.trl.matmul_gflops } : {}) },
    tokens_per_s: tps,
    results,
    ratios,
    wasm_over_native: wasmOverNative,
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

const KIND_LABEL: Record<StepKind, string> = {
  dpo: 'DPO step (sigmoid, precomputed ref)',
  reward: 'reward-model step (Bradley-Terry)',
  sft: 'SFT step (completion NLL)',
  score: 'compare scoring (reward + policy + ref, no grad)',
  sample: 'sampling, top-p 0.9 (new tokens/s)',
  greedy: 'greedy decoding (new tokens/s)',
};

const fmt = (x: number) => Math.round(x).toLocaleString('en-US');

/** The README table: one section per model, a row per step kind, a column per backend and TRL. */
export function toMarkdown(r: BenchReport): string {
  const backends = Object.keys(r.backends);
  const hasTrl = !('skipped' in r.trl);
  const native = backends.includes('tensorflow') ? 'tensorflow' : backends[0];
  const lines: string[] = [];
  const s = r.settings;
  lines.push(`Machine: ${r.machine.cpu_model}, ${r.machine.cpus} cores; node ${r.machine.node}. Batch ${s.batch} pairs (DPO, reward, scoring: ${2 * s.batch} rows) or ${s.batch} sequences (SFT), ${s.seq_len} tokens per row (prompt ${s.prompt_len}), no padding. Median of ${s.steps} timed steps after ${s.warmup} warm-up (cpu: ${s.cpu_steps} after ${s.cpu_warmup}).`);
  if (r.results.some((x) => x.kind === 'sample' || x.kind === 'greedy')) {
    lines.push('', `Sampling: ${s.sample_prompts} prompts of ${Math.max(1, Math.floor(s.prompt_len / 2))}-${s.prompt_len} tokens (left-padded), ${s.new_tokens} new tokens each (no stop tokens); a step is one whole batch from the prompt pass on (TRL column: transformers' generate on the same weights, prompts and settings, top-k off). tok/s counts new tokens only.`);
  }
  lines.push('');
  for (const b of backends) {
    const x = r.backends[b];
    lines.push(`- ${b}: ${x.version}, ${x.threads} threads; matmul ${x.matmul_n}² ${x.matmul_gflops ?? '—'} GFLOP/s (the peak its MFU is measured against)`);
  }
  for (const [b, why] of Object.entries(r.skipped_backends)) lines.push(`- ${b}: skipped (${why})`);
  if (hasTrl) {
    const t = r.trl as { versions: Record<string, string>; threads: number; matmul_gflops?: number };
    lines.push(`- TRL ${t.versions.trl}, transformers ${t.versions.transformers}, torch ${t.versions.torch}, ${t.threads} threads${t.matmul_gflops ? `; torch matmul 2048² ${t.matmul_gflops} GFLOP/s` : ''}`);
  } else {
    lines.push(`- TRL: skipped (${(r.trl as { skipped: string }).skipped})`);
  }
  for (const [model, kinds] of Object.entries(r.tokens_per_s)) {
    lines.push('', `#### ${model} (${(r.models[model].params / 1e6).toFixed(2)}M params)`, '');
    const head = ['step', ...backends.map((b) => `${b} tok/s`), ...(hasTrl ? ['TRL tok/s', ...backends.filter((b) => b !== 'cpu').map((b) => `${b} / TRL`)] : []),
      `MFU ${native}`, ...(backends.includes('wasm') && backends.includes('tensorflow') ? ['wasm / tensorflow'] : [])];
    lines.push(`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`);
    for (const [kind, b] of Object.entries(kinds) as [StepKind, Record<string, number>][]) {
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
      const nat = rowOf(native);
      cells.push(nat?.mfu != null ? `${(nat.mfu * 100).toFixed(1)}%` : '—');
      if (backends.includes('wasm') && backends.includes('tensorflow')) cells.push(b.wasm && b.tensorflow ? `${((b.wasm / b.tensorflow) * 100).toFixed(0)}%` : '—');
      lines.push(`| ${cells.join(' | ')} |`);
    }
  }
  const worst = r.results.reduce((m, x) => Math.max(m, x.spread), 0);
  const loads = r.load_avg.map((l) => l.load1);
  if (loads.length) lines.push('', `Ratios: median step vs median step, and in brackets fastest vs fastest step (the least disturbed by other load). 1-minute load average when each side started: ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} on ${r.machine.cpus} cores.`);
  lines.push('', `tok/s counts every token of every row (chosen and rejected both count for pair steps). st/s = steps per second. MFU = model FLOPs per second (6·N + 12·L·T·d per trained token, 2·N + 4·L·T·d per scored token and model) over the backend's own matmul GFLOP/s. Largest spread (max − min) / median over a row's timed steps: ${(worst * 100).toFixed(0)}%.`);
  for (const l of r.leak_check) {
    lines.push('', `Leak check (${l.backend}, ${l.model}): ${l.steps} DPO steps after the timed ones; tf.memory().numTensors ${l.num_tensors[0]} -> ${l.num_tensors[l.num_tensors.length - 1]} (growth ${l.tensor_growth}), RSS ${l.rss_mib[0]} -> ${l.rss_mib[l.rss_mib.length - 1]} MiB (min ${Math.min(...l.rss_mib)}, max ${Math.max(...l.rss_mib)}).`);
  }
  for (const n of r.notes) lines.push('', `Note: ${n}`);
  for (const e of r.errors) lines.push('', `Error (${e.side}, ${e.model}, ${e.kind}): ${e.message}`);
  return lines.join('\n') + '\n';
}
