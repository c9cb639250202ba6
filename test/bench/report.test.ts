/**
 * The benchmark report from hand-made worker and TRL results (no processes, no timing): each side's MFU is
 * taken against its own measured matmul and says which, and against the CPU's theoretical peak; both builds,
 * thread counts and peak RSS are recorded and printed, and README's table carries the date, the command and the
 * machine line.
 */
import { benchCommandLine } from '../../src/cli/bench';
import { trainFlopsPerToken } from '../../src/bench/flops';
import type { PreparedModel } from '../../src/bench/models';
import { cpuPeakFrom } from '../../src/bench/cpu-peak';
import { buildReport, toMarkdown, toReadme, type BenchReport, type TrlSide } from '../../src/bench/report';
import type { BenchOptions } from '../../src/bench/options';
import type { CpuVendor } from '../../src/bench/mkl-shim';
import type { TrlResult } from '../../src/bench/trl';
import type { WorkerResult } from '../../src/bench/worker';
import { makeWorkload } from '../../src/bench/workload';
import { parseLlamaConfig, LLAMA_PRESETS as PRESETS } from '../../src/model/families/llama';

const config = parseLlamaConfig({ ...PRESETS.tiny, vocab_size: 512 });
const B = 2;
const T = 16;
const tokens = 2 * B * T; // a DPO step: B pairs, chosen and rejected rows

const options: BenchOptions = {
  models: ['tiny'], backends: ['tensorflow'], kinds: ['dpo'], steps: 3, warmup: 1, cpuSteps: 1, cpuWarmup: 1, batch: B, seqLen: T,
  trl: true, python: 'py', storiesDir: '/none', seed: 3, matmulN: { tensorflow: 64 }, matmulReps: 3, rounds: 1, log: () => {},
  command: 'rlhf bench --models tiny',
};
const model: PreparedModel = { name: 'tiny', config, params: 1000, dirs: { policy: '/p', reward: '/r' }, source: 'config:tiny', specialIds: { pad: 0, bos: 1, eos: 2 } };

const worker: WorkerResult = {
  backend: 'tensorflow', version: '4.22.0 (TensorFlow 2.21.0)', threads: 2,
  build: {
    threads: { intra_op: 2, intra_op_from: 'affinity mask, TensorFlow default', inter_op: 2 }, native_ops_threads: 2,
    tf_enable_onednn_opts: null, onednn: 'on', onednn_evidence: 'TensorFlow start-up log',
  },
  matmul: { n: 64, ms: [1, 2, 3], gflops: 400, median_gflops: 300 },
  results: [{ model: 'tiny', kind: 'dpo', tokens, ms: [1000, 1000, 1000], median_ms: 1000, tensor_growth: 0, peak_rss_mib: 900, rss_source: '/proc/self/status VmHWM' }],
  errors: [],
};
const SHOW = '  - Intel(R) MKL-DNN v3.12.0 (Git Hash 0)\n  - CPU capability usage: AVX512\n  - Build settings: BLAS_INFO=mkl, USE_MKLDNN=ON,';
const trl: TrlResult = {
  versions: { trl: '1.13.0', transformers: '5.18.0', torch: '2.13.0+cpu' }, threads: 2, interop_threads: 2, usable_cpus: 2,
  build: { config: SHOW, parallel: 'ATen parallel backend: OpenMP' },
  matmul: { n: 64, ms: [4, 5, 6], gflops: 200, median_gflops: 180 }, matmul_gflops: 200,
  // TRL takes twice as long per step as ours
  results: [{ model: 'tiny', kind: 'dpo', tokens, ms: [2000, 2000, 2000], median_ms: 2000, peak_rss_mib: 1200.5, rss_source: '/proc/self/status VmHWM' }],
  errors: [],
};

// wasm takes 4 s a step: half TRL's speed
const wasm: WorkerResult = {
  backend: 'wasm', version: '4.22.0 (SIMD)', threads: 2, matmul: { n: 64, ms: [10], gflops: 50, median_gflops: 50 },
  results: [{ model: 'tiny', kind: 'dpo', tokens, ms: [4000], median_ms: 4000, tensor_growth: 0, peak_rss_mib: 700, rss_source: '/proc/self/status VmHWM' }],
  errors: [],
};

