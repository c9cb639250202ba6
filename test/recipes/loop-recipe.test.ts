/**
 * recipes/loop.json on tiny overrides: `rlhf run` trains SFT, then the reward model and DPO, then GRPO from the SFT policy
 * against that reward model (the default when grpo.reward is empty), with held-out reward and KL before and after;
 * then the reward–KL frontier (best-of-n by the reward model and by DPO's implicit reward against the oracle, the DPO
 * policy as a point, GRPO's checkpoints as RL points);
 * a second run skips every training stage as up to date. (Its full-size figures are in README.md, "The loop".)
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadRecipe, parseSetOption } from '../../src/recipes/load';
import { runPipeline } from '../../src/run/pipeline';
import type { OnlineStageSummary } from '../../src/train/online-stages';

const REPO = path.resolve(__dirname, '../..');

test('loop.json: SFT -> reward model -> DPO -> GRPO against the reward model -> frontier, on tiny overrides', async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-loop-'));
  const sets = [
    'data.limit=16', 'sft.max_steps=2', 'reward.max_steps=2', 'dpo.max_steps=2', 'grpo.max_steps=2', 'grpo.eval_count=4', 'grpo.batch_size=8',
    'grpo.max_new_tokens=8', 'compare.enabled=false', 'frontier.n_max=2', 'frontier.max_prompts=2', 'frontier.max_new_tokens=8',
    'frontier.samples_per_policy=1', `out=${out}`,
  ];
  const recipe = loadRecipe(path.join(REPO, 'recipes', 'loop.json'), sets.map(parseSetOption), REPO);
  const res = await runPipeline(recipe, { quiet: true, cacheDir: null });
  expect(res.stages.map((s) => [s.stage, s.status])).toEqual([['sft', 'trained'], ['reward', 'trained'], ['dpo', 'trained'], ['grpo', 'trained'], ['frontier', 'trained']]);
  // The frontier: best-of-n by the run's reward model against the oracle, GRPO's final model as an RL point.
  const fj = JSON.parse(fs.readFileSync(path.join(out, 'frontier', 'frontier.json'), 'utf8'));
  expect(fj.proxies).toEqual([path.join(out, 'reward', 'final'), `implicit:${path.join(out, 'dpo', 'final')}`]);
  // Per proxy: best-of-1 and best-of-2, the DPO policy as a point, GRPO's final model (step 2) as an RL point.
  const pointsOf = (proxy: string) => fj.points
    .filter((p: { proxy: string }) => p.proxy === proxy)
    .map((p: { method: string; n?: number; step?: number }) => `${p.method}:${p.n ?? p.step ?? '-'}`)
    .sort();
  for (const proxy of fj.proxies) expect({ proxy, points: pointsOf(proxy) }).toEqual({ proxy, points: ['bon:1', 'bon:2', 'policy:-', 'rl:2'] });
  const g = res.stages.find((s) => s.stage === 'grpo')!.summary as OnlineStageSummary;
  expect(g.parent).toBe(path.join(out, 'sft', 'final'));
  expect(g.reference).toBe(path.join(out, 'sft', 'final'));
  expect(g.rewards).toEqual([{ name: path.join(out, 'reward', 'final'), weight: 1 }]);
  expect(g.steps).toBe(2);
  for (const k of ['eval_reward', 'eval_kl']) expect(Number.isFinite(g.eval![k])).toBe(true);
  expect(g.eval_initial!.eval_kl).toBe(0);
  const again = await runPipeline(recipe, { quiet: true, cacheDir: null });
  expect(again.stages.map((s) => s.status)).toEqual(['skipped', 'skipped', 'skipped', 'skipped', 'trained']); // the audit reruns, as compare does
}, 600000);
