/**
 * One GRPO step (sampling + reward-model scoring + one update) beside TRL 1.13's GRPOTrainer on the same weights,
 * prompts and settings: P prompts × G generations × N new tokens (default 8 × 8 × 64), every row exactly N tokens
 * (no stop tokens here; min_new_tokens = N there), temperature 1, the dapo loss, β 0 (no reference), lr 1e-6,
 * the reward a LlamaForSequenceClassification made from the policy's backbone (bench/models.ts).
 * Both sides see the completions as text and the reward model re-reads them, as TRL does: token i is written
 * "<i>" (an id tokenizer on both sides), so decoding and re-tokenising give back the very ids.
 *
 *   node bench/run-ts.js bench/grpo.ts [--model stories260K|15m|tiny] [--prompts 8] [--generations 8]
 *     [--new-tokens 64] [--steps 3] [--warmup 1] [--no-trl] [--json]
 *
 * Prints ms per step (median of --steps after --warmup) and completion tokens/s for each side and the ratio.
 * Does NOT: belong to `rlhf bench`'s kinds yet (a standalone script), or run in the unit tests.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { currentBackend, initBackend } from '../src/backend';
import { defaultStoriesDir, prepareModel } from '../src/bench/models';
import { makeWorkload, samplePromptIds } from '../src/bench/workload';
import { loadPolicy, loadRewardModel } from '../src/io/load-model';
import { GRPO_DEFAULTS } from '../src/losses';
import type { RewardSource } from '../src/rewards/types';
import type { Tokenizer } from '../src/tokenizer/types';
import { grpoPreparedJson, grpoTask, type GrpoPrepared } from '../src/train/grpo';
import { runTrainingLoop } from '../src/train/loop';
import { PromptBatches } from '../src/train/online';
import { DEFAULT_ADAMW } from '../src/train/optimizer';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : dflt;
}

/** Token i <-> "<i>". */
function idTokenizer(vocab: number, pad: number, bos: number | null, eos: number): Tokenizer {
  return {
    kind: 'ids', vocabSize: vocab, bosId: bos, eosId: eos, padId: pad, hasOwnPad: true,
    encode: (s: string) => [...s.matchAll(/<(\d+)>/g)].map((m) => Number(m[1])),
    decode: (ids: number[]) => ids.map((i) => `<${i}>`).join(''),
    save: () => [],
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function ours(dirs: { policy: string; reward: string }, prompts: number[][], tok: Tokenizer, o: { G: number; N: number; steps: number; warmup: number }): Promise<number[]> {
  const policy = loadPolicy(dirs.policy).model;
  const rm = loadRewardModel(dirs.reward, { trainable: false }).model;
  // The reward model reads prompt + completion text back into ids (right-padded), as TRL's reward path does.
  const reward: RewardSource = {
    name: 'rm',
    score: async (p, c) => {
      const rows = p.map((x, i) => tok.encode(x + c[i]));
      const T = Math.max(...rows.map((r) => r.length));
      const s = tf.tidy(() => {
        const ids = tf.tensor2d(rows.map((r) => [...r, ...new Array(T - r.length).fill(tok.padId)]), [rows.length, T], 'int32');
        const mask = tf.tensor2d(rows.map((r) => [...r.map(() => 1), ...new Array(T - r.length).fill(0)]), [rows.length, T]);
        return rm.scores(ids, mask);
      });
      const v = Array.from(await s.data());
      s.dispose();
      return v;
    },
  };
  const examples = prompts.map((ids, i) => ({ ids, text: tok.decode(ids), source: `bench:${i}` }));
  const task = grpoTask(policy, {
    loss: { ...GRPO_DEFAULTS }, sampling: { n: o.G, maxNewTokens: o.N, temperature: 1, topK: 0, topP: 1, stopTokenIds: [] },
    reward: { sources: [reward], weights: [1] }, tokenizer: tok, reference: null, loadReference: null, seed: 1,
  }, async () => {});
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-bench-grpo-'));
  const ms: number[] = [];
  for (let i = 0; i < o.warmup + o.steps; i++) {
    const batches = new PromptBatches<GrpoPrepared>(examples, examples.length, 1 + i, 1, grpoPreparedJson.toJson, grpoPreparedJson.fromJson);
    const t0 = Date.now();
    await runTrainingLoop(task, batches, null, {
      maxSteps: 1, gradientAccumulationSteps: 1, lr: 1e-6, schedule: 'constant', warmupSteps: 0, adamw: { ...DEFAULT_ADAMW, weightDecay: 0 },
      maxGradNorm: 1, logEvery: 1000, evalEvery: 0, saveEvery: 0, keepLast: 1, outDir: dir, quiet: true, reportTo: ['none'],
    });
    if (i >= o.warmup) ms.push(Date.now() - t0);
  }
  policy.dispose();
  rm.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
  return ms;
}

function trl(dirs: { policy: string; reward: string }, prompts: number[][], ids: { vocab: number; pad: number; bos: number | null; eos: number }, o: { G: number; N: number; steps: number; warmup: number }): { ms: number[]; versions: Record<string, string> } {
  const python = process.env.RLHF_PYTHON || 'python3';
  const job = { policy_dir: dirs.policy, reward_dir: dirs.reward, prompts, num_generations: o.G, new_tokens: o.N, steps: o.steps, warmup: o.warmup, ...ids };
  const r = spawnSync(python, [path.join(__dirname, 'trl_grpo.py')], { input: JSON.stringify(job), encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`trl_grpo.py failed (${r.status}): ${r.stderr.split('\n').slice(-5).join(' | ')}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

async function main(): Promise<void> {
  const model = arg('model', 'stories260K');
  const o = { P: Number(arg('prompts', '8')), G: Number(arg('generations', '8')), N: Number(arg('new-tokens', '64')), steps: Number(arg('steps', '3')), warmup: Number(arg('warmup', '1')) };
  await initBackend(arg('backend', 'auto') as never);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-bench-grpo-models-'));
  const m = prepareModel(model, root, { storiesDir: defaultStoriesDir(), seed: 0 });
  const w = makeWorkload({ vocab: m.config.vocab_size, samplePrompts: o.P, newTokens: o.N, seqLen: 64, seed: 0 });
  const prompts = samplePromptIds(w);
  const tok = idTokenizer(m.config.vocab_size, m.specialIds.pad, m.specialIds.bos, m.specialIds.eos);
  const oursMs = await ours(m.dirs, prompts, tok, o);
  const tokens = o.P * o.G * o.N;
  const result: Record<string, unknown> = {
    model, backend: currentBackend()?.name ?? tf.getBackend(), prompts: o.P, generations: o.G, new_tokens: o.N, completion_tokens_per_step: tokens,
    ours: { ms: oursMs, median_ms: median(oursMs), tokens_per_s: tokens / (median(oursMs) / 1000) },
  };
  if (!process.argv.includes('--no-trl')) {
    const t = trl(m.dirs, prompts, { vocab: m.config.vocab_size, pad: m.specialIds.pad, bos: m.specialIds.bos, eos: m.specialIds.eos }, o);
    result.trl = { ms: t.ms, median_ms: median(t.ms), tokens_per_s: tokens / (median(t.ms) / 1000), versions: t.versions };
    result.ours_over_trl = median(t.ms) / median(oursMs);
  }
  fs.rmSync(root, { recursive: true, force: true });
  if (process.argv.includes('--json')) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  else {
    const r = result as { ours: { median_ms: number; tokens_per_s: number }; trl?: { median_ms: number; tokens_per_s: number }; ours_over_trl?: number };
    process.stdout.write(`grpo step, ${model}, ${o.P} prompts x ${o.G} generations x ${o.N} new tokens on ${result.backend}: ours ${r.ours.median_ms} ms (${r.ours.tokens_per_s.toFixed(0)} completion tok/s)` +
      (r.trl ? `, TRL GRPOTrainer ${r.trl.median_ms.toFixed(0)} ms (${r.trl.tokens_per_s.toFixed(0)} tok/s), ours/TRL speed ${r.ours_over_trl!.toFixed(2)}x` : '') + '\n');
  }
}

void main();
