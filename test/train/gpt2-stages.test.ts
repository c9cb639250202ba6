/**
 * The training stages on the GPT-2 family (config:gpt2-tiny) end to end, on a slice of the shipped data: SFT,
 * then DPO from the SFT model, and a reward model; their final/ folders are GPT-2 checkpoints (GPT2LMHeadModel,
 * GPT2ForSequenceClassification), the weights moved, and summary.json lists the fused kernels that ran (on the
 * native backend with its addon: attention, gradient norm and AdamW, never RMSNorm or the SwiGLU gate, which GPT-2
 * does not have; none elsewhere). With GPT-2's own tokenizer (../shared/tokenizers/gpt2), which has no pad token:
 * the reward model gets one of its own (id 50257, the embedding grown by a row), and transformers' AutoTokenizer and
 * AutoModelForSequenceClassification on the saved folder give our ids and scores.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { fusedOpsAvailable } from '../../src/backend/native-ops';
import { loadPolicy, loadRewardModel } from '../../src/io/load-model';
import { readSafetensors } from '../../src/io/safetensors';
import { loadRecipe, parseSetOption } from '../../src/recipes/load';
import { trainDpo, trainReward, trainSft } from '../../src/train/stages';
import { allOf, describeIf } from '../helpers/gates';
import { pythonWith, runPython } from '../helpers/python';
import { sharedFiles, sharedPath } from '../helpers/shared';

const REPO = path.resolve(__dirname, '../..');
const GPT2_TOKENIZER = sharedPath('tokenizers/gpt2');
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-gpt2-stage-'));

function recipe(extra: string[] = []) {
  return loadRecipe(undefined, [
    parseSetOption('model="config:gpt2-tiny"'),
    parseSetOption(`data.train=${path.join(REPO, 'data/prefs.jsonl')}`),
    parseSetOption('data.limit=40'),
    parseSetOption('data.eval_count=8'),
    ...['sft', 'reward', 'dpo'].flatMap((s) => [
      parseSetOption(`${s}.max_steps=3`),
      parseSetOption(`${s}.batch_size=8`),
      parseSetOption(`${s}.max_length=128`),
      parseSetOption(`${s}.max_prompt_length=64`),
      parseSetOption(`${s}.learning_rate=0.003`),
    ]),
    ...extra.map(parseSetOption),
  ]);
}

const weightsOf = (dir: string) => new Map([...readSafetensors(path.join(dir, 'model.safetensors')).tensors].map(([k, v]) => [k, Array.from(v.data as Float32Array)]));
const configOf = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
/**
 * The fused kernels a GPT-2 run uses, exactly when they load here: every batch is packed by default (segment attention);
 * a language model's log-probs go through the head's log-softmax kernel, a reward model's score head does not.
 */
const gpt2Fused = (head = true) => (fusedOpsAvailable() ? ['segment_attention', ...(head ? ['log_softmax_pick'] : []), 'sum_squares', 'adamw'] : []);

