/**
 * Hugging Face transformers as the oracle (local wheels): our logits for Llama (GQA, untied head)
 * and Qwen2 (q/k/v biases) on a right-padded batch, and our reward scores against
 * LlamaForSequenceClassification (pad_token_id set, right padding). Skipped with a message where
 * Python with torch + transformers is absent.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { hfConfigJson } from '../../src/model/families';
import { LlamaConfig } from '../../src/model/families/llama';
import { LanguageModel } from '../../src/model/language-model';
import { RewardModel } from '../../src/model/reward';
import { describeIf } from '../helpers/gates';
import { pythonWith, runPython } from '../helpers/python';
import { tinyConfig } from './helpers';

const SCRIPT = fs.readFileSync(path.join(__dirname, 'hf_reference.py'), 'utf8');

const toJson = (w: Map<string, tf.Variable>) =>
  Object.fromEntries([...w].map(([k, v]) => [k, { shape: v.shape, data: Array.from(v.dataSync()) }]));

describeIf(pythonWith(['torch', 'transformers']), 'against transformers', () => {
  const ids = [[1, 5, 6, 7, 8, 9], [1, 9, 10, 0, 0, 0], [1, 3, 4, 5, 0, 0]];
  const mask = ids.map((r, b) => r.map((_, t) => (t < [6, 3, 4][b] ? 1 : 0)));

  test('causal LM logits (Llama GQA untied, Qwen2 biases) and reward scores match to 1e-4', () => {
    const llama = tinyConfig({ num_key_value_heads: 2, tie_word_embeddings: false, rope_theta: 1000 });
    const qwen: LlamaConfig = tinyConfig({ model_type: 'qwen2', num_key_value_heads: 1, attention_bias: true });
    const rmCfg = tinyConfig({ num_key_value_heads: 2 });
    const models = [LanguageModel.random(llama, 1, { std: 0.2 }), LanguageModel.random(qwen, 2, { std: 0.2 })];
    // Biases and norms away from their init so those paths are exercised.
    for (const m of models) for (const [k, v] of m.weights) if (/bias|norm/.test(k)) v.assign(tf.randomUniform(v.shape, 0.5, 1.5, 'float32', 3));
    const rm = RewardModel.random(rmCfg, 3);
    const cases = [
      ...models.map((m) => ({ config: hfConfigJson(m.config), arch: m.config.model_type === 'qwen2' ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM', weights: toJson(m.weights), ids, mask })),
      { config: { ...hfConfigJson(rmCfg, 'sequence_classification'), num_labels: 1 }, arch: 'LlamaForSequenceClassification', weights: toJson(rm.weights), ids, mask },
    ];
    const { outputs } = runPython<{ outputs: unknown[] }>(SCRIPT, { cases });
    const idsT = tf.tensor2d(ids, undefined, 'int32');
    const maskT = tf.tensor2d(mask);
    models.forEach((m, i) => {
      const ours = m.logits(idsT, maskT).arraySync();
      const ref = outputs[i] as number[][][];
      let worst = 0;
      ours.forEach((row, b) => row.forEach((lg, t) => {
        if (mask[b][t] === 0) return; // HF leaves pad-query rows unspecified
        lg.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - ref[b][t][j]))));
      }));
      expect(worst).toBeLessThan(1e-4);
    });
    const scores = Array.from(rm.scores(idsT, maskT).dataSync());
    (outputs[2] as number[]).forEach((s, b) => expect(Math.abs(scores[b] - s)).toBeLessThan(1e-4));
    [...models, rm].forEach((m) => m.dispose());
  });
});
