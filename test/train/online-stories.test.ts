/**
 * Done-means of the online trainers on stories260K (the shared folder's tiny story model): with a reward the test
 * defines (how often the word "the" appears in a completion), GRPO raises the held-out reward well above its value
 * before the first step within 100 steps and reports eval_kl; online DPO with the same function reward raises its
 * mean on held-out prompts. (A function reward, not a trained reward model: training one first would multiply this
 * test's time on a shared 2-core machine; recipes/loop.json runs GRPO against a trained reward model.)
 * Small settings keep it to a few minutes: 2 prompts × 4 samples × 16 new tokens per step.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { RecipeSchema } from '../../src/recipes/schema';
import type { RewardSource } from '../../src/rewards/types';
import { trainGrpo, trainOnlineDpo } from '../../src/train/online-stages';
import { describeIf } from '../helpers/gates';
import { sharedFiles, sharedPath } from '../helpers/shared';

const countThe: RewardSource = { name: 'count-the', score: async (_p, c) => c.map((x) => (x.match(/\bthe\b/gi) ?? []).length) };

const PROMPTS = [
  'Once upon a time', 'One day', 'Lily went to', 'Tom had a', 'The sun was', 'A little dog', 'There was a', 'Ben and Mia',
  'Sam liked to', 'The bird', 'Mom said', 'In the park', 'Max was a', 'Sue saw', 'The cat and', 'Anna and her',
];

function recipe(dir: string, section: 'grpo' | 'online_dpo', s: Record<string, unknown>) {
  const prompts = path.join(dir, 'prompts.jsonl');
  fs.writeFileSync(prompts, PROMPTS.map((p) => JSON.stringify({ prompt: p })).join('\n') + '\n');
  return RecipeSchema.parse({
    model: sharedPath('models/stories260K/hf'), seed: 7, data: { train: prompts },
    [section]: { reward: ['count-the'], eval_count: 4, max_new_tokens: 16, learning_rate: 2e-3, lr_scheduler_type: 'constant', logging_steps: 1000, ...s },
  });
}

describeIf(sharedFiles('models/stories260K/hf/model.safetensors', 'models/stories260K/hf/tokenizer.json'), 'online trainers on stories260K', () => {
  test('GRPO raises eval_reward well above eval_initial within 100 steps and reports eval_kl', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-grpo-stories-'));
    const s = await trainGrpo(recipe(dir, 'grpo', { num_generations: 4, batch_size: 8, max_steps: 40 }) as never, { out: path.join(dir, 'run'), rewards: [countThe], quiet: true });
    const before = s.eval_initial!.eval_reward;
    const after = s.eval!.eval_reward;
    process.stderr.write(`GRPO stories260K: eval_reward ${before} -> ${after}, eval_kl ${s.eval!.eval_kl}, ${s.steps} steps, ${s.wall_seconds.toFixed(0)} s\n`);
    expect(s.steps).toBeLessThanOrEqual(100);
    expect(after).toBeGreaterThan(before + 1); // at least one more "the" per completion on average
    expect(after).toBeGreaterThan(2 * before);
    expect(s.eval!.eval_kl).toBeGreaterThan(0);
    expect(s.eval_initial!.eval_kl).toBe(0);
  }, 900000);

  test('online DPO raises the reward\'s mean on held-out prompts', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-odpo-stories-'));
    const s = await trainOnlineDpo(recipe(dir, 'online_dpo', { batch_size: 8, max_steps: 40, beta: 0.1, learning_rate: 5e-4 }) as never, { out: path.join(dir, 'run'), rewards: [countThe], quiet: true });
    const before = s.eval_initial!.eval_reward;
    const after = s.eval!.eval_reward;
    process.stderr.write(`online DPO stories260K: eval_reward ${before} -> ${after}, eval_kl ${s.eval!.eval_kl}, ${s.steps} steps, ${s.wall_seconds.toFixed(0)} s\n`);
    expect(after).toBeGreaterThan(before + 0.5);
  }, 900000);
});