describe('training stages on GPT-2 (config:gpt2-tiny, byte tokenizer)', () => {
  test('SFT then DPO from it: GPT2LMHeadModel folders, weights moved, the fused kernels GPT-2 uses listed', async () => {
    const root = tmp();
    const sft = await trainSft(recipe(), { out: path.join(root, 'sft'), quiet: true });
    expect(sft.steps).toBe(3);
    expect(sft.backend.fused_ops).toEqual(gpt2Fused());
    expect(sft.backend.fused_kernels).toBe(fusedOpsAvailable());
    const cfg = configOf(sft.model);
    expect(cfg).toMatchObject({ architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', n_embd: 32, n_layer: 2, vocab_size: 259 });
    const init = loadPolicy('config:gpt2-tiny', { seed: recipe().seed });
    const trained = weightsOf(sft.model);
    expect([...trained.keys()].sort()).toEqual([...init.model.weights.keys()].sort());
    const c0 = Array.from(init.model.weights.get('transformer.h.0.attn.c_attn.weight')!.dataSync());
    expect(trained.get('transformer.h.0.attn.c_attn.weight')).not.toEqual(c0);
    init.model.dispose();

    const dpo = await trainDpo(recipe(), { out: path.join(root, 'dpo'), model: sft.model, quiet: true, cacheDir: null });
    expect(dpo.steps).toBe(3);
    expect(dpo.reference!.source).toBe(sft.model);
    for (const k of ['eval_rewards/accuracies', 'eval_rewards/margins', 'eval_logps/chosen']) expect(Number.isFinite(dpo.eval![k])).toBe(true);
    expect(dpo.backend.fused_ops).toEqual(gpt2Fused());
    expect(configOf(dpo.model).architectures).toEqual(['GPT2LMHeadModel']);
    // DPO moved the policy away from its reference (the SFT model, which stays as it was on disk).
    expect(weightsOf(dpo.model).get('transformer.ln_f.weight')).not.toEqual(trained.get('transformer.ln_f.weight'));
    expect(weightsOf(sft.model)).toEqual(trained);
  }, 300000);

  test('a reward model: GPT2ForSequenceClassification with score.weight [1, 32], loss finite, accuracy reported', async () => {
    const root = tmp();
    const rm = await trainReward(recipe(), { out: path.join(root, 'rm'), quiet: true });
    expect(rm.steps).toBe(3);
    for (const k of ['eval_loss', 'eval_accuracy']) expect(Number.isFinite(rm.eval![k])).toBe(true);
    expect(rm.backend.fused_ops).toEqual(gpt2Fused(false));
    expect(configOf(rm.model)).toMatchObject({ architectures: ['GPT2ForSequenceClassification'], model_type: 'gpt2', pad_token_id: 0 });
    const w = readSafetensors(path.join(rm.model, 'model.safetensors')).tensors;
    expect(w.get('score.weight')!.shape).toEqual([1, 32]);
    expect(w.has('lm_head.weight')).toBe(false);
    // It loads back as a reward model with the same scores.
    const back = loadRewardModel(rm.model);
    expect(back.fresh).toBe(false);
    back.model.dispose();
  }, 300000);
});

/** transformers on our reward folder: its tokenizer's ids for the pairs, and the model's scores on them. */
const HF_SCRIPT = `
import json, sys, torch
from transformers import AutoTokenizer, AutoModelForSequenceClassification
req = json.load(sys.stdin)
tok = AutoTokenizer.from_pretrained(req["dir"])
rm = AutoModelForSequenceClassification.from_pretrained(req["dir"], torch_dtype=torch.float32, attn_implementation="eager").eval()
enc = tok(req["texts"], padding=True, return_tensors="pt")
with torch.no_grad():
    scores = rm(**enc).logits[:, 0].tolist()
print(json.dumps({"ids": enc["input_ids"].tolist(), "mask": enc["attention_mask"].tolist(), "scores": scores, "pad": tok.pad_token_id, "cls": type(rm).__name__}))
`;

describeIf(sharedFiles('tokenizers/gpt2/tokenizer.json'), 'a GPT-2 reward model with GPT-2\'s own tokenizer (no pad token of its own)', () => {
  let dir: string;
  beforeAll(async () => {
    const rm = await trainReward(recipe([`tokenizer=${JSON.stringify(GPT2_TOKENIZER)}`, 'reward.max_steps=2', 'reward.max_length=96']), { out: path.join(tmp(), 'rm'), quiet: true });
    dir = rm.model;
  }, 300000);

  test('the tokenizer gets pad 50257, the embedding a 50258th row, config.json names it', () => {
    expect(configOf(dir)).toMatchObject({ architectures: ['GPT2ForSequenceClassification'], vocab_size: 50258, pad_token_id: 50257, eos_token_id: 50256 });
    expect(readSafetensors(path.join(dir, 'model.safetensors')).tensors.get('transformer.wte.weight')!.shape).toEqual([50258, 32]);
    const back = loadRewardModel(dir);
    expect([back.tokenizer.padId, back.tokenizer.hasOwnPad, back.model.config.vocab_size]).toEqual([50257, true, 50258]);
    back.model.dispose();
  });

  describeIf(allOf(pythonWith(['torch', 'transformers'])), 'in transformers', () => {
    test('AutoTokenizer + AutoModelForSequenceClassification on the folder: our ids and our scores (1e-4)', () => {
      const texts = ['Where is the ladder? It is in the office.', 'Compute 2 + 2. The answer is 4, I think.', 'x'];
      const py = runPython<{ ids: number[][]; mask: number[][]; scores: number[]; pad: number; cls: string }>(HF_SCRIPT, { dir, texts });
      expect([py.cls, py.pad]).toEqual(['GPT2ForSequenceClassification', 50257]);
      const { model, tokenizer } = loadRewardModel(dir);
      texts.forEach((t, b) => expect(py.ids[b].slice(0, tokenizer.encode(t).length)).toEqual(tokenizer.encode(t)));
      const ours = tf.tidy(() => Array.from(model.scores(tf.tensor2d(py.ids, undefined, 'int32'), tf.tensor2d(py.mask)).dataSync()));
      model.dispose();
      const d = Math.max(...ours.map((s, b) => Math.abs(s - py.scores[b])));
      console.log(`GPT-2 reward (GPT-2 tokenizer, pad 50257) in transformers: ours ${ours.map((s) => s.toFixed(5))}, max |score diff| ${d.toExponential(2)}`);
      expect(d).toBeLessThanOrEqual(1e-4);
    });
  });
});
