/**
 * Interop: a checkpoint this toolkit saves loads in Python transformers (from_pretrained on the folder)
 * and gives our logits (causal LM) or scores (reward model) within 1e-4; AutoTokenizer on the same folder
 * encodes text into our ids. Skipped, with the reason
 * printed, where Python with torch + transformers is absent (set RLHF_PYTHON to one that has them).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { describeIf, testIf } from '../helpers/gates';
import { pythonWith, runPython } from '../helpers/python';
import { sharedFiles, sharedPath } from '../helpers/shared';
import { saveCheckpoint } from '../../src/io/checkpoint';
import { loadLlama2c } from '../../src/io/llama2c';
import { loadHfFolder } from '../../src/io/hf';
import { LanguageModel } from '../../src/model/language-model';
import { RewardModel } from '../../src/model/reward';
import { PRESETS } from '../../src/model/families';
import { parseLlamaConfig, type LlamaConfig } from '../../src/model/families/llama';
import { ByteTokenizer } from '../../src/tokenizer/byte';
import { loadPolicy, loadRewardModel } from '../../src/io/load-model';

const BIN = sharedPath('models/stories260K/stories260K.bin');

/** Loads each folder with transformers and returns logits (causal) or scores (classifier) for ids/mask. */
const SCRIPT = `
import json, sys, torch
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification
req = json.load(sys.stdin)
out = []
with torch.no_grad():
    for case in req:
        cls = AutoModelForSequenceClassification if case["kind"] == "reward" else AutoModelForCausalLM
        m = cls.from_pretrained(case["dir"], torch_dtype=torch.float32, attn_implementation="eager").eval()
        ids = torch.tensor(case["ids"]); mask = torch.tensor(case["mask"])
        r = m(input_ids=ids, attention_mask=mask)
        out.append({"cls": type(m).__name__, "values": r.logits.float().tolist()})
print(json.dumps(out))
`;

interface Case { name: string; kind: 'policy' | 'reward'; dir: string; ids: number[][]; mask: number[][]; ours: number[] | number[][][] }

