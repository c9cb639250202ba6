/** DPO family: hand-worked values for every loss type, metrics, settings checks, gradients, no leaks. */
import * as tf from '@tensorflow/tfjs';
import {
  dpoConfigProblems,
  dpoLoss,
  DpoLossConfigInput,
  DpoLossInput,
  DpoLossType,
  DPO_LOSS_TYPES,
  LossConfigError,
  LossInputError,
  readMetrics,
  resolveDpoConfig,
} from '../../src/losses';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const LN2 = Math.log(2);
/** −log σ(1) = log(1 + e^−1) and −log σ(−1) = log(1 + e), the two numbers most cases below reduce to. */
const SP_NEG1 = Math.log1p(Math.exp(-1)); // 0.31326169
const SP_POS1 = Math.log1p(Math.E); // 1.31326169

interface Pairs {
  c: number[]; // policy chosen sums
  r: number[]; // policy rejected sums
  rc?: number[]; // reference chosen sums (default 0)
  rr?: number[];
  nc?: number[]; // token counts
  nr?: number[];
}

/** Loss value (and metrics) for plain-number inputs; disposes everything it made. */
async function run(p: Pairs, cfg: DpoLossConfigInput): Promise<{ loss: number; m: Record<string, number> }> {
  const zeros = p.c.map(() => 0);
  const input: DpoLossInput = {
    chosenLogps: tf.tensor1d(p.c),
    rejectedLogps: tf.tensor1d(p.r),
    refChosenLogps: cfg.reference_free ? undefined : tf.tensor1d(p.rc ?? zeros),
    refRejectedLogps: cfg.reference_free ? undefined : tf.tensor1d(p.rr ?? zeros),
    chosenTokens: p.nc,
    rejectedTokens: p.nr,
  };
  const out = dpoLoss(input, cfg);
  const loss = (await out.loss.data())[0];
  tf.dispose([out.loss, out.chosenRewards, out.rejectedRewards, input.chosenLogps, input.rejectedLogps]);
  tf.dispose([input.refChosenLogps, input.refRejectedLogps].filter((t): t is tf.Tensor1D => t !== undefined));
  return { loss, m: await readMetrics(out.metrics) };
}

/** Single loss type, β given; `c`/`r` are directly the log-ratios (reference 0). */
const lossOf = async (type: DpoLossType, beta: number, p: Pairs, extra: DpoLossConfigInput = {}) =>
  (await run(p, { loss_type: type, beta, ...extra })).loss;

