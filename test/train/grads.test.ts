/**
 * leanVariableGrads gives exactly tf.variableGrads's gradients (same tape, same gradient functions, same
 * accumulation order), leaks no tensor, and holds less memory at its peak.
 */
import * as tf from '@tensorflow/tfjs';
import { PRESETS } from '../../src/model/families';
import { parseLlamaConfig } from '../../src/model/families/llama';
import { LanguageModel } from '../../src/model/language-model';
import { RewardModel } from '../../src/model/reward';
import { maskedSums, tokenLogProbs } from '../../src/model/logprobs';
import { leanVariableGrads } from '../../src/train/grads';

const config = parseLlamaConfig({ ...PRESETS.tiny, vocab_size: 64, pad_token_id: 0 });

async function values(grads: tf.NamedTensorMap): Promise<Record<string, Float32Array>> {
  const out: Record<string, Float32Array> = {};
  for (const [k, g] of Object.entries(grads)) out[k] = (await g.data()) as Float32Array;
  return out;
}

describe('leanVariableGrads', () => {
  // Made after the setup file has picked the backend (tensors belong to the backend that made them).
  let ids: tf.Tensor2D;
  let mask: tf.Tensor2D;
  beforeAll(() => {
    ids = tf.tensor2d([[1, 5, 9, 3, 7, 2, 0, 0], [1, 4, 4, 8, 6, 2, 11, 12]], [2, 8], 'int32');
    mask = tf.tensor2d([[1, 1, 1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1, 1, 1]]);
  });
  afterAll(() => tf.dispose([ids, mask]));

  test('same gradients as tf.variableGrads (causal LM, GQA, padding), bit for bit; no leak', async () => {
    const model = LanguageModel.random(config, 7);
    // Shared subexpressions and a variable used twice (tied embedding: lookup and LM head).
    const f = () => tf.tidy(() => {
      const lp = tokenLogProbs(model.logits(ids, mask), ids);
      return maskedSums(lp, mask).sum.sum().neg().add(lp.square().mean()) as tf.Scalar;
    });
    const stock = tf.variableGrads(f, model.variables());
    const want = await values(stock.grads);
    const wantLoss = (await stock.value.data())[0];
    tf.dispose([stock.value, stock.grads]);
    const before = tf.memory().numTensors;
    const lean = leanVariableGrads(f, model.variables());
    const got = await values(lean.grads);
    expect((await lean.value.data())[0]).toBe(wantLoss);
    expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
    for (const k of Object.keys(want)) expect(Array.from(got[k])).toEqual(Array.from(want[k]));
    tf.dispose([lean.value, lean.grads]);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  test('reward model: non-trainable variables get no gradient; lower peak memory than the stock pass', async () => {
    const rm = RewardModel.random(config, 3);
    rm.backbone.weights.get('model.norm.weight')!.trainable = false;
    const f = () => tf.tidy(() => rm.scores(ids, mask).square().sum() as tf.Scalar);
    const peak = async (g: typeof leanVariableGrads) => {
      const p = await tf.profile(async () => {
        const r = g(f, rm.variables());
        await Promise.all(Object.values(r.grads).filter((x) => x).map((x) => x.data())); // stock: null for non-trainable
        tf.dispose([r.value, ...Object.values(r.grads).filter((x) => x)]);
      });
      return p.peakBytes;
    };
    await peak(tf.variableGrads); // first-use tables (RoPE, causal bias) out of the comparison
    const stockPeak = await peak(tf.variableGrads);
    const leanPeak = await peak(leanVariableGrads);
    expect(leanPeak).toBeLessThan(stockPeak);
    const r = leanVariableGrads(f, rm.variables());
    const names = new Set(rm.variables().filter((v) => v.trainable).map((v) => v.name));
    expect(new Set(Object.keys(r.grads))).toEqual(names);
    expect(Object.keys(r.grads)).not.toContain(rm.backbone.weights.get('model.norm.weight')!.name);
    tf.dispose([r.value, r.grads]);
    rm.dispose();
  });

  test('inside another gradient computation it defers to tf.variableGrads (same numbers)', () => {
    const v = tf.variable(tf.scalar(3));
    const outer = tf.grad((x: tf.Tensor) => {
      const inner = leanVariableGrads(() => v.mul(x).square() as tf.Scalar, [v]);
      return inner.value;
    });
    const g = outer(tf.scalar(2));
    expect(g.dataSync()[0]).toBeCloseTo(2 * 3 * 3 * 2, 5); // d/dx (v x)² = 2 v² x
    tf.dispose([g, v]);
  });
});