describeIf(pythonWith(['torch', 'transformers']), 'transformers loads our checkpoints and agrees', () => {
  let tmp: string;
  const cases: Case[] = [];
  const tok = new ByteTokenizer();
  // Row 0 full length, row 1 right-padded (pad id 0): HF and we both ignore padded keys.
  const ids = [[1, 72, 105, 33, 50, 60, 70, 2], [1, 80, 90, 100, 2, 0, 0, 0]];
  const mask = [[1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0, 0, 0]];

  const logitsOf = (m: LanguageModel) => tf.tidy(() => m.logits(tf.tensor2d(ids, undefined, 'int32'), tf.tensor2d(mask, undefined, 'int32')).arraySync());
  /** Saves a model as a checkpoint folder and returns its case (what we computed for ids/mask). */
  const save = (name: string, kind: 'policy' | 'reward', model: { config: LanguageModel['config']; weights: Map<string, tf.Variable> }, ours: Case['ours']): Case => {
    const dir = path.join(tmp, name);
    saveCheckpoint(dir, { kind, config: model.config, weights: model.weights, tokenizer: tok, step: 0 });
    return { name, kind, dir, ids, mask, ours };
  };

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'interop-'));
    // 1) random tiny untied GQA model
    const cfg = parseLlamaConfig({ ...PRESETS.tiny, vocab_size: 259, tie_word_embeddings: false });
    const rnd = LanguageModel.random(cfg, 11, { std: 0.2 });
    cases.push(save('random-tiny', 'policy', rnd, logitsOf(rnd)));
    // 2) a reward model on the same config (LlamaForSequenceClassification, 1 label, pad 0)
    const rm = RewardModel.random(cfg, 12);
    const scores = tf.tidy(() => rm.scores(tf.tensor2d(ids, undefined, 'int32'), tf.tensor2d(mask, undefined, 'int32')).arraySync());
    cases.push(save('random-reward', 'reward', rm, scores.map((s) => [s]) as unknown as number[][][]));
    rnd.dispose();
    rm.dispose();
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test('the reverse: folders transformers saves (its own config spelling) load here with the same logits and scores', () => {
    const dir = path.join(tmp, 'from-transformers');
    const script = `
import json, sys, torch
from transformers import LlamaConfig, LlamaForCausalLM, LlamaForSequenceClassification
req = json.load(sys.stdin)
torch.manual_seed(0)
c = LlamaConfig(vocab_size=50, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, rope_theta=500000.0, rms_norm_eps=1e-5, tie_word_embeddings=False,
                initializer_range=0.2, pad_token_id=0, num_labels=1)
ids = torch.tensor(req["ids"]); mask = torch.tensor(req["mask"])
out = {}
for name, cls in [("lm", LlamaForCausalLM), ("rm", LlamaForSequenceClassification)]:
    m = cls(c).eval()
    m.save_pretrained(req["dir"] + "/" + name)
    with torch.no_grad():
        out[name] = m(input_ids=ids, attention_mask=mask).logits.float().tolist()
print(json.dumps(out))
`;
    const ids2 = [[1, 5, 9, 13, 17, 21], [1, 7, 11, 2, 0, 0]];
    const mask2 = [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]];
    const ref = runPython<{ lm: number[][][]; rm: number[][] }>(script, { dir, ids: ids2, mask: mask2 });
    const lm = loadHfFolder(path.join(dir, 'lm'));
    expect((lm.bundle.config as LlamaConfig).rope_theta).toBe(500000);
    const model = LanguageModel.fromWeights(lm.bundle);
    const ours = tf.tidy(() => model.logits(tf.tensor2d(ids2, undefined, 'int32'), tf.tensor2d(mask2, undefined, 'int32')).arraySync());
    model.dispose();
    let maxDiff = 0;
    ids2.forEach((row, b) => row.forEach((_, t) => {
      if (mask2[b][t]) ours[b][t].forEach((v, k) => { maxDiff = Math.max(maxDiff, Math.abs(v - ref.lm[b][t][k])); });
    }));
    const rmLoaded = loadHfFolder(path.join(dir, 'rm'));
    expect(rmLoaded.head).toBe('sequence_classification');
    const rm = RewardModel.fromWeights(rmLoaded.bundle);
    const scores = tf.tidy(() => rm.scores(tf.tensor2d(ids2, undefined, 'int32'), tf.tensor2d(mask2, undefined, 'int32')).arraySync());
    rm.dispose();
    const scoreDiff = Math.max(...scores.map((s, b) => Math.abs(s - ref.rm[b][0])));
    console.log(`interop from-transformers: logits max diff ${maxDiff.toExponential(2)}, scores max diff ${scoreDiff.toExponential(2)}`);
    expect(maxDiff).toBeLessThanOrEqual(1e-4);
    expect(scoreDiff).toBeLessThanOrEqual(1e-4);
  });

  /** Loads each case's folder with transformers and expects its logits or scores within 1e-4 of ours. */
  function expectTransformersAgrees(cases: Case[]): void {
    const res = runPython<Array<{ cls: string; values: unknown }>>(SCRIPT, cases.map(({ kind, dir, ids: i, mask: m }) => ({ kind, dir, ids: i, mask: m })));
    expect(res.length).toBe(cases.length);
    cases.forEach((c, k) => {
      expect(res[k].cls).toBe(c.kind === 'reward' ? 'LlamaForSequenceClassification' : 'LlamaForCausalLM');
      const theirs = (res[k].values as number[] | number[][] | number[][][]).flat(2) as number[];
      // Compare only real (unpadded) positions for logits; scores are one per row.
      const ours = c.ours as number[][][];
      let maxDiff = 0;
      let n = 0;
      if (c.kind === 'reward') {
        (ours as unknown as number[][]).forEach((row, b) => { maxDiff = Math.max(maxDiff, Math.abs(row[0] - theirs[b])); n++; });
      } else {
        const [B, T, V] = [ours.length, ours[0].length, ours[0][0].length];
        for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) {
          if (!mask[b][t]) continue;
          for (let v = 0; v < V; v++) { maxDiff = Math.max(maxDiff, Math.abs(ours[b][t][v] - theirs[(b * T + t) * V + v])); n++; }
        }
      }
      if (c.kind === 'reward') console.log(`interop ${c.name} scores: ours ${JSON.stringify(ours)} transformers ${JSON.stringify(theirs)}`);
      console.log(`interop ${c.name}: ${n} values, max |ours - transformers| = ${maxDiff.toExponential(2)}`);
      expect({ name: c.name, ok: maxDiff <= 1e-4 }).toEqual({ name: c.name, ok: true });
    });
  }

  test('a random tiny untied GQA policy and a reward model on it: logits and scores within 1e-4', () => {
    expect(cases.map((c) => c.name)).toEqual(['random-tiny', 'random-reward']);
    expectTransformersAgrees(cases);
  });

  testIf(sharedFiles('models/stories260K/stories260K.bin'), 'stories260K imported from llama2.c\'s .bin: logits within 1e-4', () => {
    const st = LanguageModel.fromWeights(loadLlama2c(BIN));
    const c = save('stories260K', 'policy', st, logitsOf(st));
    st.dispose();
    expectTransformersAgrees([c]);
  });
});

