/**
 * recipes/loop.json on tiny overrides: `rlhf run` trains SFT, then the reward model, then GRPO from the SFT policy
 * against that reward model (the default when grpo.reward is empty), with held-out reward and KL before and after;
 * then the reward–KL frontier (best-of-n by the reward model against the oracle, GRPO's checkpoints as RL points);
 * a second run skips every training stage as up to date. (Its full-size figures are in README.md, "The loop".)
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadRecipe, parseSetOption } from '../../src/recipes/load';
import { runPipeline } from '../../src/run/pipeline';
import type { OnlineStageSummary } from '../../src/train/online-stages';

const REPO = path.resolve(__dirname, '../..');

test('loop.json: SFT -> reward model -> GRPO against it, on tiny overrides', async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-loop-'));
  const sets = [
    'data.limit=16', 'sft.max_steps=2', 'reward.max_steps=2', 'grpo.max_steps=2', 'grpo.eval_count=4', 'grpo.batch_size=8',
    'grpo.max_new_tokens=8', 'compare.enabled=false', 'frontier.n_max=2', 'frontier.max_prompts=2', 'frontier.max_new_tokens=8',
    'frontier.samples_per_policy=1', `out=${out}`,
  ];
  const recipe = loadRecipe(path.join(REPO, 'recipes', 'loop.json'), sets.map(parseSetOption), REPO);
  const res = await runPipeline(recipe, { quiet: true, cacheDir: null });
  expect(res.stages.map((s) => [s.stage, s.status])).toEqual([['sft', 'trained'], ['reward', 'trained'], ['grpo', 'trained'], ['frontier', 'trained']]);
  // The frontier: best-of-n by the run's reward model against the oracle, GRPO's final model as an RL point.
  const fj = JSON.parse(fs.readFileSync(path.join(out, 'frontier', 'frontier.json'), 'utf8'));
  expect(fj.proxies).toEqual([path.join(out, 'reward', 'final')]);
  expect(fj.points.map((p: { method: string; n?: number; step?: number }) => `${p.method}:${p.n ?? p.step}`)).toEqual(['bon:1', 'bon:2', 'rl:2']);
  const g = res.stages[2].summary as OnlineStageSummary;
  expect(g.parent).toBe(path.join(out, 'sft', 'final'));
  expect(g.reference).toBe(path.join(out, 'sft', 'final'));
  expect(g.rewards).toEqual([{ name: path.join(out, 'reward', 'final'), weight: 1 }]);
  expect(g.steps).toBe(2);
  for (const k of ['eval_reward', 'eval_kl']) expect(Number.isFinite(g.eval![k])).toBe(true);
  expect(g.eval_initial!.eval_kl).toBe(0);
  const again = await runPipeline(recipe, { quiet: true, cacheDir: null });
  expect(again.stages.map((s) => s.status)).toEqual(['skipped', 'skipped', 'skipped', 'trained']); // the audit reruns, as compare does
}, 600000);