describe('hand-worked values', () => {
  test('sigmoid: equal log-ratios give log 2, accuracy 0 (ties count as wrong), margin 0', async () => {
    const { loss, m } = await run({ c: [-5, -7], r: [-6, -4], rc: [-5, -7], rr: [-6, -4] }, { loss_type: 'sigmoid', beta: 0.1 });
    expect(loss).toBeCloseTo(LN2, 6);
    expect(m['rewards/accuracies']).toBe(0);
    expect(m['rewards/margins']).toBeCloseTo(0, 7);
  });

  test('sigmoid: β·logits = 1 gives log(1 + e^-1); cDPO (ε=0.1) mixes in the flipped label', async () => {
    expect(await lossOf('sigmoid', 0.1, { c: [10], r: [0] })).toBeCloseTo(SP_NEG1, 6);
    // −0.9·log σ(1) − 0.1·log σ(−1)
    expect(await lossOf('sigmoid', 0.1, { c: [10], r: [0] }, { label_smoothing: 0.1 })).toBeCloseTo(0.9 * SP_NEG1 + 0.1 * SP_POS1, 6);
  });

  test('hinge: 1 at equal log-ratios, 0 at and beyond the margin 1/β, linear in between', async () => {
    expect(await lossOf('hinge', 0.5, { c: [0], r: [0] })).toBeCloseTo(1, 6);
    expect(await lossOf('hinge', 0.5, { c: [2], r: [0] })).toBeCloseTo(0, 6); // β·logits = 1
    expect(await lossOf('hinge', 0.5, { c: [5], r: [0] })).toBe(0);
    expect(await lossOf('hinge', 0.5, { c: [1], r: [0] })).toBeCloseTo(0.5, 6);
  });

  test('ipo: (h − 1/(2β))² on per-token averaged log-ratios', async () => {
    // chosen 4 over 2 tokens (avg 2), rejected −3 over 3 tokens (avg −1): h = 3, 1/(2β) = 1 -> 4.
    expect(await lossOf('ipo', 0.5, { c: [4], r: [-3], nc: [2], nr: [3] })).toBeCloseTo(4, 5);
    // at h = 1/(2β) the quadratic is at its minimum 0; without averaging it would be (4 − (−3) − 1)² = 36.
    expect(await lossOf('ipo', 0.5, { c: [2], r: [0], nc: [2], nr: [3] })).toBeCloseTo(0, 6);
    // token counts of 0 are clamped to 1, as TRL does
    expect(await lossOf('ipo', 0.5, { c: [0], r: [-2], nc: [0], nr: [0] })).toBeCloseTo(1, 6);
  });

  test('exo_pair: at logits 0 it is KL((½,½) ‖ (1−ε, ε))', async () => {
    const eps = 0.1;
    const kl = 0.5 * Math.log(0.5 / (1 - eps)) + 0.5 * Math.log(0.5 / eps);
    expect(await lossOf('exo_pair', 0.1, { c: [0], r: [0] }, { label_smoothing: eps })).toBeCloseTo(kl, 6);
  });

  test('nca_pair: 2·log 2 at zero log-ratios; −log σ(1) − ½log σ(−1) − ½log σ(1) at β·(c, r) = (1, −1)', async () => {
    expect(await lossOf('nca_pair', 0.1, { c: [0], r: [0] })).toBeCloseTo(2 * LN2, 6);
    expect(await lossOf('nca_pair', 0.1, { c: [10], r: [-10] })).toBeCloseTo(SP_NEG1 + 0.5 * SP_POS1 + 0.5 * SP_NEG1, 6);
  });

  test('robust: log 2 at logits 0 for any ε; ((1−ε)·sp(−1) − ε·sp(1))/(1−2ε) at β·logits = 1', async () => {
    expect(await lossOf('robust', 0.1, { c: [0], r: [0] }, { label_smoothing: 0.2 })).toBeCloseTo(LN2, 6);
    expect(await lossOf('robust', 0.1, { c: [10], r: [0] }, { label_smoothing: 0.1 })).toBeCloseTo(
      (0.9 * SP_NEG1 - 0.1 * SP_POS1) / 0.8,
      6,
    );
  });

  test('bco_pair: −log σ(β·c) − log σ(−β·r)', async () => {
    expect(await lossOf('bco_pair', 0.1, { c: [0], r: [0] })).toBeCloseTo(2 * LN2, 6);
    expect(await lossOf('bco_pair', 0.1, { c: [10], r: [-10] })).toBeCloseTo(2 * SP_NEG1, 6);
  });

  test('sppo_hard: 0 at (c, r) = (1/(2β), −1/(2β)), 2·(1/(2β))² at zero', async () => {
    expect(await lossOf('sppo_hard', 0.5, { c: [1], r: [-1] })).toBeCloseTo(0, 6);
    expect(await lossOf('sppo_hard', 0.5, { c: [0], r: [0] })).toBeCloseTo(2, 6);
  });

  test('aot: policy and reference margins are sorted separately before pairing', async () => {
    // policy margins c − r = [1, 3], reference margins [2, 0]: sorted -> [3, 1] − [2, 0] = [1, 1].
    // Pairing unsorted would give [−1, 3] and a different loss.
    const p = { c: [1, 3], r: [0, 0], rc: [2, 0], rr: [0, 0] };
    expect(await lossOf('aot', 1, p)).toBeCloseTo(SP_NEG1, 6);
    expect(await lossOf('aot', 1, p, { label_smoothing: 0.1 })).toBeCloseTo(0.9 * SP_NEG1 + 0.1 * SP_POS1, 6);
  });

  test('aot_unpaired: chosen and rejected log-ratios are sorted separately', async () => {
    // sorted [2, 0] − sorted [1, −1] = [1, 1]
    expect(await lossOf('aot_unpaired', 1, { c: [0, 2], r: [1, -1] })).toBeCloseTo(SP_NEG1, 6);
  });

  test('apo_zero and apo_down: 1 at zero log-ratios; apo_zero → 0 when chosen ↑ and rejected ↓', async () => {
    expect(await lossOf('apo_zero', 0.1, { c: [0], r: [0] })).toBeCloseTo(1, 6);
    expect(await lossOf('apo_down', 0.1, { c: [0], r: [0] })).toBeCloseTo(1, 6);
    expect(await lossOf('apo_zero', 1, { c: [30], r: [-30] })).toBeCloseTo(0, 6);
    // apo_down at β·c = 1, β·(c − r) = 0: σ(1) + 1 − ½
    expect(await lossOf('apo_down', 1, { c: [1], r: [1] })).toBeCloseTo(1 / (1 + Math.exp(-1)) + 0.5, 6);
  });

  test('discopop: ½·log 2 + ½ at logits 0; ≈ exp(−z) once σ(z/τ) ≈ 1', async () => {
    expect(await lossOf('discopop', 0.1, { c: [0], r: [0] })).toBeCloseTo(0.5 * LN2 + 0.5, 6);
    expect(await lossOf('discopop', 1, { c: [5], r: [0] })).toBeCloseTo(Math.exp(-5), 6);
  });

  test('sft: token-level mean NLL over the batch, not a mean of per-sequence means', async () => {
    // (6 + 4) / (2 + 3) = 2; per-sequence means would give (3 + 4/3)/2 ≈ 2.17.
    expect(await lossOf('sft', 0.1, { c: [-6, -4], r: [-1, -1], nc: [2, 3] })).toBeCloseTo(2, 6);
  });

  test('sigmoid_norm: −log σ(β·(c/|y_c| − r/|y_r|))', async () => {
    expect(await lossOf('sigmoid_norm', 0.5, { c: [2], r: [-3], nc: [2], nr: [3] })).toBeCloseTo(SP_NEG1, 6);
  });

  test('weighted combination: Σ w_k · mean loss_k', async () => {
    const p = { c: [-6, -4], r: [-6, -4], rc: [-6, -4], rr: [-6, -4], nc: [2, 3] };
    const { loss } = await run(p, { loss_type: ['sigmoid', 'sft'], loss_weights: [1, 0.5], beta: 0.1 });
    expect(loss).toBeCloseTo(LN2 + 0.5 * 2, 6);
  });
});

