/**
 * The online trainers on the shared loop, on a tiny random Llama with the byte tokenizer and a reward the test
 * defines (how many "e" a completion has): no leaks after a burn-in step (fixed lengths, see examples()) (GRPO with a reference and
 * num_iterations 2, RLOO with its KL-in-reward, online DPO), exact resume including the sampling streams (4 steps
 * against 3 + SIGINT-style stop + resume, stopping between the two uses of one rollout), online DPO's labels, and
 * bad input failing in one line before the output folder exists.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { presetConfig } from '../../src/io/load-model';
import { GRPO_DEFAULTS, resolveDpoConfig } from '../../src/losses';
import { LanguageModel } from '../../src/model/language-model';
import { RecipeSchema } from '../../src/recipes/schema';
import type { RewardSource } from '../../src/rewards/types';
import { ByteTokenizer } from '../../src/tokenizer/byte';
import { grpoPreparedJson, grpoTask, type GrpoPrepared } from '../../src/train/grpo';
import { runTrainingLoop, type LoopOptions, type TrainTask } from '../../src/train/loop';
import { PromptBatches, type OnlineBatch, type PromptExample } from '../../src/train/online';
import { onlineDpoPreparedJson, onlineDpoTask, type OnlineDpoPrepared } from '../../src/train/online-dpo';
import { trainGrpo, trainOnlineDpo } from '../../src/train/online-stages';
import { DEFAULT_ADAMW } from '../../src/train/optimizer';

const tok = new ByteTokenizer();
const countE: RewardSource = { name: 'count-e', score: async (_p, c) => c.map((x) => (x.match(/e/g) ?? []).length) };
const PROMPTS = ['The cat', 'Once', 'A red', 'We went', 'She said', 'Here is', 'Look at', 'My dog'];

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-online-'));

function promptsFile(dir: string, prompts = PROMPTS): string {
  const f = path.join(dir, 'prompts.jsonl');
  fs.writeFileSync(f, prompts.map((p) => JSON.stringify({ prompt: p })).join('\n') + (prompts.length ? '\n' : ''));
  return f;
}

/** Prompts of one length and completions that never stop early: every batch has one sequence length, so the model's
 * per-length caches (causal masks, at most 4 lengths) are filled by the burn-in and cannot pass for a leak. */
function examples(): PromptExample[] {
  return ['The c', 'Once ', 'A red', 'We we', 'She s', 'Here ', 'Look ', 'My do'].map((text, i) => ({ ids: [tok.bosId, ...tok.encode(text)], text, source: `prompts:${i + 1}` }));
}

function loopOptions(dir: string, steps: number): LoopOptions {
  return {
    maxSteps: steps, gradientAccumulationSteps: 1, lr: 1e-3, schedule: 'constant', warmupSteps: 0,
    adamw: DEFAULT_ADAMW, maxGradNorm: 1, logEvery: 100, evalEvery: 0, saveEvery: 0, keepLast: 1, outDir: dir, quiet: true,
  };
}

/** One burn-in run (Adam's slots, kernels), then a 3-step run must end with as many tensors as it started. */
async function leakCheck<P>(task: TrainTask<OnlineBatch<P>>, source: () => PromptBatches<P>, dir: string): Promise<void> {
  await runTrainingLoop(task, source(), null, loopOptions(dir, 1));
  const before = tf.memory().numTensors;
  await runTrainingLoop(task, source(), null, loopOptions(dir, 3));
  expect(tf.memory().numTensors).toBe(before);
}

const sampling = { n: 4, maxNewTokens: 6, temperature: 1, topK: 0, topP: 1, stopTokenIds: [] as number[] };
const noSave = async () => {};

describe('online trainers: no leaks', () => {
  const config = presetConfig('tiny', tok);

  test.each([
    ['GRPO (dapo, β 0.04, num_iterations 2)', { ...GRPO_DEFAULTS, beta: 0.04, num_iterations: 2 }],
    ['RLOO (β 0.05: KL in the reward)', { ...GRPO_DEFAULTS, advantage: 'rloo' as const, beta: 0.05 }],
  ])('%s', async (_name, loss) => {
    const policy = LanguageModel.random(config, 1);
    const reference = policy.clone({ trainable: false });
    const task = grpoTask(policy, { loss, sampling, reward: { sources: [countE], weights: [1] }, tokenizer: tok, reference, loadReference: null, seed: 3 }, noSave);
    await leakCheck(task, () => new PromptBatches<GrpoPrepared>(examples(), 2, { seed: 3, shuffle: true }, loss.num_iterations, grpoPreparedJson.toJson, grpoPreparedJson.fromJson), tmp());
    policy.dispose();
    reference.dispose();
  }, 300000);

  test('online DPO (sigmoid)', async () => {
    const policy = LanguageModel.random(config, 1);
    const reference = policy.clone({ trainable: false });
    const task = onlineDpoTask(policy, { loss: resolveDpoConfig({ beta: 0.1 }), sampling: { ...sampling, n: 2 }, reward: { sources: [countE], weights: [1] }, tokenizer: tok, reference, seed: 3 }, noSave);
    await leakCheck(task, () => new PromptBatches<OnlineDpoPrepared>(examples(), 2, { seed: 3, shuffle: true }, 1, onlineDpoPreparedJson.toJson, onlineDpoPreparedJson.fromJson), tmp());
    policy.dispose();
    reference.dispose();
  }, 300000);
});

