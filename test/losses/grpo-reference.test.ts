/**
 * Reference test: GRPO's four loss aggregations, RLOO's loss, both advantage rules and online DPO's labels against
 * TRL 1.13's own code (GRPOTrainer._compute_loss and RLOOTrainer._compute_loss called on stubs; the advantage and
 * labelling lines re-derived from its methods), run by trl_grpo_reference.py in float64. Loss values, the gradient
 * with respect to the policy's per-token log-probs, and TRL's metrics agree to <= 1e-6 (relative above 1).
 * Also hand-worked examples that need no Python.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import {
  grpoAdvantages, grpoLoss, GRPO_LOSS_TYPES, GrpoLossConfig, GRPO_DEFAULTS, onlineDpoLabels, rlooAdvantages, rlooLoss, ScaleRewards, SCALE_REWARDS,
} from '../../src/losses';
import { mulberry32 } from '../../src/data/rng';
import { describeIf } from '../helpers/gates';
import { pythonWith, runPythonJson } from '../helpers/python';

const SCRIPT = path.join(__dirname, 'trl_grpo_reference.py');

interface LossCase {
  loss_type?: string;
  beta: number;
  epsilon: number;
  epsilon_high?: number | null;
  max_completion_length: number;
  per_token_logps: number[][];
  old_per_token_logps?: number[][] | null;
  ref_per_token_logps?: number[][] | null;
  mask: number[][];
  advantages: number[];
}
interface LossAnswer {
  loss: number;
  grad: number[][];
  metrics: Record<string, number>;
}
interface AdvAnswer {
  advantages: number[];
  frac_reward_zero_std: number;
}

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b));

function expectClose(ours: number, trl: number, what: string): void {
  if (Number.isNaN(trl)) {
    expect([what, ours]).toEqual([what, NaN]);
    return;
  }
  if (!close(ours, trl)) throw new Error(`${what}: ours ${ours}, TRL ${trl} (|diff| ${Math.abs(ours - trl)})`);
}

/** A batch of B completions of up to T tokens: random lengths (one row may be empty), log-probs in (-3, 0). */
function makeLossCase(rand: () => number, o: { loss_type?: string; beta: number; old: boolean; epsilon_high?: number | null; emptyRow?: boolean }): LossCase {
  const B = 6;
  const T = 7;
  const lens = Array.from({ length: B }, (_, b) => (o.emptyRow && b === 2 ? 0 : 1 + Math.floor(rand() * T)));
  const mask = lens.map((n) => Array.from({ length: T }, (_, t) => (t < n ? 1 : 0)));
  const lp = () => mask.map((row) => row.map((m) => (m ? -3 * rand() : 0)));
  const perTok = lp();
  // Old log-probs near the current ones (ratios in about [0.6, 1.6]) so both clip sides are hit.
  const near = (x: number[][], w: number) => x.map((row, b) => row.map((v, t) => (mask[b][t] ? v + (rand() - 0.5) * w : 0)));
  return {
    loss_type: o.loss_type,
    beta: o.beta,
    epsilon: 0.2,
    epsilon_high: o.epsilon_high ?? null,
    max_completion_length: T + 3,
    per_token_logps: perTok,
    old_per_token_logps: o.old ? near(perTok, 0.9) : null,
    ref_per_token_logps: o.beta !== 0 ? near(perTok, 1.5) : null,
    mask,
    advantages: Array.from({ length: B }, () => (rand() - 0.5) * 3),
  };
}

function config(c: LossCase): GrpoLossConfig {
  return { ...GRPO_DEFAULTS, loss_type: (c.loss_type ?? 'dapo') as GrpoLossConfig['loss_type'], beta: c.beta, epsilon: c.epsilon, epsilon_high: c.epsilon_high ?? null };
}

