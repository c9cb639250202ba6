/**
 * Training options end to end, through the stage functions (trainReward, trainDpo) and the CLI, on
 * config:tiny and a small hand-written data file: each option must change what is computed, so every test
 * compares the logged first-step loss with a hand computation from the starting model (test/train/oracle.ts)
 * and checks that the computation without the option gives a clearly different number.
 *   - reward `margin` column (use_margin), center_rewards_coefficient
 *   - DPO reference_free
 *   - --skip-invalid on a training command (summary.json data.read)
 * Every training step sees all pairs (batch_size = the number of pairs), so the first step's loss is the mean
 * over the data set whatever the shuffled order.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadRecipe, parseSetOption } from '../../src/recipes/load';
import { loadPolicy, loadRewardModel } from '../../src/io/load-model';
import { trainDpo, trainReward } from '../../src/train/stages';
import { readSafetensors } from '../../src/io/safetensors';
import { rlhf } from '../cli/helpers';
import { handRow, logpSum, mean, negLogSigmoid, rewardScore } from './oracle';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-options-'));
const SEED = 11;

/** Prompt, chosen, rejected, margin: lengths differ within pairs so that log-prob sums differ a lot. */
const PAIRS: Array<[string, string, string, number]> = [
  ['Q: name a colour.\nA:', ' Blue.', ' I would rather not say which colour.', 1.5],
  ['Q: 2+2?\nA:', ' Four, two and two make four.', ' 5', 0],
  ['Q: a fruit?\nA:', ' Apple.', ' Carrot, a root vegetable.', 2.5],
  ['Q: say hi.\nA:', ' Hello there, nice to meet you!', ' Go away.', 0.5],
  ['Q: a pet?\nA:', ' A cat.', ' A rock.', 3],
  ['Q: a number?\nA:', ' Seven.', ' Seventy-seven thousand and one.', 1],
];

function writeData(dir: string): string {
  const file = path.join(dir, 'pairs.jsonl');
  fs.writeFileSync(file, PAIRS.map(([prompt, chosen, rejected, margin]) => JSON.stringify({ prompt, chosen, rejected, margin })).join('\n') + '\n');
  return file;
}

function recipe(data: string, stage: 'reward' | 'dpo', extra: string[] = []) {
  return loadRecipe(undefined, [
    parseSetOption(`data.train=${data}`),
    parseSetOption(`seed=${SEED}`),
    parseSetOption(`${stage}.max_steps=3`),
    parseSetOption(`${stage}.batch_size=${PAIRS.length}`),
    parseSetOption(`${stage}.learning_rate=0.003`),
    ...extra.map(parseSetOption),
  ]);
}

const rows = (out: string) => fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const firstLoss = (out: string) => rows(out)[0].loss as number;
const close = (a: number, b: number) => Math.abs(a - b) <= 1e-5 * Math.max(1, Math.abs(b));

describe('reward options change the loss as documented', () => {
  let dir: string;
  let data: string;
  /** r_c, r_r of the starting reward model (the one trainReward builds from config:tiny with this seed). */
  let rc: number[];
  let rr: number[];

  beforeAll(() => {
    dir = tmp();
    data = writeData(dir);
    const { model } = loadRewardModel('config:tiny', { seed: SEED });
    rc = PAIRS.map(([p, c]) => rewardScore(model, handRow(p, c)));
    rr = PAIRS.map(([p, , r]) => rewardScore(model, handRow(p, r)));
    model.dispose();
  });

  test('the margin column: loss = mean −log σ(r_c − r_r − m) with use_margin, without m when off', async () => {
    const withMargin = mean(PAIRS.map(([, , , m], i) => negLogSigmoid(rc[i] - rr[i] - m)));
    const plain = mean(PAIRS.map((_, i) => negLogSigmoid(rc[i] - rr[i])));
    expect(Math.abs(withMargin - plain)).toBeGreaterThan(0.1); // the data's margins matter this much
    const on = await trainReward(recipe(data, 'reward', ['reward.use_margin=true']), { out: path.join(dir, 'margin-on'), quiet: true });
    const off = await trainReward(recipe(data, 'reward', ['reward.use_margin=false']), { out: path.join(dir, 'margin-off'), quiet: true });
    expect(on.steps).toBe(3);
    expect({ loss: firstLoss(on.out), close: close(firstLoss(on.out), withMargin) }).toEqual({ loss: firstLoss(on.out), close: true });
    expect({ loss: firstLoss(off.out), close: close(firstLoss(off.out), plain) }).toEqual({ loss: firstLoss(off.out), close: true });
    // accuracy and margin metrics ignore the margin column (TRL's definitions): the same in both runs at step 1.
    expect(rows(on.out)[0].margin).toBeCloseTo(mean(rc.map((c, i) => c - rr[i])), 5);
    expect(rows(off.out)[0].margin).toBeCloseTo(rows(on.out)[0].margin, 6);
  });

  test('center_rewards_coefficient: loss = Bradley-Terry + c · mean((r_c + r_r)²)', async () => {
    const c = 2;
    const bt = mean(PAIRS.map((_, i) => negLogSigmoid(rc[i] - rr[i])));
    const centring = mean(PAIRS.map((_, i) => (rc[i] + rr[i]) ** 2));
    expect(c * centring).toBeGreaterThan(1e-3); // visible at this coefficient
    const s = await trainReward(recipe(data, 'reward', ['reward.use_margin=false', `reward.center_rewards_coefficient=${c}`]), { out: path.join(dir, 'centred'), quiet: true });
    const got = firstLoss(s.out);
    expect({ got, close: close(got, bt + c * centring) }).toEqual({ got, close: true });
    expect(Math.abs(got - bt)).toBeGreaterThan(100 * 1e-5);
  });
});

