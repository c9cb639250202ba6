/**
 * The losses give the same values and gradients on every backend this machine has (cpu is the reference):
 * wasm lacks some kernels and tfjs-node links a newer TensorFlow (README.md "Backends"), and aot's sort uses
 * TopK/OneHot plus a custom gradient. A backend that cannot start here is skipped with the reason (a failure
 * under RLHF_REQUIRE_ORACLES=1, see helpers/gates.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { testIf } from '../helpers/gates';
import { backend } from '../helpers/native';
import { bradleyTerryLoss, dpoLoss, DPO_LOSS_TYPES, sftNllLoss } from '../../src/losses';

/** Every loss and its gradients w.r.t. the policy inputs, as plain numbers, on the active backend. */
function evaluateAll(): number[] {
  return tf.tidy(() => {
    const out: number[] = [];
    const refs = { refChosenLogps: tf.tensor1d([-2.5, -1.9, -3.0]), refRejectedLogps: tf.tensor1d([-2.2, -3.6, -2.4]) };
    const counts = { chosenTokens: [2, 3, 1], rejectedTokens: [4, 1, 2] };
    for (const t of DPO_LOSS_TYPES) {
      const cfg = { loss_type: [t, 'sigmoid'], beta: 0.5, label_smoothing: t === 'exo_pair' || t === 'robust' ? 0.1 : 0 };
      const f = (c: tf.Tensor, r: tf.Tensor) =>
        dpoLoss({ chosenLogps: c as tf.Tensor1D, rejectedLogps: r as tf.Tensor1D, ...refs, ...counts }, cfg).loss;
      const { value, grads } = tf.valueAndGrads(f)([tf.tensor1d([-3.1, -1.3, -2.2]), tf.tensor1d([-2.0, -4.4, -2.9])]);
      out.push(value.dataSync()[0], ...grads[0].dataSync(), ...grads[1].dataSync());
    }
    const bt = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor) =>
      bradleyTerryLoss({ chosenRewards: a, rejectedRewards: b, margin: tf.tensor1d([0.1, 0]) }, { centerRewardsCoefficient: 0.01 }).loss,
    )([tf.tensor1d([0.3, -1]), tf.tensor1d([0.5, -2])]);
    out.push(bt.value.dataSync()[0], ...bt.grads[0].dataSync(), ...bt.grads[1].dataSync());
    const mask = tf.tensor2d([[1, 1, 0], [0, 1, 1]]);
    const sft = tf.valueAndGrad((x: tf.Tensor) => sftNllLoss(x, mask).loss)(tf.tensor2d([[-1, -2, -3], [-4, -5, -6]]));
    out.push(sft.value.dataSync()[0], ...sft.grad.dataSync());
    return out;
  });
}

describe('losses agree across backends', () => {
  let reference: number[];
  beforeAll(async () => {
    await initBackend('cpu');
    reference = evaluateAll();
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  for (const name of ['wasm', 'tensorflow'] as const) {
    testIf(backend(name), `${name} matches cpu to 1e-5`, async () => {
      await initBackend(name);
      expect(tf.getBackend()).toBe(name);
      const got = evaluateAll();
      expect(got.length).toBe(reference.length);
      got.forEach((v, i) => expect(Math.abs(v - reference[i])).toBeLessThan(1e-5 * Math.max(1, Math.abs(reference[i]))));
    });
  }
});
