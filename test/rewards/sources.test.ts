/**
 * The model-backed reward sources on stories260K give the numbers compare gives for the same pairs: a reward
 * checkpoint's score of (prompt, completion) equals `rlhf score`'s reward of that pair side, and implicit:POLICY
 * equals its implicit reward, each read with the settings the model was trained with (a policy trained at β 0.5,
 * keep_start, a 12-token prompt limit; a reward model at max_length 48) — to 1e-6. The reference-free variants are
 * β·Σ log πθ and β·Σ log πθ / tokens of the same scoring; spec options override; combine weighs them.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { scoreResponses, type ExplicitRow, type ImplicitRow } from '../../src/compare/score';
import { loadPreferences } from '../../src/data/read';
import type { PreferenceRecord } from '../../src/data/types';
import { loadRecipe, parseSetOption } from '../../src/recipes/load';
import { bestOfNRun } from '../../src/rewards/bon';
import { combineRewards, parseRewardSpec, parseRewardSpecs, rewardStats, type RewardSource } from '../../src/rewards';
import { trainDpo, trainReward } from '../../src/train/stages';
import { rlhf } from '../cli/helpers';
import { describeIf } from '../helpers/gates';
import { sharedFiles, sharedPath } from '../helpers/shared';

const MODEL = 'models/stories260K/stories260K.bin';
const TOK = 'models/stories260K/tok512.bin';

describeIf(sharedFiles(MODEL, TOK), 'reward sources on stories260K equal compare\'s scoring', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-reward-sources-'));
  const data = path.join(root, 'pairs.jsonl');
  const pairs = Array.from({ length: 10 }, (_, i) => ({
    prompt: `Once upon a time, ${'there was a little girl who liked to play in the park, '.slice(0, 15 + 4 * i)}`,
    chosen: ` She was happy ${i} times.`,
    rejected: ` The dog ran ${i === 3 ? '' : 'away '}fast.`,
  }));
  fs.writeFileSync(data, pairs.map((p) => JSON.stringify(p)).join('\n') + '\n');
  const policyDir = path.join(root, 'dpo');
  const rmDir = path.join(root, 'rm');
  let records: PreferenceRecord[] = [];
  const prompts = () => records.flatMap((r) => [r.prompt as string, r.prompt as string]);
  const completions = () => records.flatMap((r) => [r.chosen as string, r.rejected as string]);
  const opened: RewardSource[] = [];
  const open = (spec: string, ctx = {}) => {
    const r = parseRewardSpec(spec, ctx);
    opened.push(r);
    return r;
  };

  beforeAll(async () => {
    const recipe = loadRecipe(undefined, [
      `model=${sharedPath(MODEL)}`, `tokenizer=${sharedPath(TOK)}`, `data.train=${data}`,
      'dpo.max_steps=1', 'dpo.batch_size=4', 'dpo.beta=0.5', 'dpo.truncation_mode=keep_start', 'dpo.max_length=40', 'dpo.max_prompt_length=12',
      'reward.max_steps=1', 'reward.batch_size=4', 'reward.max_length=48', 'reward.max_prompt_length=null',
    ].map(parseSetOption));
    await trainDpo(recipe, { out: policyDir, quiet: true, cacheDir: null });
    await trainReward(recipe, { out: rmDir, quiet: true, cacheDir: null });
    records = (await loadPreferences(data)).records;
  }, 300_000);
  afterAll(() => {
    opened.forEach((r) => r.dispose?.());
    fs.rmSync(root, { recursive: true, force: true });
  });

  const expectClose = (got: number[], want: number[], tol = 1e-6) => {
    expect(got).toHaveLength(want.length);
    const worst = Math.max(...got.map((g, i) => Math.abs(g - want[i])));
    expect({ worst, ok: worst <= tol }).toEqual({ worst, ok: true });
  };

  test('a reward checkpoint folder: the reward head, as rlhf score gives it', async () => {
    const want = ((await scoreResponses({ model: rmDir, data: records, quiet: true })).rows as ExplicitRow[]).map((r) => r.reward);
    const r = open(rmDir);
    expect(r.name).toBe(rmDir);
    expect(r.describe!()).toMatchObject({ kind: 'reward_model', settings: { values: { max_length: 48, max_prompt_length: null } } });
    expectClose(await r.score(prompts(), completions()), want);
    // Batching does not change a row's score.
    expectClose(await open(`${rmDir}?max_length=48`, { batchSize: 3 }).score(prompts(), completions()), want);
  });

  test('implicit:POLICY reads β 0.5, keep_start and the reference from rlhf.json; = rlhf score\'s implicit reward', async () => {
    // The sources read one padded row per side; rlhf score by default one row per pair with the prompt computed
    // once (the same up to float rounding: test/compare/scoring.test.ts). Equal to 1e-6 means the same layout.
    const rows = (await scoreResponses({ model: policyDir, reference: sharedPath(MODEL), data: records, quiet: true, sharePrompt: false })).rows as ImplicitRow[];
    const r = open(`implicit:${policyDir}`);
    expect(r.describe!()).toMatchObject({ kind: 'implicit', variant: 'ratio', settings: { values: { beta: 0.5, truncation_mode: 'keep_start', max_prompt_length: 12 } } });
    const got = await r.score(prompts(), completions());
    expectClose(got, rows.map((x) => x.implicit_reward));
    // Not a comparison of zeros: one DPO step moved the policy, and keep_end (not how it was trained) scores other tokens.
    expect(Math.max(...got.map(Math.abs))).toBeGreaterThan(1e-3);
    const keepEnd = await open(`implicit:${policyDir}?truncation_mode=keep_end`).score(prompts(), completions());
    expect(keepEnd.filter((k, i) => Math.abs(k - got[i]) > 1e-4).length).toBeGreaterThan(got.length / 2);
    // A named reference gives the same (it is the recorded one); the reference-free variants use the same log-probs.
    expectClose(await open(`implicit:${policyDir},${sharedPath(MODEL)}`).score(prompts(), completions()), got);
    expectClose(await open(`implicit-sum:${policyDir}`).score(prompts(), completions()), rows.map((x) => 0.5 * x.policy_logp), 1e-5);
    expectClose(await open(`implicit-mean:${policyDir}`).score(prompts(), completions()), rows.map((x) => (0.5 * x.policy_logp) / x.tokens), 1e-6);
    // A spec option wins over rlhf.json: β 0.2 scales the same log-prob difference.
    expectClose(await open(`implicit:${policyDir}?beta=0.2`).score(prompts(), completions()), got.map((g) => (g * 0.2) / 0.5), 1e-5);
  });

  test('a flag-level override is under the spec\'s own option; truncation_mode drop makes an over-long row an error', async () => {
    const flag = { overrides: { beta: { value: 0.3, source: '--beta' } } };
    expect(open(`implicit-sum:${policyDir}`, flag).describe!()).toMatchObject({ settings: { values: { beta: 0.3 }, sources: { beta: '--beta' } } });
    expect(open(`implicit-sum:${policyDir}?beta=0.7`, flag).describe!()).toMatchObject({ settings: { values: { beta: 0.7 }, sources: { beta: 'reward spec ?beta' } } });
    const drop = open(`${rmDir}?truncation_mode=drop&max_length=12`);
    await expect(drop.score(prompts(), completions())).rejects.toThrow(/row 0 cannot be scored within max_length 12 .*truncation_mode drop, from reward spec \?truncation_mode\); add \?truncation_mode=keep_end/);
  });

  test('combine: weighted sum, and each source\'s own scores for rewards/<name>/mean|std', async () => {
    const [rm, imp] = parseRewardSpecs([rmDir, `implicit:${policyDir}`]);
    opened.push(rm, imp);
    const a = await rm.score(prompts(), completions());
    const b = await imp.score(prompts(), completions());
    const both = combineRewards([rm, imp], [1, -0.5]);
    const d = await both.scoreDetailed(prompts(), completions());
    expect(d.perSource).toEqual({ [rmDir]: a, [`implicit:${policyDir}`]: b });
    expectClose(d.total, a.map((x, i) => x - 0.5 * b[i]), 1e-12);
    expect(await both.score(prompts(), completions())).toEqual(d.total);
    const stats = rewardStats(d);
    expect(stats[`rewards/${rmDir}/mean`]).toBeCloseTo(a.reduce((s, x) => s + x, 0) / a.length, 10);
    expect(Object.keys(stats)).toHaveLength(4);
  });

  test('dispose frees the weights (no tensor left from loading and scoring); a disposed source refuses to score', async () => {
    const before = tf.memory().numTensors;
    for (const spec of [rmDir, `implicit:${policyDir}`, `implicit-mean:${policyDir}`]) {
      const s = parseRewardSpec(spec);
      await s.score(prompts(), completions());
      expect(tf.memory().numTensors).toBeGreaterThan(before);
      s.dispose!();
      expect({ spec, left: tf.memory().numTensors - before }).toEqual({ spec, left: 0 });
    }
    const r = parseRewardSpec(rmDir);
    r.dispose!();
    r.dispose!();
    await expect(r.score(['a'], ['b'])).rejects.toThrow('used after dispose()');
  });

  test('a policy is not a reward model; a policy with no recorded reference needs one', () => {
    expect(() => open(policyDir)).toThrow(/has no score head .* use implicit:/);
    expect(() => open(`implicit:${sharedPath(MODEL)}`)).toThrow(/no reference given and none recorded .*implicit-sum:/);
  });

  test('rlhf score --reward SPEC: any source per pair side; a checkpoint spec gives --model\'s rows', async () => {
    const byModel = await scoreResponses({ model: rmDir, data: records, quiet: true });
    const bySpec = await scoreResponses({ reward: rmDir, data: records, quiet: true });
    expect(bySpec.kind).toBe('reward');
    expect(bySpec.rows.map((r) => [r.id, r.side])).toEqual(byModel.rows.map((r) => [r.id, r.side]));
    expectClose((bySpec.rows as ExplicitRow[]).map((r) => r.reward), (byModel.rows as ExplicitRow[]).map((r) => r.reward));
    expect(bySpec.settings!.values.max_length).toBe(48);
    const fn = path.join(root, 'words.mjs');
    fs.writeFileSync(fn, 'export default (p, c) => c.trim().split(/\\s+/).length;');
    const res = await rlhf('score', '--reward', `fn:${fn}`, '--data', data, '--out', path.join(root, 'fn.jsonl'), '--quiet');
    expect(res.code).toBe(0);
    expect(res.json()).toMatchObject({ rows: 20, settings: null, reward: { kind: 'fn', file: fn } });
    const rows = fs.readFileSync(path.join(root, 'fn.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.map((r) => r.reward)).toEqual(pairs.flatMap((p) => [p.chosen.trim().split(/\s+/).length, p.rejected.trim().split(/\s+/).length]));
    const both = await rlhf('score', '--reward', `fn:${fn}`, '--model', rmDir, '--data', data);
    expect(both.code).toBe(1);
    expect(both.stderr).toContain('score needs exactly one of --model');
    const ref = await rlhf('score', '--reward', `implicit:${policyDir}`, '--reference', 'config:tiny', '--data', data);
    expect(ref.stderr).toContain('with --reward write it into the spec: --reward implicit:POLICY,config:tiny');
  });

  test('best-of-n from the DPO policy, picked by the reward model, measured by its implicit reward: the files hold those sources\' scores', async () => {
    const out = path.join(root, 'bon');
    const tensors = tf.memory().numTensors;
    const summary = await bestOfNRun({ policy: policyDir, reward: rmDir, gold: `implicit:${policyDir}`, prompts: data, n: '1,3', maxNewTokens: 12, seed: 5, out, quiet: true });
    expect(tf.memory().numTensors).toBe(tensors); // the policy and both rewards were disposed
    expect(summary).toMatchObject({ prompt_count: 10, samples_per_prompt: 3, reward: rmDir, gold: `implicit:${policyDir}` });
    const samples = fs.readFileSync(path.join(out, 'samples.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(samples).toHaveLength(30);
    // The preference file's prompts, as the rewards saw them: re-scoring (prompt, completion) gives the same numbers.
    const ps = samples.map((x) => pairs[x.prompt_index].prompt);
    const cs = samples.map((x) => x.completion);
    expect(new Set(cs).size).toBeGreaterThan(10);
    expectClose(samples.map((x) => x.reward), await open(rmDir).score(ps, cs), 1e-6);
    expectClose(samples.map((x) => x.gold_reward), await open(`implicit:${policyDir}`).score(ps, cs), 1e-6);
    const [one, three] = summary.results;
    expect(one.reward_mean).toBeCloseTo(samples.filter((x) => x.sample_index === 0).reduce((a, x) => a + x.reward, 0) / 10, 6);
    expect(three.reward_mean).toBeGreaterThanOrEqual(one.reward_mean);
  }, 120_000);
});