describe('DPO reference_free', () => {
  test('the loss is −log σ(β·(log πθ(y_c) − log πθ(y_r))) of the starting policy, not log 2 as against a reference equal to it', async () => {
    const dir = tmp();
    const data = writeData(dir);
    const beta = 0.5;
    const { model } = loadPolicy('config:tiny', { seed: SEED });
    const sc = PAIRS.map(([p, c]) => logpSum(model, handRow(p, c)));
    const sr = PAIRS.map(([p, , r]) => logpSum(model, handRow(p, r)));
    const before = new Map([...model.weights].map(([k, v]) => [k, Array.from(v.dataSync())]));
    model.dispose();
    const expected = mean(sc.map((c, i) => negLogSigmoid(beta * (c - sr[i]))));
    expect(Math.abs(expected - Math.log(2))).toBeGreaterThan(0.1);

    const free = await trainDpo(recipe(data, 'dpo', [`dpo.beta=${beta}`, 'dpo.reference_free=true']), { out: path.join(dir, 'free'), quiet: true, cacheDir: null });
    expect(free.reference!.source).toBe('none (reference_free)');
    const r0 = rows(free.out)[0];
    expect({ loss: r0.loss, close: close(r0.loss, expected) }).toEqual({ loss: r0.loss, close: true });
    // With no reference the implicit rewards are β·log πθ itself.
    expect(r0['rewards/chosen']).toBeCloseTo(beta * mean(sc), 3);
    expect(r0['rewards/rejected']).toBeCloseTo(beta * mean(sr), 3);
    // The policy trained: its final weights moved from the start.
    const after = readSafetensors(path.join(free.out, 'final', 'model.safetensors')).tensors;
    const moved = [...before].filter(([k, v]) => Array.from(after.get(k)!.data as Float32Array).some((x, i) => x !== v[i])).length;
    expect(moved).toBe(before.size);

    // The same run with the reference (the starting policy) starts at exactly log 2.
    const withRef = await trainDpo(recipe(data, 'dpo', [`dpo.beta=${beta}`]), { out: path.join(dir, 'ref'), quiet: true, cacheDir: null });
    expect(firstLoss(withRef.out)).toBeCloseTo(Math.log(2), 6);
    expect(withRef.reference!.source).toBe('config:tiny'); // a preset, not a path under the working folder
  });
});

describe('--skip-invalid on a training command', () => {
  test('bad lines are counted and the first five reported in summary.json data.read; without the flag the first one stops the run', async () => {
    const dir = tmp();
    const file = path.join(dir, 'mixed.jsonl');
    const good = (i: number) => JSON.stringify({ prompt: `Q${i}:`, chosen: ` good answer ${i}`, rejected: ` bad ${i}` });
    const lines = [
      good(0),
      '{"prompt": "Q:", "chosen": " a"', // line 2: truncated JSON
      good(1),
      JSON.stringify({ prompt: 'Q:', chosen: ' a' }), // line 4: no rejected
      good(2),
      JSON.stringify({ prompt: 'Q:', chosen: 7, rejected: ' b' }), // line 6: chosen not text
      good(3),
      'not json at all', // line 8
      good(4),
      JSON.stringify({ text: 'hello' }), // line 10: no preference fields
      good(5),
      JSON.stringify({ prompt: 'Q:', chosen: null, rejected: ' b' }), // line 12
      good(6),
      good(7),
    ];
    fs.writeFileSync(file, lines.join('\n') + '\n');
    const args = ['reward', '--model', 'config:tiny', '--data', file, '--max-steps', '2', '--batch-size', '4', '--quiet'];

    const stopped = await rlhf(...args, '--out', path.join(dir, 'strict'));
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toContain(`${file}:2:`);

    const res = await rlhf(...args, '--out', path.join(dir, 'skip'), '--skip-invalid');
    expect(res.code).toBe(0);
    const summary = JSON.parse(fs.readFileSync(path.join(dir, 'skip', 'summary.json'), 'utf8'));
    expect(summary.steps).toBe(2);
    expect(summary.data.train_records).toBe(8);
    expect(summary.data.read.invalid).toBe(6);
    const ex: string[] = summary.data.read.invalid_examples;
    expect(ex).toHaveLength(5);
    expect(ex.map((m) => m.slice(0, m.indexOf(': ')))).toEqual([2, 4, 6, 8, 10].map((n) => `${file}:${n}`));
    expect(res.json()).toMatchObject({ data: { read: { invalid: 6 } } });
  });
});
