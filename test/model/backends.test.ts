/**
 * The model gives the same numbers on every available backend: stories260K's golden logits on
 * native (tfjs-node) and wasm, and forward values and gradients of a tiny GQA model with biases
 * compared against the cpu backend. A backend that is not available here is skipped with its reason (a failure
 * under RLHF_REQUIRE_ORACLES=1, see helpers/gates.ts).
 */
import * as path from 'path';
import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs';
import { initBackend, BackendName } from '../../src/backend';
import { LanguageModel } from '../../src/model/language-model';
import { RewardModel } from '../../src/model/reward';
import { sequenceLogProbs } from '../../src/model/logprobs';
import { loadLlama2c } from '../../src/io/llama2c';
import { maxAbsDiff } from './naive';
import { describeIf, testIf } from '../helpers/gates';
import { backend } from '../helpers/native';
import { STORIES, stories260K, tinyConfig } from './helpers';

interface Numbers {
  logps: number[];
  scores: number[];
  grads: Map<string, Float32Array>;
}

/** Forward values and gradients of (Σ sequence log-probs + Σ reward scores) for fixed seeds. */
function compute(): Numbers {
  const cfg = tinyConfig({ num_key_value_heads: 2, attention_bias: true, tie_word_embeddings: false });
  const m = LanguageModel.random(cfg, 31, { std: 0.2 });
  const rm = RewardModel.random(cfg, 32);
  const ids = tf.tensor2d([[1, 5, 6, 7, 8], [1, 9, 10, 0, 0]], undefined, 'int32');
  const mask = tf.tensor2d([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]);
  const compl = tf.tensor2d([[0, 0, 1, 1, 1], [0, 1, 1, 0, 0]]);
  const vars = [...m.variables(), ...rm.variables()];
  const names = [...[...m.weights.keys()].map((k) => `policy/${k}`), ...[...rm.weights.keys()].map((k) => `reward/${k}`)];
  let logps: number[] = [];
  let scores: number[] = [];
  const { value, grads } = tf.variableGrads(() => {
    const lp = sequenceLogProbs(m, ids, mask, compl).sum;
    const sc = rm.scores(ids, mask);
    logps = Array.from(lp.dataSync());
    scores = Array.from(sc.dataSync());
    return lp.sum().add(sc.sum()) as tf.Scalar;
  }, vars);
  const out = new Map<string, Float32Array>();
  vars.forEach((v, i) => out.set(names[i], grads[v.name].dataSync() as Float32Array));
  tf.dispose([value, grads, ids, mask, compl]);
  m.dispose();
  rm.dispose();
  return { logps, scores, grads: out };
}

const relClose = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-4) => {
  let scale = 0;
  let diff = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]));
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
  }
  return diff <= tol * Math.max(scale, 1e-3);
};

let reference: Numbers;
beforeAll(async () => {
  await initBackend('cpu');
  reference = compute();
});
afterAll(async () => {
  await initBackend('cpu');
});

for (const name of ['tensorflow', 'wasm'] as BackendName[]) {
  describeIf(backend(name), `backend ${name}`, () => {
    beforeAll(async () => {
      await initBackend(name);
    });

    test('forward values and gradients equal the cpu backend (<= 1e-4 relative)', () => {
      expect(tf.getBackend()).toBe(name);
      const got = compute();
      expect(relClose(got.logps, reference.logps)).toBe(true);
      expect(relClose(got.scores, reference.scores)).toBe(true);
      for (const [k, g] of reference.grads) {
        if (!relClose(got.grads.get(k)!, g)) throw new Error(`gradient of ${k} differs on ${name}`);
      }
    });

    testIf(stories260K('golden-logits.json'), 'stories260K golden logits (<= 1e-4)', () => {
      expect(tf.getBackend()).toBe(name);
      const golden = JSON.parse(fs.readFileSync(path.join(STORIES, 'golden-logits.json'), 'utf8')) as { cases: { tokens: number[]; logits: number[][] }[] };
      const m = LanguageModel.fromWeights(loadLlama2c(path.join(STORIES, 'stories260K.bin')));
      for (const c of golden.cases) {
        const ours = tf.tidy(() => m.logits(tf.tensor2d([c.tokens], undefined, 'int32')).arraySync()[0] as number[][]);
        expect(maxAbsDiff(ours, c.logits)).toBeLessThanOrEqual(1e-4);
      }
      m.dispose();
    });
  });
}
