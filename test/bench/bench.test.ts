/**
 * `rlhf bench` runs end to end on a tiny model and emits well-formed output. No timing is asserted
 * (the machine is shared and noisy): only structure, counts, FLOP arithmetic and that the steps ran.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { main } from '../../src/cli/main';
import { forwardFlopsPerToken, matmulWeights, trainFlopsPerToken } from '../../src/bench/flops';
import type { BenchOptions } from '../../src/bench/options';
import { runBench } from '../../src/bench/run';
import { usableCpus } from '../../src/bench/build-info';
import { BENCH_FORMAT, stepFlopsPerToken, toMarkdown, type BenchReport, type TrlSide } from '../../src/bench/report';
import { median, spread } from '../../src/bench/stats';
import { grpoPromptIds, IdTokenizer } from '../../src/bench/grpo-step';
import { makeWorkload, pairBatch, pairIds, pairIdsJson, pairsAsRead, samplePromptIds, sequenceBatch } from '../../src/bench/workload';
import { isPacked } from '../../src/data/packing';
import { PRESETS } from '../../src/model/families';
import { parseLlamaConfig } from '../../src/model/families/llama';
import { describeIf } from '../helpers/gates';
import { nativeBackend } from '../helpers/native';
import { pythonWith, PYTHON } from '../helpers/python';

const quiet = () => {};

function options(o: Partial<BenchOptions>): BenchOptions {
  return {
    models: ['tiny'], backends: ['cpu'], kinds: ['dpo', 'reward', 'sft', 'score'], steps: 1, warmup: 1, cpuSteps: 1, cpuWarmup: 1,
    batch: 2, seqLen: 16, trl: false, python: PYTHON, storiesDir: '/nonexistent', seed: 3, matmulN: { cpu: 64, tensorflow: 64, wasm: 64 },
    matmulReps: 1, rounds: 1, log: quiet, ...o,
  };
}

describe('bench arithmetic', () => {
  test('FLOPs of the 15m preset follow 6N + 12·L·T·d', () => {
    const c = parseLlamaConfig({ ...PRESETS['15m'], vocab_size: 512 });
    const N = 6 * (4 * 288 * 288 + 3 * 288 * 768) + 512 * 288; // layers' projections + tied head
    expect(matmulWeights(c, 'lm')).toBe(N);
    expect(trainFlopsPerToken(c, 256, 'lm')).toBe(6 * N + 12 * 6 * 256 * 288);
    expect(forwardFlopsPerToken(c, 256, 'score')).toBe(2 * (N - 512 * 288 + 288) + 4 * 6 * 256 * 288);
  });

  test('median and spread', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(spread([1, 2, 3])).toBe(1);
    expect(spread([5])).toBe(0);
  });

  test('workload: same seed, same ids; prompt + completion layout; no padding', () => {
    const w = makeWorkload({ vocab: 50, batch: 2, seqLen: 8, seed: 9 });
    expect(pairIds(w)).toEqual(pairIds(makeWorkload({ vocab: 50, batch: 2, seqLen: 8, seed: 9 })));
    const b = pairBatch(w);
    expect(b.inputIds.length).toBe(2 * 2 * 8);
    expect(Math.min(...b.inputIds)).toBeGreaterThanOrEqual(3);
    expect(Array.from(b.completionMask.subarray(0, 8))).toEqual([0, 0, 1, 1, 1, 1, 1, 1]);
    expect(Array.from(b.attentionMask).every((x) => x === 1)).toBe(true);
    const j = pairIdsJson(w);
    // Row 0 (chosen of pair 0) and row 2 (rejected of pair 0) share the prompt; the JSON holds the same ids.
    expect(Array.from(b.inputIds.subarray(0, 8))).toEqual([...j[0].prompt_ids, ...j[0].chosen_ids]);
    expect(Array.from(b.inputIds.subarray(16, 24))).toEqual([...j[0].prompt_ids, ...j[0].rejected_ids]);
    expect(Array.from(sequenceBatch(w).inputIds)).toEqual(Array.from(b.inputIds.subarray(0, 16)));
  });

  test('workload layouts: packed (default) lays each prompt out once, padded is the 2B rows; the same tokens either way', () => {
    const w = makeWorkload({ vocab: 50, batch: 2, seqLen: 8, promptLen: 3, seed: 9 });
    expect(w.layout).toBe('packed');
    const packed = pairsAsRead(w);
    const padded = pairsAsRead({ ...w, layout: 'padded' });
    if (!isPacked(packed) || isPacked(padded)) throw new Error('expected a packed and a padded batch');
    expect(padded.inputIds).toEqual(pairBatch(w).inputIds);
    // Two pairs of 3 prompt + 5 completion tokens: 2·(8 + 5) cells laid out against 4·8 padded ones.
    expect(packed.placed).toBe(2 * (8 + 5));
    expect(packed.tokens).toBe(2 * 2 * 8);
    expect(packed.paddedCells).toBe(padded.inputIds.length);
  });
});

function checkReport(r: BenchReport, backends: string[]): void {
  expect(r.format).toBe(BENCH_FORMAT);
  expect(Object.keys(r.backends).sort()).toEqual([...backends].sort());
  expect(r.models.tiny.params).toBeGreaterThan(0);
  for (const b of backends) {
    expect(r.backends[b].matmul_gflops).toBeGreaterThan(0);
    for (const kind of ['dpo', 'reward', 'sft', 'score'] as const) {
      const row = r.results.find((x) => x.model === 'tiny' && x.kind === kind && x.backend === b)!;
      expect(row).toBeDefined();
      expect(row.tokens_per_step).toBe((kind === 'sft' ? 1 : 2) * 2 * 16);
      expect(row.ms.length).toBe(1);
      expect(row.tokens_per_s).toBeCloseTo(row.tokens_per_step / (row.median_ms / 1000), -1);
      expect(row.mfu).toBeGreaterThan(0);
      expect(row.tensor_growth).toBe(0); // after the warm-up step (Adam slots, kept tables): no leak
      // Each step ran in a process of its own; its peak RSS holds at least the node runtime and the backend.
      expect(row.peak_rss_mib).toBeGreaterThan(30);
      expect(row.rss_source).toBe('/proc/self/status VmHWM');
      expect(r.tokens_per_s.tiny[kind]![b]).toBe(row.tokens_per_s);
    }
  }
  expect(r.errors).toEqual([]);
}

describe('rlhf bench', () => {
  test('runBench on the tiny model, cpu backend, one process per model and step; stories260K absent is a note', async () => {
    const r = await runBench(options({ models: ['tiny', 'stories260K'] }));
    checkReport(r, ['cpu']);
    expect(r.notes.join(' ')).toMatch(/stories260K skipped: no HF folder at \/nonexistent/);
    expect('skipped' in r.trl).toBe(true);
    const md = toMarkdown(r);
    expect(md).toMatch(/#### tiny \(0\.\d+M params\)/);
    expect(md).toMatch(/\| DPO step .* \| .* tok\/s|DPO step/);
    expect(md.split('\n').filter((l) => l.startsWith('| ')).length).toBe(5); // header + 4 step kinds
  });

  test('the CLI prints exactly one JSON object with --json', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-cli-'));
    const out: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      out.push(String(s));
      return true;
    });
    let code: number;
    try {
      code = await main(['bench', '--models', 'tiny', '--backends', 'cpu', '--steps', '1', '--warmup', '0', '--cpu-warmup', '1',
        '--batch', '2', '--seq', '16', '--no-trl', '--json', '--quiet', '--out', path.join(dir, 'b.json')]);
    } finally {
      spy.mockRestore();
    }
    expect(code).toBe(0);
    const text = out.join('');
    expect(text.trim().split('\n')).toHaveLength(1);
    const r = JSON.parse(text) as BenchReport;
    checkReport(r, ['cpu']);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'b.json'), 'utf8')).format).toBe(BENCH_FORMAT);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('unknown backends and kinds are one-line usage errors', async () => {
    const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await main(['bench', '--backends', 'tpu'])).toBe(1);
      expect(String(err.mock.calls.map((c) => c[0]).join(''))).toMatch(/--backends tpu: expected a comma-separated list of tensorflow, wasm, cpu; unknown: tpu/);
      expect(await main(['bench', '--json', '--readme'])).toBe(1);
      expect(String(err.mock.calls.map((c) => c[0]).join(''))).toMatch(/--json and --readme both choose what is printed; pick one/);
      expect(await main(['bench', '--seq', '16', '--prompt', '16'])).toBe(1);
      expect(String(err.mock.calls.map((c) => c[0]).join(''))).toMatch(/--prompt must be an integer from 1 to --seq minus 1 \(15\); got 16/);
    } finally {
      err.mockRestore();
    }
  });
});

describe('rlhf bench sampling kinds', () => {
  test('sample and greedy: new tokens per step = prompts × new tokens, ragged seeded prompts, no leak', async () => {
    const r = await runBench(options({ kinds: ['sample', 'greedy'], samplePrompts: 3, newTokens: 5, cpuSteps: 2 }));
    expect(r.errors).toEqual([]);
    expect(r.settings).toMatchObject({ sample_prompts: 3, new_tokens: 5 });
    for (const kind of ['sample', 'greedy'] as const) {
      const row = r.results.find((x) => x.kind === kind && x.backend === 'cpu')!;
      expect(row).toMatchObject({ tokens_per_step: 15, tensor_growth: 0, decoder: 'tfjs' }); // cpu backend: the TF.js decoder
      expect(row.ms).toHaveLength(2);
    }
    expect(toMarkdown(r)).toMatch(/Sampling: 3 prompts of 2-4 tokens \(left-padded\), 5 new tokens each/);
    const w = makeWorkload({ vocab: 50, seqLen: 16, samplePrompts: 6, seed: 2 });
    const prompts = samplePromptIds(w);
    expect(prompts).toEqual(samplePromptIds(makeWorkload({ vocab: 50, seqLen: 16, samplePrompts: 6, seed: 2 })));
    expect(prompts.map((p) => p.length).every((n) => n >= 2 && n <= 4)).toBe(true);
    expect(new Set(prompts.map((p) => p.length)).size).toBeGreaterThan(1); // ragged
    expect(Math.min(...prompts.flat())).toBeGreaterThanOrEqual(3); // no special ids
  });
});

describe('rlhf bench grpo kind', () => {
  test('one GRPO step = 8 prompts × 8 generations × new tokens, a fresh rollout each step, no leak', async () => {
    const r = await runBench(options({ kinds: ['grpo'], newTokens: 3, cpuSteps: 2, cpuWarmup: 1 }));
    expect(r.errors).toEqual([]);
    const row = r.results.find((x) => x.kind === 'grpo' && x.backend === 'cpu')!;
    expect(row).toMatchObject({ tokens_per_step: 8 * 8 * 3, tensor_growth: 0 });
    expect(row.ms).toHaveLength(2);
    // FLOPs per completion token: sampling, reward model and reference forwards on top of the training pass.
    const c = parseLlamaConfig({ ...PRESETS.tiny, vocab_size: 512 });
    expect(stepFlopsPerToken(c, 20, 'grpo')).toBeCloseTo(2 * forwardFlopsPerToken(c, 20, 'lm') + forwardFlopsPerToken(c, 20, 'score') + trainFlopsPerToken(c, 20, 'lm'), 6);
    expect(toMarkdown(r)).toMatch(/GRPO: one step = 8 prompts × 8 generations × 3 completion tokens/);
  });

  test('the id tokenizer both sides share: token i is "<i>", concatenated', () => {
    const tok = new IdTokenizer(50, 0);
    expect(tok.decode([5, 17, 3])).toBe('<5><17><3>');
    expect(tok.encode('<5><17>' + '<3>')).toEqual([5, 17, 3]); // prompt + completion, as TRL joins them
    const w = makeWorkload({ vocab: 50, seqLen: 16, seed: 2 });
    expect(grpoPromptIds(w)).toEqual(samplePromptIds({ ...w, samplePrompts: 16 }).slice(0, 8)); // the sampling kinds' first 8
  });
});

describeIf(pythonWith(['torch', 'transformers', 'trl', 'datasets', 'tokenizers']), 'rlhf bench beside TRL', () => {
  test('grpo beside TRL\'s GRPOTrainer on the same folders and prompts', async () => {
    const r = await runBench(options({ kinds: ['grpo'], newTokens: 3, trl: true }));
    expect(r.errors).toEqual([]);
    const trl = r.results.find((x) => x.kind === 'grpo' && x.backend === 'trl')!;
    expect(trl).toMatchObject({ tokens_per_step: 8 * 8 * 3 });
    expect(trl.ms).toHaveLength(1);
    expect(r.ratios.find((x) => x.kind === 'grpo' && x.backend === 'cpu')!.ours_over_trl).toBeGreaterThan(0);
  });

  test('sampling kinds beside transformers\' generate on the same prompts', async () => {
    const r = await runBench(options({ kinds: ['sample', 'greedy'], samplePrompts: 3, newTokens: 5, trl: true }));
    expect(r.errors).toEqual([]);
    for (const kind of ['sample', 'greedy'] as const) {
      expect(r.results.find((x) => x.kind === kind && x.backend === 'trl')).toMatchObject({ tokens_per_step: 15 });
      expect(r.ratios.find((x) => x.kind === kind && x.backend === 'cpu')!.ours_over_trl).toBeGreaterThan(0);
    }
  });

  test('TRL rows and ours/TRL ratios for the same tiny model', async () => {
    const r = await runBench(options({ kinds: ['dpo', 'score'], trl: true }));
    expect('versions' in r.trl).toBe(true);
    for (const kind of ['dpo', 'score'] as const) {
      const trl = r.results.find((x) => x.kind === kind && x.backend === 'trl')!;
      expect(trl.tokens_per_step).toBe(2 * 2 * 16);
      expect(trl.ms.length).toBe(1);
      expect(r.ratios.find((x) => x.kind === kind && x.backend === 'cpu')!.ours_over_trl).toBeGreaterThan(0);
      // TRL's MFU is against torch's own matmul, measured at the tensorflow side's size (64 here).
      expect(trl.peak_gflops).toBe((r.trl as TrlSide).matmul_gflops);
      // One Python process per kind (torch alone is well over 100 MiB resident), read as ours is read.
      expect(trl.peak_rss_mib).toBeGreaterThan(100);
      expect(trl.rss_source).toBe('/proc/self/status VmHWM');
      // (achieved_gflops is rounded to 0.1 and mfu to 0.001 in the report)
      expect(Math.abs(trl.mfu! * trl.peak_gflops! - trl.achieved_gflops)).toBeLessThanOrEqual(0.05 + 0.0005 * trl.peak_gflops! + 1e-9);
    }
    const t = r.trl as TrlSide;
    // torch's pools are sized as ours: the CPUs this process may use.
    expect([t.threads, t.interop_threads, t.usable_cpus]).toEqual([usableCpus(), usableCpus(), usableCpus()]);
    expect(t.matmul_n).toBe(64);
    expect(t.matmul_ms).toHaveLength(1);
    expect(t.matmul_gflops).toBeGreaterThan(0);
    expect(t.build!.blas).toMatch(/\w/); // torch names its BLAS (mkl, open, ...)
    expect(t.build!.parallel).toMatch(/at::get_num_threads\(\) : \d+/);
    expect(r.matmul_over_torch.cpu).toBeCloseTo(r.backends.cpu.matmul_gflops! / t.matmul_gflops!, 1);
    expect(r.errors).toEqual([]);
  });
});

describeIf(nativeBackend, 'rlhf bench on the tensorflow backend records its build', () => {
  /** One tiny scoring step on tensorflow with TF_ENABLE_ONEDNN_OPTS set to `opts` for the worker. */
  async function run(opts: string): Promise<BenchReport> {
    const saved = process.env.TF_ENABLE_ONEDNN_OPTS;
    process.env.TF_ENABLE_ONEDNN_OPTS = opts;
    try {
      return await runBench(options({ backends: ['tensorflow'], kinds: ['score'], warmup: 0 }));
    } finally {
      if (saved === undefined) delete process.env.TF_ENABLE_ONEDNN_OPTS;
      else process.env.TF_ENABLE_ONEDNN_OPTS = saved;
    }
  }

  test("oneDNN on / off as TensorFlow's own log says, the setting and the thread pools", async () => {
    for (const [opts, state] of [['1', 'on'], ['0', 'off']] as const) {
      const b = (await run(opts)).backends.tensorflow.build!;
      expect([b.onednn, b.tf_enable_onednn_opts]).toEqual([state, opts]);
      expect(b.threads.intra_op).toBe(process.env.TF_NUM_INTRAOP_THREADS ? Number(process.env.TF_NUM_INTRAOP_THREADS) : os.availableParallelism());
      expect(b.threads.inter_op).toBeGreaterThanOrEqual(1);
    }
  }, 120000);
});
