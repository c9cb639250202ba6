/**
 * Reference test: our DPO-family and Bradley-Terry losses against TRL 1.13's own loss code
 * (DPOTrainer._compute_loss and RewardTrainer.compute_loss, run by trl_reference.py in float64).
 * Skips, saying why, when RLHF_PYTHON (default python3) cannot import torch and trl.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { bradleyTerryLoss, dpoLoss, DpoLossType, DPO_LOSS_TYPES, readMetrics } from '../../src/losses';
import { describeIf } from '../helpers/gates';
import { pythonWith, runPythonJson } from '../helpers/python';
import { mulberry32 } from '../../src/data/rng';

const SCRIPT = path.join(__dirname, 'trl_reference.py');

interface DpoCase {
  loss_type: DpoLossType[];
  loss_weights?: number[];
  beta: number;
  label_smoothing?: number;
  reference_free?: boolean;
  chosen_logps: number[];
  rejected_logps: number[];
  ref_chosen_logps: number[];
  ref_rejected_logps: number[];
  chosen_tokens: number[];
  rejected_tokens: number[];
}
interface RewardCase {
  chosen_rewards: number[];
  rejected_rewards: number[];
  margin?: number[];
  center_rewards_coefficient?: number;
}
interface Answer {
  trl_version: string;
  dpo: { loss: number; metrics: Record<string, number>; chosen_logps: number[]; rejected_logps: number[] }[];
  reward: { loss: number; metrics: Record<string, number> }[];
}

function makeDpoCase(rand: () => number, settings: Partial<DpoCase> & { loss_type: DpoLossType[]; beta: number }): DpoCase {
  const B = 6;
  const counts = () => Array.from({ length: B }, () => 1 + Math.floor(rand() * 12));
  const chosen_tokens = counts();
  const rejected_tokens = counts();
  const sums = (n: number[]) => n.map((k) => k * -(0.05 + rand() * 1.5)); // per-token log-prob in (-1.55, -0.05)
  const chosen_logps = sums(chosen_tokens);
  const rejected_logps = sums(rejected_tokens);
  const near = (xs: number[]) => xs.map((x) => x + (rand() - 0.5) * 6);
  const free = settings.reference_free === true;
  return {
    chosen_logps,
    rejected_logps,
    ref_chosen_logps: free ? chosen_logps.map(() => 0) : near(chosen_logps),
    ref_rejected_logps: free ? rejected_logps.map(() => 0) : near(rejected_logps),
    chosen_tokens,
    rejected_tokens,
    ...settings,
  };
}

function dpoCases(): DpoCase[] {
  const rand = mulberry32(20240613);
  const eps: Partial<Record<DpoLossType, number>> = { exo_pair: 1e-3, robust: 0.1, aot: 0.1 };
  const cases: DpoCase[] = DPO_LOSS_TYPES.map((t) => makeDpoCase(rand, { loss_type: [t], beta: 0.1, label_smoothing: eps[t] ?? 0 }));
  for (const t of ['sigmoid', 'hinge', 'ipo', 'discopop', 'sppo_hard', 'apo_down'] as DpoLossType[]) {
    cases.push(makeDpoCase(rand, { loss_type: [t], beta: 0.5 }));
  }
  cases.push(makeDpoCase(rand, { loss_type: ['aot_unpaired'], beta: 0.3, label_smoothing: 0.2 }));
  cases.push(makeDpoCase(rand, { loss_type: ['robust'], beta: 0.3, label_smoothing: 0.3 }));
  cases.push(makeDpoCase(rand, { loss_type: ['exo_pair'], beta: 0.3, label_smoothing: 0.05 }));
  // MPO-style combination with weights.
  cases.push(makeDpoCase(rand, { loss_type: ['sigmoid', 'bco_pair', 'sft'], loss_weights: [0.8, 0.2, 1.0], beta: 0.1 }));
  // reference_free: TRL 1.13 has no such switch; feeding it zero reference log-probs is the same thing.
  cases.push(makeDpoCase(rand, { loss_type: ['sigmoid'], beta: 0.1, reference_free: true }));
  cases.push(makeDpoCase(rand, { loss_type: ['ipo', 'aot'], beta: 0.1, reference_free: true }));
  return cases;
}

function rewardCases(): RewardCase[] {
  const rand = mulberry32(7);
  const scores = (n: number) => Array.from({ length: n }, () => (rand() - 0.5) * 8);
  return [
    { chosen_rewards: scores(8), rejected_rewards: scores(8) },
    { chosen_rewards: scores(8), rejected_rewards: scores(8), margin: scores(8).map(Math.abs) },
    { chosen_rewards: scores(8), rejected_rewards: scores(8), center_rewards_coefficient: 0.01 },
    { chosen_rewards: [1, 2, -3, 0.5], rejected_rewards: [1, -2, -3, 0.25], margin: [0, 1, 0.5, 0], center_rewards_coefficient: 0.1 },
  ];
}

/** |ours − theirs| ≤ 1e-6·max(1, |theirs|): float32 arithmetic against a float64 oracle. */
let worstRelative = 0;
function expectClose(ours: number, theirs: number, what: string): void {
  worstRelative = Math.max(worstRelative, Math.abs(ours - theirs) / Math.max(1, Math.abs(theirs)));
  const tol = 1e-6 * Math.max(1, Math.abs(theirs));
  if (!(Math.abs(ours - theirs) <= tol)) {
    throw new Error(`${what}: ours ${ours} vs TRL ${theirs} (|diff| ${Math.abs(ours - theirs)} > ${tol})`);
  }
}