/** A whole folder: AutoTokenizer encodes the text itself, and the model gives our logits / scores on it. */
const AUTO_SCRIPT = `
import json, sys, torch
from transformers import AutoTokenizer, AutoModelForCausalLM, AutoModelForSequenceClassification
req = json.load(sys.stdin)
out = {}
with torch.no_grad():
    tok = AutoTokenizer.from_pretrained(req["policy"])
    lm = AutoModelForCausalLM.from_pretrained(req["policy"], torch_dtype=torch.float32, attn_implementation="eager").eval()
    enc = tok(req["texts"], padding=True, return_tensors="pt")
    out["policy"] = {"ids": enc["input_ids"].tolist(), "mask": enc["attention_mask"].tolist(), "logits": lm(**enc).logits.tolist()}
    rtok = AutoTokenizer.from_pretrained(req["reward"])
    rm = AutoModelForSequenceClassification.from_pretrained(req["reward"], torch_dtype=torch.float32, attn_implementation="eager").eval()
    renc = rtok([p for p, _ in req["pairs"]], [c for _, c in req["pairs"]], padding=True, return_tensors="pt")
    out["reward"] = {"ids": renc["input_ids"].tolist(), "scores": rm(**renc).logits[:, 0].tolist()}
print(json.dumps(out))
`;

describeIf(pythonWith(['torch', 'transformers']), 'a config:tiny checkpoint folder in transformers, tokenizer included', () => {
  test('AutoTokenizer + AutoModelForCausalLM / AutoModelForSequenceClassification give our ids, logits and scores', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'interop-auto-'));
    const policy = loadPolicy('config:tiny', { seed: 3 });
    const reward = loadRewardModel('config:tiny', { seed: 4 });
    const policyDir = saveCheckpoint(path.join(tmp, 'sft', 'final'), { kind: 'policy', config: policy.model.config, weights: policy.model.weights, tokenizer: policy.tokenizer, step: 0, card: { stage: 'sft' } });
    const rmWeights = new Map<string, tf.Tensor>(reward.model.weights);
    rmWeights.delete('lm_head.weight');
    const rewardDir = saveCheckpoint(path.join(tmp, 'reward', 'final'), { kind: 'reward', config: reward.model.config, weights: rmWeights, tokenizer: reward.tokenizer, step: 0, card: { stage: 'reward' } });
    const texts = ['Compute 1 + 5.', 'héllo 😀 <s> two  spaces\n', 'x'];
    const pairs: Array<[string, string]> = [['Where is the ladder?', ' It is in the office.'], ['Compute 2 + 2.', 'The answer is 4.']];
    const py = runPython<{ policy: { ids: number[][]; mask: number[][]; logits: number[][][] }; reward: { ids: number[][]; scores: number[] } }>(AUTO_SCRIPT, {
      policy: policyDir, reward: rewardDir, texts, pairs,
    });
    // Ids: tokenizer(text) is [BOS] + our encode(text), right-padded with our pad id; pairs are collate's sequence.
    const tok = policy.tokenizer;
    const ourIds = texts.map((t) => [tok.bosId!, ...tok.encode(t)]);
    ourIds.forEach((ids, b) => expect(py.policy.ids[b].slice(0, ids.length)).toEqual(ids));
    const T = py.policy.ids[0].length;
    const ours = tf.tidy(() => policy.model.logits(tf.tensor2d(py.policy.ids, undefined, 'int32'), tf.tensor2d(py.policy.mask, undefined, 'int32')).arraySync());
    let maxDiff = 0;
    for (let b = 0; b < texts.length; b++) for (let t = 0; t < T; t++) {
      if (py.policy.mask[b][t]) ours[b][t].forEach((v, k) => { maxDiff = Math.max(maxDiff, Math.abs(v - py.policy.logits[b][t][k])); });
    }
    const pairIds = pairs.map(([p, c]) => [tok.bosId!, ...tok.encode(p), ...tok.encode(c), tok.eosId!]);
    pairIds.forEach((ids, b) => expect(py.reward.ids[b].slice(0, ids.length)).toEqual(ids));
    const scores = pairIds.map((ids) => tf.tidy(() => reward.model.scores(tf.tensor2d([ids], undefined, 'int32')).arraySync()[0]));
    const scoreDiff = Math.max(...scores.map((s, b) => Math.abs(s - py.reward.scores[b])));
    console.log(`interop config:tiny folder: logits max diff ${maxDiff.toExponential(2)}, scores max diff ${scoreDiff.toExponential(2)}`);
    expect(maxDiff).toBeLessThanOrEqual(1e-4);
    expect(scoreDiff).toBeLessThanOrEqual(1e-4);
    policy.model.dispose();
    reward.model.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  });
});