function report(workers: WorkerResult[] = [worker], side: TrlResult = trl, cpuVendor: CpuVendor = 'intel'): BenchReport {
  return buildReport({
    cpuVendor,
    options, models: [model], workloads: new Map([['tiny', makeWorkload({ vocab: 512, batch: B, seqLen: T })]]), workers,
    skipped: {}, trl: side, loads: [{ side: 'tensorflow', round: 1, load1: 1.5 }, { side: 'trl', round: 1, load1: 2.5 }], notes: [],
    // 2 cores × 2 FMA units × 16 lanes × 2 FLOP × 2 GHz = 256 GFLOP/s
    cpuPeak: cpuPeakFrom({ cpuinfo: 'flags\t\t: fpu sse2 avx avx2 fma avx512f\n', maxFreqKHz: '2000000\n', lscpu: null, usableCpus: 2 }),
  });
}

describe('bench report', () => {
  test("each side's MFU is against its own matmul peak, and each row names that peak", () => {
    const r = report();
    const gflop = (trainFlopsPerToken(config, T, 'lm') * tokens) / 1e9; // model GFLOP per DPO step
    const ours = r.results.find((x) => x.backend === 'tensorflow')!;
    const theirs = r.results.find((x) => x.backend === 'trl')!;
    expect(ours.achieved_gflops).toBeCloseTo(gflop / 1, 1);
    expect(theirs.achieved_gflops).toBeCloseTo(gflop / 2, 1);
    expect([ours.peak_gflops, theirs.peak_gflops]).toEqual([400, 200]);
    expect(ours.mfu).toBeCloseTo(gflop / 400, 3);
    expect(theirs.mfu).toBeCloseTo(gflop / 2 / 200, 3);
    // Half the speed against half the peak: the same MFU, though tokens/s differ 2x.
    expect(theirs.mfu).toBeCloseTo(ours.mfu!, 3);
    expect(r.matmul_over_torch).toEqual({ tensorflow: 2 });
  });

  test('MFU against the CPU peak: the same FLOPs over cores × units × lanes × 2 × clock, for both sides', () => {
    const r = report();
    expect(r.machine.cpu_peak!.gflops).toBe(256);
    const gflop = (trainFlopsPerToken(config, T, 'lm') * tokens) / 1e9;
    const ours = r.results.find((x) => x.backend === 'tensorflow')!;
    const theirs = r.results.find((x) => x.backend === 'trl')!;
    expect(ours.mfu_hw).toBeCloseTo(gflop / 256, 3);
    expect(theirs.mfu_hw).toBeCloseTo(gflop / 2 / 256, 3);
  });

  test('peak RSS per row, as each side measured it', () => {
    const r = report();
    expect(r.results.map((x) => [x.backend, x.peak_rss_mib, x.rss_source])).toEqual([
      ['tensorflow', 900, '/proc/self/status VmHWM'], ['trl', 1200.5, '/proc/self/status VmHWM'],
    ]);
  });

  test('both builds and thread counts are in the JSON', () => {
    const r = report();
    expect(r.command).toBe('rlhf bench --models tiny');
    expect(r.machine.usable_cpus).toBeGreaterThanOrEqual(1);
    expect(r.backends.tensorflow.build).toEqual(worker.build);
    expect(r.backends.tensorflow.matmul_median_gflops).toBe(300);
    const t = r.trl as TrlSide;
    expect([t.threads, t.interop_threads, t.usable_cpus, t.matmul_n, t.matmul_gflops, t.matmul_median_gflops]).toEqual([2, 2, 2, 64, 200, 180]);
    expect(t.build).toMatchObject({ blas: 'mkl', onednn: '3.12.0', cpu_capability: 'AVX512', parallel_backend: 'OpenMP', config: SHOW });
  });

  test('the markdown names both builds, both peaks and which peak each MFU column uses', () => {
    const md = toMarkdown(report());
    expect(md).toMatch(/^Measured \d{4}-\d\d-\d\d with `rlhf bench --models tiny`\./);
    expect(md).toMatch(/Machine: .*, \d+ of \d+ cores usable \(affinity mask and cgroup CPU quota\)/);
    expect(md).toContain('- tensorflow: 4.22.0 (TensorFlow 2.21.0); oneDNN on (TensorFlow start-up log; TF_ENABLE_ONEDNN_OPTS unset); threads: intra-op 2 (affinity mask, TensorFlow default), inter-op 2, fused kernels 2; matmul 64² 400 GFLOP/s (median 300): the peak its MFU is measured against');
    expect(md).toContain('torch 2.13.0+cpu: BLAS mkl, oneDNN 3.12.0, CPU capability AVX512, ATen OpenMP; threads: intra-op 2, inter-op 2 (2 usable CPUs); torch matmul 64² 200 GFLOP/s (median 180): the peak TRL\'s MFU is measured against');
    expect(md).toContain("- Matmul peaks over torch's: tensorflow 2.00x (64² both).");
    expect(md).toContain('- CPU theoretical float32 peak: 256 GFLOP/s = 2 cores × 2 FMA units (assumed) × 16 float32 lanes (avx512f) × 2 FLOP (FMA) × 2 GHz (clock from sysfs cpu0/cpufreq/cpuinfo_max_freq (maximum clock)). Measured matmul peaks as a share of it: tensorflow 156%, torch 78% (above 100%: the CPU ran faster than the clock read, e.g. a base clock under turbo).');
    const head = md.split('\n').find((l) => l.startsWith('| step'))!;
    expect(head).toContain('| MFU tensorflow (vs its matmul) | MFU TRL (vs torch matmul) | MFU vs CPU peak (tensorflow / TRL) | peak RSS MiB (tensorflow / TRL) |');
    const row = md.split('\n').find((l) => l.startsWith('| DPO step'))!;
    expect(row).toMatch(/\| 900 \/ 1,201 \|$/);
    expect(head).not.toContain('wasm / tensorflow');
  });

  test("README's table: dated, the command, the machine line with both peaks, one row per model and step", () => {
    const r = report();
    const mfu = (b: string) => `${(r.results.find((x) => x.backend === b)!.mfu! * 100).toFixed(1)}%`;
    const lines = toReadme(r).trim().split('\n');
    expect(lines[0]).toMatch(/^Measured \d{4}-\d\d-\d\d with `rlhf bench --models tiny`; 1-minute load average 1\.5–2\.5 when each side started\.$/);
    const hw = (b: string) => `${(r.results.find((x) => x.backend === b)!.mfu_hw! * 100).toFixed(1)}%`;
    expect(lines[1]).toMatch(/^Machine: .*cores usable.* Matmul peaks \(float32, fastest of 3\): tensorflow 400 GFLOP\/s at 64² \(4\.22\.0 \(TensorFlow 2\.21\.0\), oneDNN on\); torch 200 GFLOP\/s at 64² \(2\.13\.0\+cpu, BLAS mkl, oneDNN 3\.12\.0, CPU capability AVX512, ATen OpenMP\)\. CPU theoretical float32 peak: 256 GFLOP\/s = .* \(assumed\) .*\.$/);
    expect(lines.slice(3)).toEqual([
      '| model | step | native tok/s | TRL tok/s | native / TRL | wasm / TRL | MFU native (vs its matmul) | MFU TRL (vs torch matmul) | MFU native / TRL (vs CPU peak) | peak RSS native / TRL (MiB) |',
      '|---|---|---|---|---|---|---|---|---|---|',
      `| tiny (0.00M params) | DPO | 64 | 32 | 2.00x | — | ${mfu('tensorflow')} | ${mfu('trl')} | ${hw('tensorflow')} / ${hw('trl')} | 900 / 1,201 |`,
    ]);
  });

  test("wasm is reported against TRL (not against native), in the JSON and both tables", () => {
    const r = report([worker, wasm]);
    expect(r.ratios.find((x) => x.backend === 'wasm')).toMatchObject({ ours_over_trl: 0.5, best_over_best: 0.5 });
    expect('wasm_over_native' in r).toBe(false);
    expect(toReadme(r).split('\n').find((l) => l.startsWith('| tiny'))).toMatch(/^\| tiny \(0\.00M params\) \| DPO \| 64 \| 32 \| 2\.00x \| 0\.50x \|/);
    const md = toMarkdown(r);
    expect(md).toContain('| tensorflow / TRL | wasm / TRL |');
    expect(r.settings.layout).toBe('packed');
    expect(md).toContain("(DPO, reward, scoring: 4 rows on TRL's side, ours packed with each prompt computed once)");
    expect(toMarkdown({ ...r, settings: { ...r.settings, layout: 'padded' } })).toContain('(DPO, reward, scoring: 4 rows) or 2 sequences');
    // packed pair steps are credited with TRL's FLOPs: 16-token rows, prompt 4, so ours computes (4 + 2 × 12) / 32 of them
    expect(md).toContain("ours computes each prompt once, 4 + 2 × 12 of the 2 × 16 positions (87.5%), and its LM and score heads only where they are read, so its MFU can pass 100%");
    expect(toMarkdown({ ...r, settings: { ...r.settings, layout: 'padded' } })).not.toContain('computes each prompt once, 4');
    expect(md.split('\n').find((l) => l.startsWith('| DPO step'))).toMatch(/\| 2\.00x \(2\.00x\) \| 0\.50x \(0\.50x\) \|.*\| 900 \/ 700 \/ 1,201 \|$/);
  });

  test("on an AMD CPU, the TRL line says which code path torch's MKL took", () => {
    const trlLineOf = (md: string) => md.split('\n').find((l) => l.startsWith('- TRL '))!;
    const machineOf = (md: string) => md.split('\n').find((l) => l.startsWith('Machine: '))!;
    // Stock torch on AMD: MKL's generic path, and how to time TRL on its Intel path.
    const stock = toMarkdown(report([worker], trl, 'amd'));
    expect(trlLineOf(stock)).toContain("ATen OpenMP; MKL on an AMD CPU: its generic code path, as stock torch runs there (--torch-mkl-intel-path times TRL on MKL's Intel path); threads:");
    expect(machineOf(toReadme(report([worker], trl, 'amd')))).toContain('ATen OpenMP; MKL on an AMD CPU: its generic code path');
    // With the shim loaded (the Python side reports it), on any vendor.
    const shim = report([worker], { ...trl, mkl_shim: true }, 'amd');
    expect((shim.trl as TrlSide).mkl_shim).toBe(true);
    expect(trlLineOf(toMarkdown(shim))).toContain('ATen OpenMP; MKL on its Intel code path (--torch-mkl-intel-path: its vendor check answered by a preloaded shim); threads:');
    // Nothing to say on Intel, or where torch's BLAS is not MKL.
    expect(trlLineOf(toMarkdown(report([worker], trl, 'intel')))).not.toContain('MKL on');
    const openblas = { ...trl, build: { config: SHOW.replace('BLAS_INFO=mkl', 'BLAS_INFO=open'), parallel: 'ATen parallel backend: OpenMP' } };
    expect(trlLineOf(toMarkdown(report([worker], openblas, 'amd')))).not.toContain('MKL on');
    expect(report([worker], trl, 'amd').machine.cpu_vendor).toBe('amd');
  });

  test('the recorded command spells out every setting and the environment that changes either side', () => {
    const line = benchCommandLine({ ...options, models: ['stories260K', '15m'], backends: ['tensorflow', 'wasm'], kinds: ['dpo', 'reward'], rounds: 3, storiesDir: '/s' },
      { TF_ENABLE_ONEDNN_OPTS: '0', HOME: '/root' });
    expect(line).toBe('RLHF_PYTHON=py TF_ENABLE_ONEDNN_OPTS=0 rlhf bench --models stories260K,15m --backends tensorflow,wasm --kinds dpo,reward --steps 3 --warmup 1 --batch 2 --seq 16 --layout packed --rounds 3 --seed 3 --stories /s');
    expect(benchCommandLine({ ...options, trl: false, backends: ['cpu'] }, {})).toBe('rlhf bench --models tiny --backends cpu --kinds dpo --steps 3 --warmup 1 --cpu-steps 1 --cpu-warmup 1 --batch 2 --seq 16 --layout packed --rounds 1 --seed 3 --no-trl');
    expect(benchCommandLine({ ...options, trl: false, promptLen: 12, layout: 'padded' }, {})).toMatch(/ --seq 16 --prompt 12 --layout padded /);
    expect(benchCommandLine({ ...options, torchMklIntelPath: true }, {})).toMatch(/ --seed 3 --torch-mkl-intel-path$/);
    // Without a TRL side there is no MKL to steer: the flag is not written.
    expect(benchCommandLine({ ...options, trl: false, torchMklIntelPath: true }, {})).toMatch(/ --no-trl$/);
  });
});