/** Our loss, its gradient with respect to perTokenLogps, and metrics. */
function ours(c: LossCase, kind: 'grpo' | 'rloo'): LossAnswer {
  return tf.tidy(() => {
    const x = tf.tensor2d(c.per_token_logps);
    const inputs = {
      oldPerTokenLogps: c.old_per_token_logps ? tf.tensor2d(c.old_per_token_logps) : undefined,
      refPerTokenLogps: c.ref_per_token_logps ? tf.tensor2d(c.ref_per_token_logps) : undefined,
      advantages: tf.tensor1d(c.advantages),
      mask: tf.tensor2d(c.mask),
      maxCompletionLength: c.max_completion_length,
    };
    const run = (p: tf.Tensor2D) => (kind === 'grpo' ? grpoLoss({ ...inputs, perTokenLogps: p }, config(c)) : rlooLoss({ ...inputs, perTokenLogps: p }, config(c)));
    const grad = tf.grad((p: tf.Tensor) => run(p as tf.Tensor2D).loss)(x);
    const out = run(x);
    const metrics: Record<string, number> = {};
    for (const [k, v] of Object.entries(out.metrics)) metrics[k] = v.dataSync()[0];
    return { loss: out.loss.dataSync()[0], grad: grad.arraySync() as number[][], metrics };
  });
}

function compare(o: LossAnswer, t: LossAnswer, what: string): void {
  expectClose(o.loss, t.loss, `${what} loss`);
  t.grad.forEach((row, b) => row.forEach((g, i) => expectClose(o.grad[b][i], g, `${what} grad[${b}][${i}]`)));
  expect(Object.keys(o.metrics).sort()).toEqual(Object.keys(t.metrics).sort());
  for (const [k, v] of Object.entries(t.metrics)) expectClose(o.metrics[k], v, `${what} ${k}`);
}

describeIf(pythonWith(['torch', 'trl']), 'GRPO / RLOO / online DPO vs TRL 1.13', () => {
  const rand = mulberry32(1234);
  const grpoCases: LossCase[] = [];
  for (const loss_type of GRPO_LOSS_TYPES) {
    for (const beta of [0, 0.04]) {
      for (const old of [false, true]) grpoCases.push(makeLossCase(rand, { loss_type, beta, old, emptyRow: loss_type === 'bnpo' && old }));
    }
    grpoCases.push(makeLossCase(rand, { loss_type, beta: 0.1, old: true, epsilon_high: 0.28 }));
  }
  const rlooCases = [false, true].flatMap((old) => [null, 0.28].map((epsilon_high) => makeLossCase(rand, { beta: 0, old, epsilon_high })));
  const rewards = (n: number, ties: boolean) => Array.from({ length: n }, () => (ties ? Math.floor(rand() * 2) : rand() * 4 - 1));
  const grpoAdv = SCALE_REWARDS.flatMap((scale_rewards) =>
    [false, true].map((ties) => ({ rewards: [...rewards(12, ties), 0.5, 0.5, 0.5, 0.5], num_generations: 4, scale_rewards })),
  );
  const rlooAdv = [0, 0.05].flatMap((beta) =>
    [false, true].map((normalize_advantages) => {
      const c = makeLossCase(rand, { beta: beta || 0.05, old: true });
      return { rewards: rewards(6, false), num_generations: 3, beta, normalize_advantages, old_per_token_logps: c.old_per_token_logps, ref_per_token_logps: c.ref_per_token_logps, mask: c.mask };
    }),
  );
  const dpo = [{ first: rewards(20, true), second: rewards(20, true) }, { first: rewards(8, false), second: rewards(8, false) }];
  let answer: { trl_version: string; grpo: LossAnswer[]; rloo: LossAnswer[]; grpo_advantages: AdvAnswer[]; rloo_advantages: AdvAnswer[]; online_dpo: { chosen_is_first: boolean[] }[] };

  beforeAll(() => {
    answer = runPythonJson(SCRIPT, { grpo: grpoCases, rloo: rlooCases, grpo_advantages: grpoAdv, rloo_advantages: rlooAdv, online_dpo: dpo });
    expect(answer.trl_version).toBe('1.13.0');
  });

  test.each(grpoCases.map((c, i) => [`${c.loss_type} beta=${c.beta} old=${c.old_per_token_logps !== null} eps_high=${c.epsilon_high}`, i] as const))('GRPO loss, gradient and metrics: %s', (what, i) => {
    compare(ours(grpoCases[i], 'grpo'), answer.grpo[i], what);
  });

  test('RLOO loss, gradient and clip metrics', () => {
    rlooCases.forEach((c, i) => compare(ours(c, 'rloo'), answer.rloo[i], `rloo case ${i}`));
  });

  test('GRPO advantages for scale_rewards group | batch | none, and frac_reward_zero_std', () => {
    grpoAdv.forEach((c, i) => {
      const o = grpoAdvantages(c.rewards, c.num_generations, c.scale_rewards as ScaleRewards);
      answer.grpo_advantages[i].advantages.forEach((a, j) => expectClose(o.advantages[j], a, `${c.scale_rewards} advantage ${j}`));
      expectClose(o.fracRewardZeroStd, answer.grpo_advantages[i].frac_reward_zero_std, `${c.scale_rewards} frac_reward_zero_std`);
    });
  });

  test('RLOO leave-one-out advantages with the KL in the reward and normalize_advantages', () => {
    rlooAdv.forEach((c, i) => {
      const kl = c.old_per_token_logps!.map((row, b) => row.reduce((s, v, t) => s + (v - c.ref_per_token_logps![b][t]) * c.mask[b][t], 0));
      const o = rlooAdvantages(c.rewards, c.num_generations, { beta: c.beta, sequenceKl: kl, normalize: c.normalize_advantages });
      answer.rloo_advantages[i].advantages.forEach((a, j) => expectClose(o.advantages[j], a, `rloo case ${i} advantage ${j}`));
      expectClose(o.fracRewardZeroStd, answer.rloo_advantages[i].frac_reward_zero_std, `rloo case ${i} frac_reward_zero_std`);
    });
  });

  test('online DPO labels: higher reward is chosen, a tie goes to the first sample', () => {
    dpo.forEach((c, i) => expect(onlineDpoLabels(c.first, c.second).chosenIsFirst).toEqual(answer.online_dpo[i].chosen_is_first));
    expect(dpo[0].first.some((r, j) => r === dpo[0].second[j])).toBe(true); // the case does hold ties
  });
});

