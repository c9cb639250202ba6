/**
 * Compare and score use each model's own training settings: β, max_length, max_prompt_length and truncation_mode
 * come from its rlhf.json (io/scoring-settings.ts), flags and recipe fields override, and the report says which
 * values were used and where from. The end-to-end case trains a policy at β 0.5 with keep_start and checks that
 * compare scores it with exactly those settings: its implicit margins equal an independent scoring with them, and
 * differ from a keep_end scoring (the data's prompts are longer than max_prompt_length, so the mode matters).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { compareRewards } from '../../src/report/compare';
import { scorePairs, type ScoringLengths } from '../../src/compare/scoring';
import { loadPreferences } from '../../src/data/read';
import type { CheckpointMeta } from '../../src/io/checkpoint';
import { overridesFrom, readCheckpointMeta, recordedReference, scoringSettings } from '../../src/io/scoring-settings';
import { loadPolicy, loadRewardModel } from '../../src/io/load-model';
import { loadRecipe, parseSetOption } from '../../src/recipes/load';
import { trainDpo, trainReward } from '../../src/train/stages';
import { judgeReward, positionBias } from '../../src/rewards/judge';
import { rlhf } from '../cli/helpers';

const meta = (o: Partial<CheckpointMeta>): CheckpointMeta => ({
  format: 'rlhf/v1', kind: 'policy', created: '2025-01-01T00:00:00Z', step: 1, tokenizer: { kind: 'byte', files: [] }, ...o,
});

describe('scoringSettings: override > the checkpoint\'s trained stage > default, each with its source', () => {
  const dpo = meta({ stage: 'dpo', recipe: { dpo: { beta: 0.5, max_length: 96, max_prompt_length: 32, truncation_mode: 'keep_start' } } });

  test('a DPO policy: every value from its dpo section', () => {
    expect(scoringSettings(dpo, {}, 'policy')).toEqual({
      values: { beta: 0.5, max_length: 96, max_prompt_length: 32, truncation_mode: 'keep_start' },
      sources: {
        beta: 'policy rlhf.json (dpo.beta)',
        max_length: 'policy rlhf.json (dpo.max_length)',
        max_prompt_length: 'policy rlhf.json (dpo.max_prompt_length)',
        truncation_mode: 'policy rlhf.json (dpo.truncation_mode)',
      },
    });
  });

  test('overrides win field by field, null included (no prompt limit)', () => {
    const r = scoringSettings(dpo, overridesFrom({ beta: 0.2, max_prompt_length: null }, (f) => `--${f}`), 'policy');
    expect(r.values).toEqual({ beta: 0.2, max_length: 96, max_prompt_length: null, truncation_mode: 'keep_start' });
    expect(r.sources.beta).toBe('--beta');
    expect(r.sources.max_prompt_length).toBe('--max_prompt_length');
    expect(r.sources.max_length).toBe('policy rlhf.json (dpo.max_length)');
  });

  test('no record (an import, config:NAME): the training defaults', () => {
    expect(scoringSettings(null)).toEqual({
      values: { beta: 0.1, max_length: 256, max_prompt_length: 128, truncation_mode: 'keep_end' },
      sources: { beta: 'default', max_length: 'default', max_prompt_length: 'default', truncation_mode: 'default' },
    });
  });

  test('a reward model reads its reward section; β is only ever a DPO stage\'s', () => {
    const rm = meta({ kind: 'reward', stage: 'reward', recipe: { reward: { max_length: 64, max_prompt_length: null, truncation_mode: 'drop' }, dpo: { beta: 0.7 } } });
    const r = scoringSettings(rm, {}, 'reward model');
    expect(r.values).toEqual({ beta: 0.1, max_length: 64, max_prompt_length: null, truncation_mode: 'drop' });
    expect(r.sources).toMatchObject({ beta: 'default', truncation_mode: 'reward model rlhf.json (reward.truncation_mode)' });
    const sft = meta({ stage: 'sft', recipe: { sft: { max_length: 80 }, dpo: { beta: 0.7, max_length: 999 } } });
    expect(scoringSettings(sft).values).toMatchObject({ beta: 0.1, max_length: 80 });
  });

  test('a checkpoint saved before rlhf.json named its stage: a policy reads dpo, a reward model reward; damaged values fall through', () => {
    expect(scoringSettings(meta({ recipe: { dpo: { beta: 0.3 } } })).values.beta).toBe(0.3);
    expect(scoringSettings(meta({ kind: 'reward', recipe: { reward: { max_length: 50 } } })).values.max_length).toBe(50);
    const bad = scoringSettings(meta({ stage: 'dpo', recipe: { dpo: { beta: -1, truncation_mode: 'middle', max_length: 'long' } } }));
    expect(bad.values).toEqual({ beta: 0.1, max_length: 256, max_prompt_length: 128, truncation_mode: 'keep_end' });
  });

  test('recordedReference: the named dpo.reference, else the parent; null when gone', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-ref-'));
    expect(recordedReference(meta({ stage: 'dpo', parent: dir, recipe: { dpo: {} } }))).toBe(dir);
    expect(recordedReference(meta({ stage: 'dpo', parent: dir, recipe: { dpo: { reference: 'config:tiny' } } }))).toBe('config:tiny');
    expect(recordedReference(meta({ parent: path.join(dir, 'gone') }))).toBeNull();
    expect(recordedReference(null)).toBeNull();
  });
});

describe('a policy trained at β 0.5 with keep_start is compared and scored with exactly those settings', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-scoring-settings-'));
  const data = path.join(root, 'pairs.jsonl');
  // Prompts of 40-60 bytes against a 12-token prompt limit: keep_start and keep_end keep different tokens.
  const pairs = Array.from({ length: 12 }, (_, i) => ({
    prompt: `Question ${i}: ${'tell me about the weather today, '.slice(0, 20 + 3 * i)}please?`,
    chosen: ` Sunny, ${i} degrees.`,
    rejected: ` No idea ${i}.`,
  }));
  fs.writeFileSync(data, pairs.map((p) => JSON.stringify(p)).join('\n') + '\n');
  const recipe = loadRecipe(undefined, [
    `data.train=${data}`, 'data.eval_count=4',
    'dpo.max_steps=1', 'dpo.batch_size=4', 'dpo.beta=0.5', 'dpo.truncation_mode=keep_start', 'dpo.max_length=40', 'dpo.max_prompt_length=12',
    'reward.max_steps=1', 'reward.batch_size=4', 'reward.max_length=64', 'reward.max_prompt_length=null',
  ].map(parseSetOption));
  const policyDir = path.join(root, 'dpo');
  const rmDir = path.join(root, 'rm');
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  beforeAll(async () => {
    await trainDpo(recipe, { out: policyDir, quiet: true, cacheDir: null });
    await trainReward(recipe, { out: rmDir, quiet: true, cacheDir: null });
  });

  test('rlhf.json records the stage and its settings', () => {
    const m = readCheckpointMeta(path.join(policyDir, 'final'))!;
    expect(m.stage).toBe('dpo');
    expect(scoringSettings(m, {}, 'policy').values).toEqual({ beta: 0.5, max_length: 40, max_prompt_length: 12, truncation_mode: 'keep_start' });
  });

  test('compare without flags scores each model with its own settings and says where they came from', async () => {
    const { records } = await loadPreferences(data);
    const { summary } = await compareRewards({ rewardModel: rmDir, policy: policyDir, data: records, out: path.join(root, 'cmp'), bootstrap: 0, quiet: true });
    const scoring = summary.settings.scoring!;
    expect(scoring.policy.values).toEqual({ beta: 0.5, max_length: 40, max_prompt_length: 12, truncation_mode: 'keep_start' });
    expect(Object.values(scoring.policy.sources)).toEqual([
      'policy rlhf.json (dpo.beta)', 'policy rlhf.json (dpo.max_length)', 'policy rlhf.json (dpo.max_prompt_length)', 'policy rlhf.json (dpo.truncation_mode)',
    ]);
    expect(scoring.reward_model.values).toEqual({ beta: 0.1, max_length: 64, max_prompt_length: null, truncation_mode: 'keep_end' });
    expect(summary.settings.beta).toBe(0.5);
    const json = JSON.parse(fs.readFileSync(path.join(root, 'cmp', 'comparison.json'), 'utf8'));
    expect(json.settings.scoring.policy.sources.truncation_mode).toBe('policy rlhf.json (dpo.truncation_mode)');
    expect(fs.readFileSync(path.join(root, 'cmp', 'comparison.md'), 'utf8')).toContain('| policy | truncation_mode | keep_start | policy rlhf.json (dpo.truncation_mode) |');

    // The same numbers as an independent scoring with exactly those settings; not those of keep_end.
    const pol = loadPolicy(policyDir, { trainable: false });
    const ref = loadPolicy('config:tiny', { trainable: false, seed: recipe.seed });
    const rm = loadRewardModel(rmDir, { trainable: false });
    try {
      const score = async (lengths: ScoringLengths, beta: number) => scorePairs(records, {
        reward: { model: rm.model, tokenizer: rm.tokenizer, lengths: { maxLength: 64, maxPromptLength: null, truncation: 'keep_end' } },
        policy: { model: pol.model, tokenizer: pol.tokenizer, reference: ref.model, beta, lengths },
        batchSize: 16,
      });
      const asTrained = await score({ maxLength: 40, maxPromptLength: 12, truncation: 'keep_start' }, 0.5);
      const keepEnd = await score({ maxLength: 40, maxPromptLength: 12, truncation: 'keep_end' }, 0.5);
      const margins = (s: typeof asTrained, side: 'implicit' | 'explicit') => s.map((p) => p[side].chosen - p[side].rejected);
      const reported = summary.per_pair!.map((p) => p.implicit_margin);
      margins(asTrained, 'implicit').forEach((m, i) => expect({ i, d: Math.abs(m - reported[i]) < 1e-5 }).toEqual({ i, d: true }));
      margins(asTrained, 'explicit').forEach((m, i) => expect({ i, d: Math.abs(m - summary.per_pair![i].explicit_margin) < 1e-5 }).toEqual({ i, d: true }));
      const moved = margins(keepEnd, 'implicit').filter((m, i) => Math.abs(m - reported[i]) > 1e-4).length;
      expect(moved).toBeGreaterThan(records.length / 2);
    } finally {
      [pol, ref, rm].forEach((m) => m.model.dispose());
    }
  });

  test('compare --judge: every pair and probe asked in both orders; the numbers are judge:MODEL\'s own', async () => {
    const { records } = await loadPreferences(data);
    const probes = path.join(root, 'probes.jsonl');
    const REPO = path.resolve(__dirname, '../..');
    fs.writeFileSync(probes, fs.readFileSync(path.join(REPO, 'data/probes/viewpoint.jsonl'), 'utf8').split('\n').slice(0, 8).join('\n') + '\n');
    // Any causal LM can judge: here the DPO policy itself (byte tokenizer: labels A and B, read after a space).
    const { summary } = await compareRewards({ rewardModel: rmDir, policy: policyDir, judge: policyDir, data: records, probes, out: path.join(root, 'cmp3'), bootstrap: 0, quiet: true });
    const judge = judgeReward(policyDir);
    try {
      const direct = await judge.scorePairs(records.map((r) => r.prompt as string), records.map((r) => r.chosen as string), records.map((r) => r.rejected as string));
      summary.per_pair!.forEach((p, i) => expect({ i, d: Math.abs(p.judge_margin! - direct.score[i]) < 1e-5 }).toEqual({ i, d: true }));
      expect(summary.judge!.accuracy).toBe(direct.score.filter((v) => v > 0).length / records.length);
      expect(summary.judge!.position_bias).toMatchObject(positionBias(direct.ab, direct.ba));
    } finally {
      judge.dispose();
    }
    expect(summary.reward_pairs!.map((r) => r.rewards.join('-'))).toEqual(['explicit-implicit', 'explicit-judge', 'implicit-judge']);
    expect(summary.probe_sets).toHaveLength(1);
    expect(summary.probe_sets[0].rewards.map((r) => [r.reward, r.n])).toEqual([['explicit', 8], ['implicit', 8], ['judge', 8]]);
    const md = fs.readFileSync(path.join(root, 'cmp3', 'comparison.md'), 'utf8');
    expect(md).toContain('judge (generative)');
    expect(md).toContain('## Three rewards');
    expect(fs.readFileSync(path.join(root, 'cmp3', 'report.html'), 'utf8')).toContain(`judge ${path.join(policyDir)} (labels A/B)`);
  }, 120000);

  test('rlhf score reads β from the policy; --beta overrides it and says so', async () => {
    const ref = path.join(root, 'ref-is-config-tiny');
    const args = ['score', '--model', policyDir, '--reference', 'config:tiny', '--data', data, '--quiet'];
    const own = await rlhf(...args, '--out', `${ref}-own.jsonl`);
    expect(own.code).toBe(0);
    expect(own.json().settings).toMatchObject({ values: { beta: 0.5, truncation_mode: 'keep_start' }, sources: { beta: 'policy rlhf.json (dpo.beta)' } });
    const flagged = await rlhf(...args, '--beta', '0.1', '--out', `${ref}-flag.jsonl`);
    expect(flagged.json().settings).toMatchObject({ values: { beta: 0.1 }, sources: { beta: '--beta' } });
    const rows = (f: string) => fs.readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const a = rows(`${ref}-own.jsonl`);
    const b = rows(`${ref}-flag.jsonl`);
    a.forEach((r, k) => {
      expect(r.implicit_reward).toBeCloseTo(0.5 * (r.policy_logp - r.reference_logp), 4);
      expect(b[k].implicit_reward).toBeCloseTo(0.1 * (b[k].policy_logp - b[k].reference_logp), 4);
      expect(b[k].policy_logp).toBe(r.policy_logp); // same tokens, only β differs
    });
  });
});