describeIf(pythonWith(['torch', 'trl']), 'TRL 1.13 reference: DPO family and Bradley-Terry', () => {
  const dpo = dpoCases();
  const reward = rewardCases();
  let answer: Answer;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    answer = runPythonJson<Answer>(SCRIPT, { dpo, reward });
  });
  afterAll(() => {
    // eslint-disable-next-line no-console
    console.log(`TRL ${answer?.trl_version} reference: largest |ours − TRL| / max(1, |TRL|) = ${worstRelative.toExponential(2)}`);
  });

  test.each(dpo.map((c, i) => [`${c.loss_type.join('+')} beta=${c.beta} eps=${c.label_smoothing ?? 0}${c.reference_free ? ' ref-free' : ''}`, i]))(
    'dpo %s matches TRL',
    async (_name, i) => {
      const c = dpo[i as number];
      const trl = answer.dpo[i as number];
      const out = tf.tidy(() =>
        dpoLoss(
          {
            chosenLogps: tf.tensor1d(trl.chosen_logps),
            rejectedLogps: tf.tensor1d(trl.rejected_logps),
            refChosenLogps: c.reference_free ? undefined : tf.tensor1d(c.ref_chosen_logps),
            refRejectedLogps: c.reference_free ? undefined : tf.tensor1d(c.ref_rejected_logps),
            chosenTokens: c.chosen_tokens,
            rejectedTokens: c.rejected_tokens,
          },
          c,
        ),
      );
      const loss = (await out.loss.data())[0];
      tf.dispose([out.loss, out.chosenRewards, out.rejectedRewards]);
      const m = await readMetrics(out.metrics);
      expectClose(loss, trl.loss, 'loss');
      for (const k of ['rewards/chosen', 'rewards/rejected', 'rewards/margins', 'logps/chosen', 'logps/rejected']) {
        expectClose(m[k], trl.metrics[k], k);
      }
      // Both are means of 0/1 flags; TRL's is a float32 mean, hence closeness rather than identity.
      expect(m['rewards/accuracies']).toBeCloseTo(trl.metrics['rewards/accuracies'], 6);
    },
  );

  test.each(reward.map((c, i) => [i, c.margin ? 'margin' : '', c.center_rewards_coefficient ?? '']))(
    'bradley-terry case %i (%s %s) matches RewardTrainer.compute_loss',
    async (i) => {
      const c = reward[i as number];
      const trl = answer.reward[i as number];
      const out = tf.tidy(() =>
        bradleyTerryLoss(
          {
            chosenRewards: tf.tensor2d(c.chosen_rewards, [c.chosen_rewards.length, 1]),
            rejectedRewards: tf.tensor2d(c.rejected_rewards, [c.rejected_rewards.length, 1]),
            margin: c.margin ? tf.tensor1d(c.margin) : undefined,
          },
          { centerRewardsCoefficient: c.center_rewards_coefficient },
        ),
      );
      out.loss.dispose();
      const m = await readMetrics(out.metrics);
      expectClose(m.loss, trl.loss, 'loss');
      for (const k of ['margin', 'mean_reward', 'min_reward', 'max_reward']) expectClose(m[k], trl.metrics[k], k);
      expect(m.accuracy).toBeCloseTo(trl.metrics.accuracy, 6);
    },
  );
});