describe('metrics', () => {
  test('TRL names and definitions: rewards = β·log-ratios, accuracy strict, logps are policy means', async () => {
    const { m } = await run(
      { c: [-1, -2], rc: [-1.5, -1], r: [-3, -2], rr: [-2, -2] },
      { loss_type: 'sigmoid', beta: 0.1 },
    );
    // chosen rewards [0.05, −0.1], rejected [−0.1, 0]
    expect(m['rewards/chosen']).toBeCloseTo(-0.025, 6);
    expect(m['rewards/rejected']).toBeCloseTo(-0.05, 6);
    expect(m['rewards/accuracies']).toBe(0.5);
    expect(m['rewards/margins']).toBeCloseTo(0.025, 6);
    expect(m['logps/chosen']).toBeCloseTo(-1.5, 6);
    expect(m['logps/rejected']).toBeCloseTo(-2.5, 6);
    expect(Object.keys(m).sort()).toEqual(
      ['loss', 'logps/chosen', 'logps/rejected', 'rewards/accuracies', 'rewards/chosen', 'rewards/margins', 'rewards/rejected'].sort(),
    );
  });

  test('reference_free: rewards are β·policy log-probs', async () => {
    const { loss, m } = await run({ c: [-2], r: [-12] }, { loss_type: 'sigmoid', beta: 0.1, reference_free: true });
    expect(m['rewards/chosen']).toBeCloseTo(-0.2, 6);
    expect(loss).toBeCloseTo(SP_NEG1, 6);
  });
});

