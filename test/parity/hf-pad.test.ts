/**
 * Reward checkpoints read the same in transformers for a tokenizer with neither pad nor unk token (GPT-2's
 * tokenizer.json, ../shared/tokenizers/gpt2), where padding would otherwise borrow EOS.
 *
 * Why it needs care: transformers' LlamaForSequenceClassification reads the score at the last token that is
 * not config.pad_token_id, and builds nn.Embedding(padding_idx = pad_token_id), whose row never trains. With
 * pad = EOS it would score the token before the trailing EOS (we score the EOS) and freeze EOS. So a reward
 * model made from such a base gets a pad token of its own (tokenizer/pad.ts: special added token at id 50257,
 * pad_token in tokenizer_config.json; model/vocab.ts: a zero embedding row; config pad_token_id 50257).
 *
 * Checked here, on a small random Llama sized to GPT-2's vocabulary (the tiny preset) and 8 pairs written for
 * this test, every completion ending in EOS:
 *  1) the policy folder names no pad_token_id (no row of a real token frozen in HF), the reward folder names
 *     the added pad, and both reload here unchanged;
 *  2) AutoTokenizer on the reward folder: pad "<|pad|>" = 50257, the texts tokenise to our ids, tokenizer.pad()
 *     pads with 50257; AutoModelForSequenceClassification gives our scores to 1e-4, while the same rows read
 *     the pad = EOS way differ (the case this fixes, so the comparison can fail);
 *  3) one TRL RewardTrainer step from the folder (TRL pads with the tokenizer's pad): same collated batch,
 *     same loss and grad_norm, same weights after the step (all but a handful of elements to 1e-6, see the
 *     test), and the EOS embedding row moved on both sides (a padding_idx = EOS row would not).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { allOf, describeIf } from '../helpers/gates';
import { pythonWith, runPython } from '../helpers/python';
import { sharedFiles, sharedPath } from '../helpers/shared';
import { collatePairs, preparePair, PairBatch } from '../../src/data';
import type { PreferenceRecord } from '../../src/data/types';
import { loadTokenizer } from '../../src/tokenizer/load';
import { HfTokenizer } from '../../src/tokenizer/hf';
import { saveCheckpoint } from '../../src/io/checkpoint';
import { readSafetensors } from '../../src/io/safetensors';
import { LanguageModel } from '../../src/model/language-model';
import { loadRewardModel, presetConfig } from '../../src/io/load-model';
import { EMBEDDING_WEIGHT } from '../../src/model/vocab';
import { BatchSource, runTrainingLoop } from '../../src/train/loop';
import { rewardTask } from '../../src/train/reward';

const GPT2 = sharedPath('tokenizers/gpt2/tokenizer.json');
const SCRIPT = path.join(__dirname, 'hf_pad.py');
const EOS = 50256;
const PAD = 50257;
const ADAM = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.1 };
const LR = 1e-3;

const TEXTS = [
  ['Q: What is two plus two?\nA:', ' Four.', ' Five, probably.'],
  ['Q: Name a colour of the sky.\nA:', ' Blue on a clear day.', ' Plaid.'],
  ['Translate to French: cat\n', ' chat', ' chien'],
  ['Say something kind.\n', ' You did well today.', ' Whatever.'],
  ['Q: Is water wet?\nA:', ' It makes things wet.', ' No idea, ask someone else.'],
  ['Write a greeting:', ' Hello, nice to meet you!', ' Go away.'],
  ['Q: How many legs does a spider have?\nA:', ' Eight.', ' Six, like all insects.'],
  ['Finish the sentence: The early bird', ' catches the worm.', ' sleeps in.'],
].map(([prompt, chosen, rejected], i): PreferenceRecord => ({ prompt, chosen, rejected, id: `p${i}`, source: `hf-pad.test.ts:${i}` }));

interface Answer {
  tokenizer: { pad_token: string; pad_token_id: number; eos_token: string; eos_token_id: number; len: number };
  hf_ids: { chosen_ids: number[]; rejected_ids: number[] }[];
  padded_ids: number[][];
  scores: number[];
  scores_eos_pad: number[];
  reward_padding_idx: number | null;
  policy_padding_idx: number | null;
  trl: { logs: Record<string, number>[]; first_batch: { input_ids: number[][]; attention_mask: number[][] }; pad_token_id: number };
}

class Once implements BatchSource<PairBatch> {
  constructor(private readonly batch: PairBatch) {}
  readonly batchesPerEpoch = 1;
  next(): PairBatch {
    return this.batch;
  }
  getState() {
    return {};
  }
  setState() {}
}

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};


describeIf(allOf(sharedFiles('tokenizers/gpt2/tokenizer.json'), pythonWith(['torch', 'transformers', 'trl', 'datasets', 'safetensors'])), 'reward checkpoints with GPT-2\'s tokenizer (no pad, no unk) read the same in transformers and TRL', () => {
  let work: string;
  let policyDir: string;
  let rewardDir: string;
  let batch: PairBatch;
  let examples: { chosen_ids: number[]; rejected_ids: number[] }[];
  let ours: number[];
  let before: Map<string, Float32Array>;
  let after: Map<string, Float32Array>;
  let oursLoop: Record<string, number>;
  let py: Answer;
  let trlWeights: Map<string, Float32Array>;

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'hf-pad-'));
    const base = loadTokenizer(GPT2);
    expect([base.hasOwnPad, base.padId, base.eosId, base.vocabSize]).toEqual([false, EOS, EOS, 50257]);

    // A random tiny Llama on GPT-2's vocabulary, saved as a policy folder: the "base" a reward model starts from.
    const policy = LanguageModel.random(presetConfig('tiny', base), 5);
    policyDir = path.join(work, 'policy');
    saveCheckpoint(policyDir, { kind: 'policy', config: policy.config, weights: policy.weights, tokenizer: base, step: 0 });
    policy.dispose();

    const rm = loadRewardModel(policyDir, { seed: 3 });
    expect([rm.fresh, rm.tokenizer.hasOwnPad, rm.tokenizer.padId, rm.tokenizer.eosId, rm.tokenizer.vocabSize]).toEqual([true, true, PAD, EOS, 50258]);
    expect([rm.model.config.vocab_size, rm.model.config.pad_token_id]).toEqual([50258, PAD]);
    rewardDir = path.join(work, 'reward');
    saveCheckpoint(rewardDir, { kind: 'reward', config: rm.model.config, weights: rm.model.weights, tokenizer: rm.tokenizer, step: 0 });

    const prepared = TEXTS.map((r) => preparePair(r, rm.tokenizer)!);
    examples = prepared.map((e) => ({ chosen_ids: e.chosen.ids, rejected_ids: e.rejected.ids }));
    batch = collatePairs(prepared, rm.tokenizer.padId);
    const t = { ids: tf.tensor2d(batch.inputIds, [16, batch.seqLen], 'int32'), mask: tf.tensor2d(batch.attentionMask, [16, batch.seqLen]) };
    ours = Array.from(tf.tidy(() => rm.model.scores(t.ids, t.mask)).dataSync());
    tf.dispose([t.ids, t.mask]);

    // One step of ours from the same weights, on the same 8 pairs in one batch.
    before = new Map([...rm.model.weights].map(([n, v]) => [n, v.dataSync() as Float32Array]));
    const task = rewardTask(rm.model, { centerRewardsCoefficient: null, useMargin: false }, async () => {});
    const res = await runTrainingLoop(task, new Once(batch), null, {
      maxSteps: 1, gradientAccumulationSteps: 1, lr: LR, schedule: 'constant', warmupSteps: 0, adamw: ADAM, maxGradNorm: 1.0,
      logEvery: 1, evalEvery: 0, saveEvery: 0, keepLast: 1, outDir: path.join(work, 'ours-run'), quiet: true,
    });
    oursLoop = res.train;
    after = new Map([...rm.model.weights].map(([n, v]) => [n, v.dataSync() as Float32Array]));
    rm.model.dispose();

    const weightsOut = path.join(work, 'trl-after.safetensors');
    py = runPython<Answer>(fs.readFileSync(SCRIPT, 'utf8'), {
      reward_dir: rewardDir, policy_dir: policyDir, texts: TEXTS, examples, weights_out: weightsOut,
      batch_size: TEXTS.length, lr: LR, beta1: ADAM.beta1, beta2: ADAM.beta2, eps: ADAM.epsilon, weight_decay: ADAM.weightDecay, max_grad_norm: 1.0,
    });
    trlWeights = new Map([...readSafetensors(weightsOut).tensors].map(([n, raw]) => [n, raw.data as Float32Array]));
  }, 300000);

  afterAll(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  test('folders: the policy names no pad id, the reward model its own pad; both reload unchanged', () => {
    const policyConfig = JSON.parse(fs.readFileSync(path.join(policyDir, 'config.json'), 'utf8'));
    expect(policyConfig.pad_token_id).toBeNull();
    expect(py.policy_padding_idx).toBeNull();
    const rewardConfig = JSON.parse(fs.readFileSync(path.join(rewardDir, 'config.json'), 'utf8'));
    expect([rewardConfig.vocab_size, rewardConfig.pad_token_id, rewardConfig.eos_token_id]).toEqual([50258, PAD, EOS]);
    expect(py.reward_padding_idx).toBe(PAD);
    const tok = loadTokenizer(rewardDir) as HfTokenizer;
    expect([tok.padId, tok.hasOwnPad, tok.idToToken(PAD), tok.vocabSize]).toEqual([PAD, true, '<|pad|>', 50258]);
    expect(tok.encode('a <|pad|> b')).toContain(PAD); // as in Python: a special token written literally is that token
    expect(tok.decode([...tok.encode('Hello'), PAD, EOS])).toBe('Hello');
    const again = loadRewardModel(rewardDir);
    expect([again.fresh, again.model.config.vocab_size, again.model.config.pad_token_id, again.tokenizer.padId]).toEqual([false, 50258, PAD, PAD]);
    // The pad row is zero (nn.Embedding's padding_idx init): it is never read for a real position.
    const emb = before.get(EMBEDDING_WEIGHT)!;
    const H = emb.length / 50258;
    expect(maxAbs(emb.subarray(PAD * H, (PAD + 1) * H), new Float32Array(H))).toBe(0);
    again.model.dispose();
  });

  test('AutoTokenizer + AutoModelForSequenceClassification on our folder: our ids, pad 50257, our scores to 1e-4', () => {
    expect(py.tokenizer).toEqual({ pad_token: '<|pad|>', pad_token_id: PAD, eos_token: '<|endoftext|>', eos_token_id: EOS, len: 50258 });
    expect(py.hf_ids).toEqual(examples);
    for (const e of examples) {
      expect(e.chosen_ids[e.chosen_ids.length - 1]).toBe(EOS);
      expect(e.rejected_ids[e.rejected_ids.length - 1]).toBe(EOS);
    }
    const T = batch.seqLen;
    for (let r = 0; r < 16; r++) {
      for (let t = 0; t < T; t++) expect(py.padded_ids[r][t]).toBe(batch.attentionMask[r * T + t] === 1 ? batch.inputIds[r * T + t] : PAD);
    }
    const worst = maxAbs(ours, py.scores);
    const eosWay = maxAbs(ours, py.scores_eos_pad);
    // eslint-disable-next-line no-console
    console.log(`GPT-2 tokenizer reward scores: max |ours - transformers| = ${worst.toExponential(2)}; read the pad = EOS way: ${eosWay.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-4);
    expect(eosWay).toBeGreaterThan(1e-3);
  });

  test('one TRL RewardTrainer step from our folder: same batch, loss, grad_norm and weights; EOS row trained on both sides', () => {
    const { logs, first_batch: fb, pad_token_id } = py.trl;
    expect(pad_token_id).toBe(PAD);
    expect(logs.length).toBe(1);
    const T = batch.seqLen;
    expect(fb.input_ids.length).toBe(16);
    for (let r = 0; r < 16; r++) {
      for (let t = 0; t < T; t++) {
        expect(fb.attention_mask[r][t]).toBe(batch.attentionMask[r * T + t]);
        expect(fb.input_ids[r][t]).toBe(batch.attentionMask[r * T + t] === 1 ? batch.inputIds[r * T + t] : PAD);
      }
    }
    expect(Math.abs(oursLoop.loss - logs[0].loss)).toBeLessThan(1e-6);
    expect(Math.abs(oursLoop.grad_norm - logs[0].grad_norm) / logs[0].grad_norm).toBeLessThan(1e-5);

    expect([...trlWeights.keys()].sort()).toEqual([...after.keys()].sort());
    // Adam's first update is lr·g/(|g| + ε) per element: where |g| is near ε (1e-8) float noise in g moves the
    // update by a good part of lr, so a few such elements differ by up to ~0.1·lr; every other one agrees to 1e-6.
    let worst = 0;
    let worstName = '';
    let total = 0;
    let loose = 0;
    for (const [name, w] of after) {
      const theirs = trlWeights.get(name)!;
      for (let i = 0; i < w.length; i++) if (Math.abs(w[i] - theirs[i]) > 1e-6) loose++;
      total += w.length;
      const d = maxAbs(w, theirs);
      if (d > worst) [worst, worstName] = [d, name];
    }
    const emb = EMBEDDING_WEIGHT;
    const H = after.get(emb)!.length / 50258;
    const row = (m: Map<string, Float32Array>, id: number) => m.get(emb)!.subarray(id * H, (id + 1) * H);
    const eosMoved = { ours: maxAbs(row(after, EOS), row(before, EOS)), trl: maxAbs(row(trlWeights, EOS), row(before, EOS)) };
    // eslint-disable-next-line no-console
    console.log(`one RewardTrainer step: loss ${oursLoop.loss} / ${logs[0].loss}, grad_norm ${oursLoop.grad_norm} / ${logs[0].grad_norm}; ` +
      `weights: max |Δ| ${worst.toExponential(2)} (${worstName}), ${loose} of ${total} elements over 1e-6; ` +
      `EOS row moved ${eosMoved.ours.toExponential(2)} / ${eosMoved.trl.toExponential(2)}`);
    expect(worst).toBeLessThan(0.1 * LR);
    expect(loose).toBeLessThan(1e-5 * total);
    expect(eosMoved.ours).toBeGreaterThan(1e-4); // a frozen row (padding_idx = EOS) would not move
    expect(eosMoved.trl).toBeGreaterThan(1e-4);
    expect(maxAbs(row(trlWeights, PAD), new Float32Array(H))).toBe(0);
    expect(maxAbs(row(after, PAD), new Float32Array(H))).toBe(0);
  });
});
