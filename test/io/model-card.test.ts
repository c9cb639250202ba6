/**
 * Model cards (src/io/model-card.ts): the rendering itself, saveCheckpoint writing README.md only when asked,
 * huggingface_hub's ModelCard loader reading the metadata, and the card's own usage code run as written:
 * its Python against transformers (the reward score must equal ours) and its TypeScript against this toolkit.
 * The Python parts skip with a printed reason where huggingface_hub / transformers are absent.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import * as api from '../../src';
import { renderModelCard, MODEL_CARD_FILE, type ModelCardContext } from '../../src/io/model-card';
import { saveCheckpoint } from '../../src/io/checkpoint';
import { PRESETS } from '../../src/model/families';
import { parseLlamaConfig } from '../../src/model/families/llama';
import { LanguageModel } from '../../src/model/language-model';
import { RewardModel } from '../../src/model/reward';
import { ByteTokenizer } from '../../src/tokenizer/byte';
import { describeIf } from '../helpers/gates';
import { pythonWith, runPython } from '../helpers/python';

const CFG = parseLlamaConfig({ ...PRESETS.tiny, vocab_size: 259, num_hidden_layers: 1, bos_token_id: 1, eos_token_id: 2, pad_token_id: 0 });
const RECIPE = { name: 'card-test', data: { train: 'data/prefs.jsonl', eval: 'data/prefs-eval.jsonl' }, dpo: { beta: 0.1, loss_type: 'ipo' } };

function ctx(over: Partial<ModelCardContext> = {}): ModelCardContext {
  return {
    kind: 'policy', config: CFG, tokenizer: { kind: 'byte', vocabSize: 259, bosId: 1, eosId: 2 }, hfTokenizerFiles: ['tokenizer.json', 'tokenizer_config.json'],
    step: 120, recipe: RECIPE, metrics: { loss: 0.69314718, 'rewards/accuracies': 0.5, eval_loss: 0.123456, 'eval_rewards/accuracies': 0.8125 },
    parent: '/tmp/runs/sft/final', dir: 'runs/dpo/final', ...over,
  };
}

/** The YAML between the first two --- lines, and the fenced blocks of one language. */
const frontMatter = (md: string) => /^---\n([\s\S]*?)\n---\n/.exec(md)![1];
const blocks = (md: string, lang: string) => [...md.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]);

describe('renderModelCard', () => {
  test('a DPO policy: metadata, description with loss type and beta, metrics tables, recipe JSON, usage code', () => {
    const md = renderModelCard(ctx(), { stage: 'dpo' });
    expect(frontMatter(md).split('\n')).toEqual([
      'library_name: transformers', 'pipeline_tag: text-generation', 'tags:', '- "rlhf-tfjs"', '- "dpo"', '- "llama"',
    ]);
    // A local parent and local data files are described in the body, never as Hub ids in the metadata.
    expect(md).toContain('- Started from: `/tmp/runs/sft/final`');
    expect(md).toContain('- Training data: `data/prefs.jsonl`');
    expect(md).toContain('Direct Preference Optimization (loss_type "ipo", β = 0.1)');
    expect(md).toContain('| eval_loss | 0.1235 |');
    expect(md).toContain('| eval_rewards/accuracies | 0.8125 |');
    expect(md).toContain('| loss | 0.6931 |');
    expect(md.indexOf('## Evaluation')).toBeLessThan(md.indexOf('## Training (last step)'));
    expect(JSON.parse(blocks(md, 'json')[0])).toEqual(RECIPE);
    const py = blocks(md, 'python')[0];
    expect(py).toContain('AutoModelForCausalLM.from_pretrained(path)');
    expect(py).toContain('path = "runs/dpo/final"');
    expect(blocks(md, 'bash')[0]).toBe('rlhf generate --model runs/dpo/final --prompt "What is 2 + 2?" --temperature 0 --max-new-tokens 32\n');
    expect(md).not.toMatch(/\n\n\n/);
  });

  test('a reward model: sequence classifier, reward-model tag, pad id, and Hub ids / licence when given', () => {
    const md = renderModelCard(ctx({ kind: 'reward', metrics: undefined, recipe: undefined }), {
      stage: 'reward', baseModel: 'karpathy/tinyllamas', datasets: ['trl-lib/ultrafeedback_binarized'], license: 'apache-2.0',
    });
    expect(frontMatter(md).split('\n')).toEqual([
      'library_name: transformers', 'pipeline_tag: text-classification', 'license: "apache-2.0"', 'base_model: "karpathy/tinyllamas"',
      'datasets:', '- "trl-lib/ultrafeedback_binarized"', 'tags:', '- "rlhf-tfjs"', '- "reward-model"', '- "llama"',
    ]);
    expect(md).toContain('`LlamaForSequenceClassification`, one label');
    expect(md).toContain('- Padding token id: 0');
    expect(md).not.toContain('## Evaluation');
    expect(md).not.toContain('## Recipe');
    expect(blocks(md, 'python')[0]).toContain('ids = [1] + tokenizer(prompt, add_special_tokens=False).input_ids + tokenizer(response, add_special_tokens=False).input_ids + [2]');
  });

  test('a tokenizer without BOS/EOS gets no made-up ids; one without a transformers export says so', () => {
    const md = renderModelCard(ctx({ tokenizer: { kind: 'custom', vocabSize: 259, bosId: null, eosId: null }, hfTokenizerFiles: [] }), { stage: 'sft' });
    expect(blocks(md, 'python')[0]).toContain('ids = torch.tensor([[] + tokenizer("What is 2 + 2?", add_special_tokens=False).input_ids])');
    expect(blocks(md, 'python')[0]).not.toContain('eos_token_id=');
    expect(md).toContain('has no `tokenizer.json` export');
    expect(frontMatter(md)).toContain('- "sft"');
  });
});