describe('GRPO / RLOO hand-worked examples', () => {
  test('advantages: group-relative, leave-one-out', () => {
    expect(grpoAdvantages([1, 0, 2, 2], 2, 'none')).toEqual({ advantages: [0.5, -0.5, 0, 0], fracRewardZeroStd: 0.5 });
    expect(rlooAdvantages([1, 0, 2], 3, { beta: 0, normalize: false }).advantages).toEqual([0, -1.5, 1.5]);
    expect(() => grpoAdvantages([1, 2, 3], 2, 'group')).toThrow(/groups of num_generations = 2/);
  });

  test('one iteration per batch: the loss is −mean advantage and its gradient is −A/|o| per token (grpo)', () => {
    const out = tf.tidy(() => {
      const x = tf.tensor2d([[-1, -2, 0], [-0.5, -0.5, -0.5]]);
      const mask = tf.tensor2d([[1, 1, 0], [1, 1, 1]]);
      const advantages = tf.tensor1d([1, -2]);
      const f = (p: tf.Tensor) => grpoLoss({ perTokenLogps: p as tf.Tensor2D, advantages, mask, maxCompletionLength: 3 }, { ...GRPO_DEFAULTS, loss_type: 'grpo' }).loss;
      return { loss: f(x).dataSync()[0], grad: tf.grad(f)(x).arraySync() as number[][] };
    });
    expect(out.loss).toBeCloseTo(0.5, 6); // −(1 + (−2)) / 2
    expect(out.grad[0][0]).toBeCloseTo(-1 / 2 / 2, 6);
    expect(out.grad[0][2]).toBe(0);
    expect(out.grad[1][0]).toBeCloseTo(2 / 3 / 2, 6);
  });
});
