/**
 * The same tiny random Llama gives the same logits, the same gradients and, after one Adam step, the
 * same weights on cpu, wasm and tensorflow (without tfjs-node: cpu and wasm, and the test name says so):
 * relative difference <= 1e-4, measured per tensor against its largest magnitude. cpu (plain JS kernels) is the reference.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../../src/backend';
import { PRESETS } from '../../src/model/families';
import { parseLlamaConfig } from '../../src/model/families/llama';
import { LanguageModel } from '../../src/model/language-model';
import { crossBackends, relMax } from './helpers';

const config = parseLlamaConfig({ ...PRESETS.tiny, vocab_size: 64 });
// Two rows; the second is right-padded (mask 0) for its last 3 positions.
const IDS = [
  [5, 17, 3, 44, 9, 9, 61, 0, 12, 33, 7, 2],
  [1, 63, 28, 28, 4, 50, 19, 8, 40, 0, 0, 0],
];
const MASK = [[1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0]];

interface Snapshot {
  logits: Float32Array;
  loss: number;
  grads: Map<string, Float32Array>;
  after: Map<string, Float32Array>;
}

/** Next-token cross-entropy over real (mask 1) positions, mean. */
function loss(model: LanguageModel, ids: tf.Tensor2D, mask: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const [B, T] = ids.shape;
    const logp = tf.logSoftmax(model.logits(ids, mask).slice([0, 0, 0], [B, T - 1, config.vocab_size]));
    const target = tf.oneHot(ids.slice([0, 1], [B, T - 1]), config.vocab_size);
    const m = mask.slice([0, 1], [B, T - 1]).toFloat();
    return logp.mul(target).sum(-1).mul(m).sum().div(m.sum()).neg() as tf.Scalar;
  });
}

async function snapshot(backend: BackendName): Promise<Snapshot> {
  await initBackend(backend);
  const model = LanguageModel.random(config, 1234);
  const ids = tf.tensor2d(IDS, undefined, 'int32');
  const mask = tf.tensor2d(MASK, undefined, 'int32');
  const logitsT = model.logits(ids, mask);
  const logits = (await logitsT.data()) as Float32Array;
  const names = [...model.weights.keys()];
  const vars = model.variables();
  // Adam's first step is lr * g / (|g| + eps): for gradients near eps it amplifies float rounding
  // (~1e-7 of the largest gradient) into visible weight differences. With TF.js's default eps 1e-7 the
  // worst weight differed by 8e-5 (relative); eps 1e-6 keeps the check about the gradients (worst 2e-5).
  const opt = tf.train.adam(1e-3, 0.9, 0.999, 1e-6);
  const { value, grads } = tf.variableGrads(() => loss(model, ids, mask), vars);
  const g = new Map<string, Float32Array>();
  for (let i = 0; i < names.length; i++) g.set(names[i], (await grads[vars[i].name].data()) as Float32Array);
  opt.applyGradients(vars.map((v) => ({ name: v.name, tensor: grads[v.name] })));
  const after = new Map<string, Float32Array>();
  for (const [name, v] of model.weights) after.set(name, (await v.data()) as Float32Array);
  const lossValue = (await value.data())[0];
  tf.dispose([logitsT, value, grads, ids, mask]);
  opt.dispose();
  model.dispose();
  return { logits, loss: lossValue, grads: g, after };
}

describe('cross-backend parity of a tiny Llama', () => {
  const { names: backends, label } = crossBackends();
  it(`gives the same logits, gradients and post-Adam weights on ${label}`, async () => {
    const ref = await snapshot('cpu');
    expect(Number.isFinite(ref.loss)).toBe(true);
    for (const b of backends.filter((n) => n !== 'cpu')) {
      const got = await snapshot(b);
      const worst: Record<string, number> = { logits: relMax(got.logits, ref.logits), loss: Math.abs(got.loss - ref.loss) / Math.abs(ref.loss) };
      for (const [name, gRef] of ref.grads) worst[`grad ${name}`] = relMax(got.grads.get(name)!, gRef);
      for (const [name, wRef] of ref.after) worst[`weight ${name}`] = relMax(got.after.get(name)!, wRef);
      const bad = Object.entries(worst).filter(([, d]) => !(d <= 1e-4));
      if (bad.length) throw new Error(`${b} differs from cpu: ${bad.map(([k, d]) => `${k}: ${d.toExponential(2)}`).join(', ')}`);
      // The step really moved the weights (a check that the comparison above compares something).
      expect(relMax(got.after.get('model.norm.weight')!, new Float32Array(config.hidden_size).fill(1))).toBeGreaterThan(1e-4);
    }
  });
});
