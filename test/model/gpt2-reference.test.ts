/**
 * GPT-2 against Hugging Face transformers (the oracle, gpt2_reference.py): small random GPT-2 models that
 * transformers builds and saves (tied and untied LM heads, the original upload's unprefixed layout with its old
 * mask buffers, GPT2ForSequenceClassification) load here and give transformers' logits and scores within 1e-4;
 * greedy generation with our KV cache gives transformers' tokens; and the other way, GPT-2 checkpoints this
 * toolkit saves (policy and reward model) load in AutoModelForCausalLM / AutoModelForSequenceClassification and
 * give our logits and scores. A right-padded batch throughout; padded positions are not compared (unspecified).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { loadHfFolder } from '../../src/io/hf';
import { saveCheckpoint } from '../../src/io/checkpoint';
import { generate } from '../../src/model/generate';
import { LanguageModel } from '../../src/model/language-model';
import { RewardModel } from '../../src/model/reward';
import { parseGPT2Config } from '../../src/model/families/gpt2';
import { ByteTokenizer } from '../../src/tokenizer/byte';
import { describeIf } from '../helpers/gates';
import { pythonWith, runPythonJson } from '../helpers/python';

const SCRIPT = path.join(__dirname, 'gpt2_reference.py');

interface Made { kind: 'policy' | 'reward'; dir: string; values: number[][][] | number[] }
interface Answer { made: Record<string, Made>; greedy: number[]; loaded: Array<{ cls: string; values: number[][][] | number[] }>; transformers: string }

describeIf(pythonWith(['torch', 'transformers', 'safetensors']), 'GPT-2 against transformers', () => {
  const ids = [[1, 5, 6, 7, 8, 9], [1, 9, 10, 0, 0, 0], [1, 3, 4, 5, 0, 0]];
  const mask = ids.map((r, b) => r.map((_, t) => (t < [6, 3, 4][b] ? 1 : 0)));
  const prompt = [1, 17, 23];
  let tmp: string;
  let answer: Answer;
  /** Our outputs for the folders we saved, in the order sent to Python. */
  const ours: Array<{ name: string; kind: 'policy' | 'reward'; values: number[][][] | number[] }> = [];

  const idsT = () => tf.tensor2d(ids, undefined, 'int32');
  const maskT = () => tf.tensor2d(mask);
  const logitsOf = (m: LanguageModel) => tf.tidy(() => m.logits(idsT(), maskT()).arraySync());
  const scoresOf = (m: RewardModel) => tf.tidy(() => Array.from(m.scores(idsT(), maskT()).dataSync()));

  /** max |a − b| over real (unpadded) positions for logits, over rows for scores. */
  function maxDiff(a: number[][][] | number[], b: number[][][] | number[]): number {
    let worst = 0;
    if (typeof a[0] === 'number') (a as number[]).forEach((v, i) => (worst = Math.max(worst, Math.abs(v - (b as number[])[i]))));
    else (a as number[][][]).forEach((row, i) => row.forEach((lg, t) => {
      if (mask[i][t]) lg.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - (b as number[][][])[i][t][j]))));
    }));
    return worst;
  }

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gpt2-ref-'));
    // Our side first: a random GPT-2 policy (untied, LayerNorms moved) and a reward model, saved as checkpoints.
    const cfg = parseGPT2Config({ vocab_size: 259, n_embd: 32, n_layer: 2, n_head: 4, n_positions: 64, n_inner: 48, tie_word_embeddings: false, bos_token_id: 1, eos_token_id: 2, pad_token_id: 0 });
    const policy = LanguageModel.random(cfg, 11, { std: 0.2 });
    for (const [k, v] of policy.weights) if (/ln_|bias/.test(k)) v.assign(tf.randomUniform(v.shape, -0.5, 1.5, 'float32', 4));
    const rm = RewardModel.fromPolicy(policy, 12, { scoreStd: 1 });
    const tok = new ByteTokenizer();
    saveCheckpoint(path.join(tmp, 'ours-policy'), { kind: 'policy', config: policy.config, weights: policy.weights, tokenizer: tok, step: 0 });
    saveCheckpoint(path.join(tmp, 'ours-reward'), { kind: 'reward', config: rm.config, weights: rm.weights, tokenizer: tok, step: 0 });
    ours.push({ name: 'ours-policy', kind: 'policy', values: logitsOf(policy) }, { name: 'ours-reward', kind: 'reward', values: scoresOf(rm) });
    policy.dispose();
    rm.dispose();
    answer = runPythonJson<Answer>(SCRIPT, {
      dir: tmp, ids, mask, prompt, new_tokens: 12,
      ours: ours.map((o) => ({ kind: o.kind, dir: path.join(tmp, o.name) })),
    });
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test.each(['lm', 'lm_untied', 'lm_legacy'])('GPT2LMHeadModel folder "%s": loads here, logits within 1e-4', (name) => {
    const made = answer.made[name];
    const loaded = loadHfFolder(made.dir);
    expect([loaded.head, loaded.architecture, loaded.bundle.config.model_type]).toEqual(['causal_lm', 'GPT2LMHeadModel', 'gpt2']);
    if (name === 'lm_legacy') expect(loaded.warnings).toEqual([0, 1].map((i) => `h.${i}.attn.bias: a buffer the gpt2 forward derives itself; not loaded`));
    const model = LanguageModel.fromWeights(loaded.bundle);
    expect(model.weights.has('lm_head.weight')).toBe(name === 'lm_untied');
    const d = maxDiff(logitsOf(model), made.values);
    model.dispose();
    console.log(`GPT-2 ${name} vs transformers ${answer.transformers}: max |logit diff| ${d.toExponential(2)}`);
    expect(d).toBeLessThanOrEqual(1e-4);
  });

  test('GPT2ForSequenceClassification folder: loads as a reward model, scores within 1e-4', () => {
    const made = answer.made.rm;
    const loaded = loadHfFolder(made.dir);
    expect([loaded.head, loaded.architecture, loaded.numLabels]).toEqual(['sequence_classification', 'GPT2ForSequenceClassification', 1]);
    const rm = RewardModel.fromWeights(loaded.bundle);
    const d = maxDiff(scoresOf(rm), made.values);
    rm.dispose();
    console.log(`GPT-2 reward vs transformers: max |score diff| ${d.toExponential(2)}`);
    expect(d).toBeLessThanOrEqual(1e-4);
  });

  test('greedy generation with the KV cache gives transformers\' tokens, and the uncached recomputation\'s', async () => {
    const model = LanguageModel.fromWeights(loadHfFolder(answer.made.lm.dir).bundle);
    const opts = { maxNewTokens: 12, temperature: 0, stopTokenIds: [] };
    const cached = await generate(model, prompt, opts);
    const uncached = await generate(model, prompt, { ...opts, useCache: false });
    model.dispose();
    expect(cached.tokens).toEqual(answer.greedy);
    expect(uncached.tokens).toEqual(answer.greedy);
  });

  test('our GPT-2 checkpoints load in AutoModelForCausalLM / AutoModelForSequenceClassification with our logits and scores', () => {
    expect(answer.loaded.map((l) => l.cls)).toEqual(['GPT2LMHeadModel', 'GPT2ForSequenceClassification']);
    ours.forEach((o, i) => {
      const d = maxDiff(o.values, answer.loaded[i].values);
      console.log(`${o.name} in transformers: max |diff| ${d.toExponential(2)}`);
      expect({ name: o.name, ok: d <= 1e-4 }).toEqual({ name: o.name, ok: true });
    });
  });
});