describe('settings and input checks', () => {
  test('defaults follow TRL: sigmoid, β 0.1, ε 0, τ 0.05, weight 1 each', () => {
    expect(resolveDpoConfig({})).toEqual({
      beta: 0.1,
      loss_type: ['sigmoid'],
      loss_weights: [1],
      label_smoothing: 0,
      reference_free: false,
      discopop_tau: 0.05,
    });
  });

  test('messages quote the numbers and list the way out', () => {
    const messages = (cfg: DpoLossConfigInput) => dpoConfigProblems(cfg).map((p) => p.message);
    expect(dpoConfigProblems({ loss_type: ['sigmoid', 'sft'], loss_weights: [1, 1, 1] })).toEqual([{
      field: 'loss_weights',
      message: 'got 3 loss_weights for 2 loss types (sigmoid, sft); give one weight per loss type, or omit loss_weights for 1 each',
    }]);
    const [unknown] = messages({ loss_type: 'sigmod' });
    expect(unknown).toContain('unknown loss_type "sigmod"');
    for (const t of DPO_LOSS_TYPES) expect(unknown).toContain(t);
    expect(messages({ beta: 0 })[0]).toContain('beta must be a finite number > 0');
    expect(messages({ loss_type: 'robust', label_smoothing: 0.5 })[0]).toContain('[0, 0.5) for loss_type "robust"');
    expect(messages({ loss_type: 'exo_pair' })[0]).toContain('must be > 0 for loss_type "exo_pair"');
    expect(messages({ discopop_tau: -1 })[0]).toContain('discopop_tau');
    expect(messages({ loss_type: [] })[0]).toContain('empty');
    expect(messages({ label_smoothing: 1 })).toEqual(['label_smoothing must be a finite number in [0, 1); got 1']);
    expect(messages({ loss_type: ['sigmoid', 'sft'], loss_weights: [1, -0.5] })).toEqual(['loss_weights[1] must be a finite number >= 0; got -0.5']);
  });

  test('resolveDpoConfig throws one LossConfigError listing every problem', () => {
    expect(() => resolveDpoConfig({ beta: -1, loss_type: 'nope' })).toThrow(LossConfigError);
    expect(() => resolveDpoConfig({ beta: -1, loss_type: 'nope' })).toThrow(/beta must.*; unknown loss_type "nope"/);
  });

  test('missing or mismatched inputs name what is wrong', () => {
    const c = tf.tensor1d([-1, -2]);
    const r = tf.tensor1d([-1, -2]);
    const three = tf.tensor1d([0, 0, 0]);
    expect(() => dpoLoss({ chosenLogps: c, rejectedLogps: r }, {})).toThrow(/refChosenLogps and refRejectedLogps are required/);
    expect(() => dpoLoss({ chosenLogps: c, rejectedLogps: r, refChosenLogps: c, refRejectedLogps: r }, { reference_free: true })).toThrow(
      LossInputError,
    );
    expect(() => dpoLoss({ chosenLogps: c, rejectedLogps: three }, { reference_free: true })).toThrow(/rejectedLogps must have shape \[2\]/);
    expect(() => dpoLoss({ chosenLogps: c, rejectedLogps: r }, { reference_free: true, loss_type: 'ipo' })).toThrow(
      /"ipo" needs completion token counts: chosenTokens and rejectedTokens missing/,
    );
    expect(() => dpoLoss({ chosenLogps: c, rejectedLogps: r, chosenTokens: [1] }, { reference_free: true, loss_type: 'sft' })).toThrow(
      /chosenTokens must hold 2 counts/,
    );
    tf.dispose([c, r, three]);
  });
});