describe('saveCheckpoint and the model card', () => {
  let tmp: string;
  let model: LanguageModel;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'card-ckpt-'));
    model = LanguageModel.random(CFG, 5);
  });
  afterAll(() => {
    model.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('README.md only when a card is asked for, with the metrics and recipe saved in rlhf.json', () => {
    const base = { kind: 'policy' as const, config: CFG, weights: model.weights, tokenizer: new ByteTokenizer(), step: 7, recipe: RECIPE, metrics: { eval_loss: 0.25 } };
    saveCheckpoint(path.join(tmp, 'step'), base);
    expect(fs.existsSync(path.join(tmp, 'step', MODEL_CARD_FILE))).toBe(false);
    saveCheckpoint(path.join(tmp, 'final'), { ...base, card: { stage: 'dpo' } });
    const md = fs.readFileSync(path.join(tmp, 'final', MODEL_CARD_FILE), 'utf8');
    expect(md).toContain('| eval_loss | 0.25 |');
    expect(md).toContain(`path = ${JSON.stringify(path.join(tmp, 'final'))}`);
    expect(JSON.parse(blocks(md, 'json')[0])).toEqual(RECIPE);
  });
});

const HUB_SCRIPT = `
import json, sys
from huggingface_hub import ModelCard
req = json.load(sys.stdin)
out = []
for p in req:
    card = ModelCard.load(p)
    out.append({"data": card.data.to_dict(), "text_head": card.text.lstrip()[:40]})
print(json.dumps(out))
`;

describeIf(pythonWith(['huggingface_hub']), 'huggingface_hub reads the card', () => {
  test('ModelCard.load on README.md files: metadata fields as rendered', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'card-hub-'));
    const dpo = path.join(tmp, 'dpo.md');
    const rm = path.join(tmp, 'rm.md');
    fs.writeFileSync(dpo, renderModelCard(ctx(), { stage: 'dpo' }));
    fs.writeFileSync(rm, renderModelCard(ctx({ kind: 'reward' }), { stage: 'reward', baseModel: 'karpathy/tinyllamas', datasets: ['trl-lib/ultrafeedback_binarized'], license: 'mit' }));
    const [a, b] = runPython<Array<{ data: Record<string, unknown>; text_head: string }>>(HUB_SCRIPT, [dpo, rm]);
    expect(a.data).toEqual({ library_name: 'transformers', pipeline_tag: 'text-generation', tags: ['rlhf-tfjs', 'dpo', 'llama'] });
    expect(a.text_head).toMatch(/^# DPO policy \(llama/);
    expect(b.data).toEqual({
      library_name: 'transformers', pipeline_tag: 'text-classification', license: 'mit', base_model: 'karpathy/tinyllamas',
      datasets: ['trl-lib/ultrafeedback_binarized'], tags: ['rlhf-tfjs', 'reward-model', 'llama'],
    });
    fs.rmSync(tmp, { recursive: true, force: true });
  });
});

