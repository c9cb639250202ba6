/**
 * Training a generative judge (train/judge.ts, stages.ts trainJudge, `rlhf judge`):
 *   - a pair becomes two sequences, chosen shown first with label_a as target and swapped with label_b, tokenised
 *     exactly as judge:MODEL reads them (the ids before the label are judgeInputIds of the judge's text), and an
 *     over-long text keeps BOS and its end (the labels follow the end);
 *   - the stage on config:tiny: rlhf.json records the template text and labels, judge:MODEL reads them back without
 *     being told, and the held-out accuracy in summary.json is what that loaded judge gives on the same pairs;
 *   - bad input is one line: an unknown placeholder in --template, labels that are no single tokens.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { newCollateStats } from '../../src/data/collate';
import { loadTrainEval } from '../../src/data';
import type { PreferenceRecord } from '../../src/data/types';
import { loadRecipe, parseSetOption } from '../../src/recipes/load';
import { DEFAULT_JUDGE_TEMPLATE, judgeInputIds, judgeReward, judgeText, labelTokens, parseJudgeTemplate } from '../../src/rewards/judge';
import { ByteTokenizer } from '../../src/tokenizer/byte';
import { judgeExamples } from '../../src/train/judge';
import { trainJudge } from '../../src/train/stages';
import { rlhf } from '../cli/helpers';

const REPO = path.resolve(__dirname, '../..');
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-judge-stage-'));

describe('judge examples', () => {
  const tok = new ByteTokenizer();
  const t = parseJudgeTemplate(DEFAULT_JUDGE_TEMPLATE);
  const labels = labelTokens(t, tok);
  const r: PreferenceRecord = { prompt: 'What is 2 + 2?', chosen: 'Four.', rejected: 'Five.', id: 'r1', source: 'x.jsonl:1' };

  test('both orders, the better label as the one target token, the same ids the judge reads', () => {
    const stats = newCollateStats();
    const [first, second] = judgeExamples(r, tok, t, labels, 512, stats)!;
    const a = judgeInputIds(tok, judgeText(t, r.prompt as string, 'Four.', 'Five.'), labels.suffix, 511);
    const b = judgeInputIds(tok, judgeText(t, r.prompt as string, 'Five.', 'Four.'), labels.suffix, 511);
    expect(first.seq).toEqual({ ids: [...a, tok.encode('A')[0]], completionStart: a.length });
    expect(second.seq).toEqual({ ids: [...b, tok.encode('B')[0]], completionStart: b.length });
    expect(tok.decode(first.seq.ids)).toContain('Answer A: Four.\n\nAnswer B: Five.\n\nThe better answer is A');
    expect(tok.decode(second.seq.ids)).toContain('Answer A: Five.\n\nAnswer B: Four.\n\nThe better answer is B');
    expect(stats).toMatchObject({ kept: 1, truncatedTotal: 0 });
  });

  test('an over-long text keeps BOS and its end, so the label still follows the cue', () => {
    const stats = newCollateStats();
    const [first] = judgeExamples(r, tok, t, labels, 40, stats)!;
    expect(first.seq.ids).toHaveLength(40);
    expect(first.seq.ids[0]).toBe(tok.bosId);
    expect(tok.decode(first.seq.ids)).toMatch(/The better answer is A$/);
    expect(stats.truncatedTotal).toBe(2);
  });
});

describe('rlhf judge on config:tiny', () => {
  const root = tmp();
  const data = path.join(REPO, 'data/prefs.jsonl');
  const recipe = () =>
    loadRecipe(undefined, [
      parseSetOption('model="config:tiny"'),
      parseSetOption(`data.train=${data}`),
      parseSetOption('data.limit=48'),
      parseSetOption('data.eval_count=12'),
      parseSetOption('judge.max_steps=4'),
      parseSetOption('judge.batch_size=8'),
      parseSetOption('judge.max_length=200'),
      parseSetOption('judge.learning_rate=0.003'),
      parseSetOption('judge.labels=["X","Y"]'),
    ]);

  test('records template and labels; judge:MODEL reads them back and reproduces the held-out accuracy', async () => {
    const r = recipe();
    const s = await trainJudge(r, { out: path.join(root, 'judge'), quiet: true });
    expect(s.stage).toBe('judge');
    expect(s.steps).toBe(4);
    expect(s.data.eval_examples).toBe(12);
    const meta = JSON.parse(fs.readFileSync(path.join(s.model, 'rlhf.json'), 'utf8'));
    expect(meta.stage).toBe('judge');
    expect(meta.recipe.judge).toMatchObject({ template_text: DEFAULT_JUDGE_TEMPLATE, labels: ['X', 'Y'] });
    const tok = new ByteTokenizer();
    expect(s.judge).toMatchObject({ eval_pairs: 12, labels: ['X', 'Y'], label_ids: [tok.encode('X')[0], tok.encode('Y')[0]], label_suffix: ' ' });
    // The held-out pairs are the seeded eval split of the same file: recompute the accuracy with judge:MODEL.
    const judge = judgeReward(s.model, { maxLength: 199 });
    try {
      expect(judge.judge.template.labels).toEqual(['X', 'Y']);
      const { eval: held } = await loadTrainEval({ data, evalCount: 12, seed: r.seed }, { limit: 48 });
      const v = await judge.scorePairs(held.map((p) => p.prompt as string), held.map((p) => p.chosen as string), held.map((p) => p.rejected as string));
      expect(s.judge!.eval_accuracy).toBe(v.score.filter((x) => x > 0).length / 12);
    } finally {
      judge.dispose();
    }
  }, 300000);

  test('bad input is one line: an unknown placeholder, labels that are no single tokens', async () => {
    const bad = path.join(root, 'bad.txt');
    fs.writeFileSync(bad, 'Q: {question}\nA: {a}\nB: {b}\nBetter:');
    const r1 = await rlhf('judge', '--model', 'config:tiny', '--data', data, '--limit', '16', '--eval-count', '4', '--template', bad, '--out', path.join(root, 'j1'));
    expect(r1.code).toBe(1);
    expect(r1.stderr.trim()).toBe(`error: judge template ${bad}: unknown placeholder {question}; a judge template may use {prompt}, {a}, {b}, {label_a}, {label_b}`);
    const r2 = await rlhf('judge', '--model', 'config:tiny', '--data', data, '--limit', '16', '--eval-count', '4', '--labels', 'AB,CD', '--out', path.join(root, 'j2'));
    expect(r2.code).toBe(1);
    expect(r2.stderr.trim().split('\n')).toHaveLength(1);
    expect(r2.stderr).toMatch(/^error: the judge's byte tokenizer \(config:tiny\) does not encode the labels \["AB","CD"\] as one token each/);
  }, 120000);
});