describe('numerics and gradients', () => {
  test('extreme logits stay finite (log σ via softplus)', async () => {
    expect(await lossOf('sigmoid', 1, { c: [-500], r: [0] })).toBeCloseTo(500, 3);
    expect(await lossOf('sigmoid', 1, { c: [500], r: [0] })).toBe(0);
    expect(await lossOf('exo_pair', 1, { c: [500], r: [0] }, { label_smoothing: 1e-3 })).toBeCloseTo(-Math.log1p(-1e-3), 6);
  });

  test('sigmoid gradient w.r.t. the policy log-probs matches the analytic −β·σ(−β·logits)/B', async () => {
    const beta = 0.5;
    const c = [-3, -1, -2];
    const r = [-2, -4, -2];
    const g = tf.grads((ch: tf.Tensor, rj: tf.Tensor) =>
      dpoLoss({ chosenLogps: ch as tf.Tensor1D, rejectedLogps: rj as tf.Tensor1D }, { reference_free: true, beta }).loss,
    );
    const [gc, gr] = g([tf.tensor1d(c), tf.tensor1d(r)]);
    const dc = await gc.data();
    const dr = await gr.data();
    c.forEach((ci, i) => {
      const want = (-beta / (1 + Math.exp(beta * (ci - r[i])))) / c.length;
      expect(dc[i]).toBeCloseTo(want, 6);
      expect(dr[i]).toBeCloseTo(-want, 6);
    });
    tf.dispose([gc, gr]);
  });

  // Every loss type: tf.grads equals central finite differences of the loss itself.
  const fdCases: [DpoLossType, DpoLossConfigInput][] = DPO_LOSS_TYPES.map((t) => [
    t,
    { loss_type: t, beta: 0.5, label_smoothing: t === 'exo_pair' || t === 'robust' || t === 'aot' ? 0.1 : 0 },
  ]);
  test.each(fdCases)('%s: gradient matches finite differences', async (_t, cfg) => {
    const c = [-3.1, -1.3, -2.2];
    const r = [-2.0, -4.4, -2.9];
    const refs = { refChosenLogps: [-2.5, -1.9, -3.0], refRejectedLogps: [-2.2, -3.6, -2.4] };
    const counts = { chosenTokens: [2, 3, 1], rejectedTokens: [4, 1, 2] };
    const f = (ch: tf.Tensor, rj: tf.Tensor) =>
      tf.tidy(() => {
        const out = dpoLoss(
          {
            chosenLogps: ch as tf.Tensor1D,
            rejectedLogps: rj as tf.Tensor1D,
            refChosenLogps: tf.tensor1d(refs.refChosenLogps),
            refRejectedLogps: tf.tensor1d(refs.refRejectedLogps),
            ...counts,
          },
          cfg,
        );
        // sft reads only the chosen side; the 0·Σr term lets tf.grads take both inputs (its gradient is exactly 0).
        return cfg.loss_type === 'sft' ? tf.add(out.loss, tf.mul(0, tf.sum(rj))) : out.loss;
      });
    const [gc, gr] = tf.grads(f)([tf.tensor1d(c), tf.tensor1d(r)]);
    const analytic = [...(await gc.data()), ...(await gr.data())];
    tf.dispose([gc, gr]);
    const value = (cv: number[], rv: number[]) => tf.tidy(() => f(tf.tensor1d(cv), tf.tensor1d(rv)).dataSync()[0]);
    const h = 1e-2;
    const x = [...c, ...r];
    x.forEach((_, i) => {
      const plus = [...x];
      const minus = [...x];
      plus[i] += h;
      minus[i] -= h;
      const fd = (value(plus.slice(0, 3), plus.slice(3)) - value(minus.slice(0, 3), minus.slice(3))) / (2 * h);
      expect(Math.abs(analytic[i] - fd)).toBeLessThan(2e-3 * Math.max(1, Math.abs(fd)));
    });
    expect(analytic.some((v) => v !== 0)).toBe(true);
  });

  test('no tensor leaks: forward, and inside tf.grads, every loss type together', async () => {
    const cfg: DpoLossConfigInput = { loss_type: [...DPO_LOSS_TYPES], beta: 0.3, label_smoothing: 0.1 };
    const inputs = {
      chosenLogps: tf.tensor1d([-3, -1]),
      rejectedLogps: tf.tensor1d([-2, -4]),
      refChosenLogps: tf.tensor1d([-2, -2]),
      refRejectedLogps: tf.tensor1d([-3, -3]),
      chosenTokens: tf.tensor1d([2, 3], 'int32'),
      rejectedTokens: tf.tensor1d([1, 4], 'int32'),
    };
    const before = tf.memory().numTensors;
    const out = dpoLoss(inputs, cfg);
    tf.dispose([out.loss, out.chosenRewards, out.rejectedRewards]);
    await readMetrics(out.metrics);
    expect(tf.memory().numTensors).toBe(before);
    const [g1, g2] = tf.grads((c: tf.Tensor, r: tf.Tensor) =>
      dpoLoss({ ...inputs, chosenLogps: c as tf.Tensor1D, rejectedLogps: r as tf.Tensor1D }, cfg).loss,
    )([inputs.chosenLogps, inputs.rejectedLogps]);
    tf.dispose([g1, g2]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(Object.values(inputs).filter((v): v is tf.Tensor1D => v instanceof tf.Tensor));
  });
});