describeIf(pythonWith(['torch', 'transformers']), 'the card\'s usage code runs as written', () => {
  let tmp: string;
  let rmDir: string;
  let policyDir: string;
  let ourScore: number;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'card-code-'));
    const tok = new ByteTokenizer();
    const rm = RewardModel.random(CFG, 21);
    rmDir = saveCheckpoint(path.join(tmp, 'reward', 'final'), { kind: 'reward', config: CFG, weights: rmWeights(rm), tokenizer: tok, step: 0, card: { stage: 'reward' } });
    const ids = [1, ...tok.encode('What is 2 + 2?'), ...tok.encode('The answer is 4.'), 2];
    ourScore = tf.tidy(() => rm.scores(tf.tensor2d([ids], undefined, 'int32')).arraySync()[0]);
    rm.dispose();
    const policy = LanguageModel.random(CFG, 22, { std: 0.2 });
    policyDir = saveCheckpoint(path.join(tmp, 'dpo', 'final'), { kind: 'policy', config: CFG, weights: policy.weights, tokenizer: tok, step: 0, card: { stage: 'dpo' } });
    policy.dispose();
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test('Python: the reward card prints our score (within 1e-4); the policy card generates our greedy text', async () => {
    const rmCode = blocks(fs.readFileSync(path.join(rmDir, MODEL_CARD_FILE), 'utf8'), 'python')[0];
    const policyCode = blocks(fs.readFileSync(path.join(policyDir, MODEL_CARD_FILE), 'utf8'), 'python')[0];
    // Each snippet prints one line; runPython reads JSON, so wrap print to collect the lines.
    const wrap = (code: string) => `import json, builtins\n_lines = []\n_print = builtins.print\nprint = lambda *a: _lines.append(" ".join(str(x) for x in a))\n${code}\n_print(json.dumps(_lines))\n`;
    const [score] = runPython<string[]>(wrap(rmCode), null);
    expect(Math.abs(Number(score) - ourScore)).toBeLessThanOrEqual(1e-4);
    // The policy snippet prints decoded text; the ids it generated (its variables out and ids) are compared, since
    // a random model's bytes rarely form valid UTF-8 and the two decoders place U+FFFD differently.
    const withIds = `${policyCode}\nprint(json.dumps(out[0, ids.shape[1]:].tolist()))`;
    const [text, idsJson] = runPython<string[]>(wrap(withIds), null);
    const theirs = (JSON.parse(idsJson) as number[]).filter((id, i, all) => !(id === 2 && i === all.length - 1)); // transformers keeps the EOS it stopped on
    const { model, tokenizer } = api.loadPolicy(policyDir, { trainable: false });
    const prompt = [tokenizer.bosId!, ...tokenizer.encode('What is 2 + 2?')];
    const ours = await api.generate(model, prompt, { maxNewTokens: 32, temperature: 0, stopTokenIds: [tokenizer.eosId!] });
    model.dispose();
    console.log(`card code: transformers score ${score} vs ours ${ourScore}; greedy ids ${JSON.stringify(theirs)} (${ours.finishReason})`);
    expect(typeof text).toBe('string');
    expect(theirs).toEqual(ours.tokens);
  });

  test('TypeScript: the cards\' library code runs against this toolkit and prints the same score', async () => {
    for (const [dir, check] of [[rmDir, (v: unknown) => expect(Math.abs((v as number) - ourScore)).toBeLessThanOrEqual(1e-5)], [policyDir, (v: unknown) => expect(typeof v).toBe('string')]] as const) {
      const code = blocks(fs.readFileSync(path.join(dir, MODEL_CARD_FILE), 'utf8'), 'ts')[0];
      expect(code).toContain("from 'rlhf-tfjs'");
      const logged: unknown[] = [];
      const body = code.replace(/^import .*$/gm, '').replace(/console\.log/g, 'log');
      const fn = new Function('api', 'tf', 'log', `const { initBackend, loadPolicy, loadRewardModel, generate } = api; return (async () => {${body}})();`);
      await fn(api, tf, (v: unknown) => logged.push(v));
      expect(logged).toHaveLength(1);
      check(logged[0]);
    }
  });
});

/** The tensors a reward checkpoint holds (no LM head), as the reward stage saves them. */
function rmWeights(m: RewardModel): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>(m.weights);
  out.delete('lm_head.weight');
  return out;
}