function grpoRecipe(dir: string, grpo: Record<string, unknown> = {}) {
  return RecipeSchema.parse({
    model: 'config:tiny', tokenizer: 'byte', seed: 5, data: { train: promptsFile(dir) },
    grpo: { reward: ['count-e'], num_generations: 4, batch_size: 8, max_new_tokens: 6, max_steps: 4, eval_count: 2, learning_rate: 1e-3, logging_steps: 100, ...grpo },
  });
}

const rowsOf = (dir: string) => fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));

describe('GRPO stage', () => {
  test('exact resume: 4 steps equal 3 steps, a stop and a resume (sampling streams and a half-used rollout included)', async () => {
    const dir = tmp();
    const settings = { num_iterations: 2, beta: 0.04 };
    const a = await trainGrpo(grpoRecipe(dir, settings) as never, { out: path.join(dir, 'a'), rewards: [countE], quiet: true });
    const stopped = await trainGrpo(grpoRecipe(dir, settings) as never, { out: path.join(dir, 'b'), rewards: [countE], quiet: true, stopAfterStep: 3 });
    expect(stopped.stopped_by).toBe('signal');
    const b = await trainGrpo(grpoRecipe(dir, settings) as never, { out: path.join(dir, 'b'), rewards: [countE], quiet: true, resume: true });
    expect(b.steps).toBe(4);
    expect(rowsOf(path.join(dir, 'b'))).toEqual(rowsOf(path.join(dir, 'a')));
    expect(b.eval).toEqual(a.eval);
    expect(b.eval_initial).toEqual(a.eval_initial);
    const weights = (d: string) => fs.readFileSync(path.join(d, 'final', 'model.safetensors'));
    expect(weights(path.join(dir, 'b')).equals(weights(path.join(dir, 'a')))).toBe(true);
    // The summary contract, and TRL's metric names in the rows.
    for (const k of ['eval_reward', 'eval_kl']) expect(typeof a.eval![k]).toBe('number');
    expect(typeof a.eval_initial!.eval_reward).toBe('number');
    expect(a.eval_initial!.eval_kl).toBe(0); // before the first step the policy is the reference
    const row = rowsOf(path.join(dir, 'a'))[0];
    for (const k of ['loss', 'reward', 'reward_std', 'rewards/count-e/mean', 'rewards/count-e/std', 'kl', 'entropy', 'completions/mean_length', 'completions/clipped_ratio', 'clip_ratio/region_mean', 'frac_reward_zero_std', 'num_tokens']) {
      expect([k, typeof row[k]]).toEqual([k, 'number']);
    }
  }, 600000);

  test('RLOO through the stage (advantage rloo): runs, logs kl, summary says rloo', async () => {
    const dir = tmp();
    const s = await trainGrpo(grpoRecipe(dir, { advantage: 'rloo', beta: 0.05, max_steps: 2, eval_count: 0 }) as never, { out: path.join(dir, 'r'), rewards: [countE], quiet: true });
    expect(s.stage).toBe('rloo');
    expect(s.eval_initial).toBeNull();
    expect(Number.isFinite(s.train.kl)).toBe(true);
  }, 300000);

  test('bad input fails in one line before the output folder exists', async () => {
    const dir = tmp();
    const out = path.join(dir, 'out');
    const run = (r: unknown, rewards: RewardSource[] = [countE]) => trainGrpo(r as never, { out, rewards, quiet: true });
    await expect(run(grpoRecipe(dir, { num_generations: 1, batch_size: 8 }))).rejects.toThrow(/grpo\.num_generations is 1; GRPO compares samples of a prompt, so it needs an integer >= 2/);
    await expect(run(grpoRecipe(dir, { batch_size: 6 }))).rejects.toThrow(/batch_size 6 .* not a multiple of num_generations 4/);
    const empty = RecipeSchema.parse({ ...grpoRecipe(dir), data: { train: promptsFile(tmp(), []) } });
    await expect(run(empty)).rejects.toThrow(/no prompts in the file/);
    await expect(trainGrpo(grpoRecipe(dir, { reward: ['no/such/rm'] }) as never, { out, quiet: true })).rejects.toThrow(/reward spec "no\/such\/rm"/);
    expect(fs.existsSync(out)).toBe(false);
    // A reward that returns NaN: the error names the reward and the prompt's file:line.
    const nan: RewardSource = { name: 'broken', score: async (p) => p.map(() => NaN) };
    await expect(run(grpoRecipe(dir), [nan])).rejects.toThrow(/reward broken gave NaN for a completion of the prompt at .*prompts\.jsonl:\d+/);
  }, 300000);
});

describe('online DPO stage', () => {
  test('runs, the chosen sample never scores below the rejected one, summary has eval_reward', async () => {
    const dir = tmp();
    const recipe = RecipeSchema.parse({
      model: 'config:tiny', tokenizer: 'byte', seed: 5, data: { train: promptsFile(dir) },
      online_dpo: { reward: ['count-e'], batch_size: 4, max_new_tokens: 8, max_steps: 3, eval_count: 2, learning_rate: 1e-3, loss_type: 'sigmoid' },
    });
    const s = await trainOnlineDpo(recipe as never, { out: path.join(dir, 'o'), rewards: [countE], quiet: true });
    expect(s.stage).toBe('online-dpo');
    const rows = rowsOf(path.join(dir, 'o')).filter((r) => 'loss' in r && !('eval_loss' in r));
    expect(rows).toHaveLength(3);
    for (const r of rows) expect(r['objective/scores_margin']).toBeGreaterThanOrEqual(0);
    expect(typeof s.eval!.eval_reward).toBe('number');
    expect(typeof s.eval_initial!.eval_reward).toBe('number');
  }, 300000);
});
