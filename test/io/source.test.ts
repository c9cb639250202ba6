import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { resolveModelSource, loadModelWeights, ModelSourceError } from '../../src/io/source';
import { editDistance } from '../../src/util/suggest';
import { saveCheckpoint } from '../../src/io/checkpoint';
import { LanguageModel } from '../../src/model/language-model';
import { PRESETS } from '../../src/model/families';
import { parseLlamaConfig } from '../../src/model/families/llama';
import { ByteTokenizer } from '../../src/tokenizer/byte';

import { testIf } from '../helpers/gates';
import { sharedFiles, sharedPath } from '../helpers/shared';

const MODEL = sharedPath('models/stories260K');

let tmp: string;
beforeAll(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'src-test-')); });
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('editDistance worked examples', () => {
  expect(editDistance('dpo-tinny', 'dpo-tiny')).toBe(1);
  expect(editDistance('kitten', 'sitting')).toBe(3);
  expect(editDistance('', 'abc')).toBe(3);
});

test('config presets', () => {
  expect(resolveModelSource('config:tiny')).toEqual({ kind: 'config', name: 'tiny' });
  expect(() => resolveModelSource('config:huge')).toThrow(/no preset named "huge"; available: config:tiny, config:15m/);
  expect(() => resolveModelSource('config:__proto__')).toThrow(ModelSourceError);
  expect(() => loadModelWeights({ kind: 'config', name: 'tiny' })).toThrow(/LanguageModel.random/);
});

test('checkpoint folder, and a typo\'d path suggests its sibling', () => {
  const cfg = parseLlamaConfig({ ...PRESETS.tiny, vocab_size: 259, num_hidden_layers: 1 });
  const m = LanguageModel.random(cfg, 1);
  const dir = path.join(tmp, 'dpo-tiny');
  saveCheckpoint(dir, { kind: 'policy', config: cfg, weights: m.weights, tokenizer: new ByteTokenizer(), step: 0 });
  m.dispose();
  expect(resolveModelSource(dir)).toEqual({ kind: 'checkpoint', path: dir });
  const loaded = loadModelWeights(resolveModelSource(dir));
  expect(loaded.meta?.kind).toBe('policy');
  tf.dispose([...loaded.bundle.tensors.values()]);
  expect(() => resolveModelSource(path.join(tmp, 'dpo-tinny'))).toThrow(new RegExp(`dpo-tinny does not exist; did you mean ${dir.replace(/[/.]/g, '\\$&')}\\?`));
  expect(() => resolveModelSource(path.join(tmp, 'nothing-like-it'))).toThrow(/does not exist; expected a checkpoint folder/);
  expect(() => resolveModelSource(path.join(tmp, 'no/such/parent'))).toThrow(/does not exist, nor does its folder/);
});

test('folders and files that are none of the kinds', () => {
  const empty = path.join(tmp, 'empty');
  fs.mkdirSync(empty);
  expect(() => resolveModelSource(empty)).toThrow(/the folder has no config.json and model.safetensors \(or model.safetensors.index.json\) \(it holds nothing\)/);
  const run = path.join(tmp, 'run');
  fs.mkdirSync(path.join(run, 'checkpoint-10'), { recursive: true });
  expect(() => resolveModelSource(run)).toThrow(/it holds step checkpoints: pass one of them, e.g. .*checkpoint-10/);
  const txt = path.join(tmp, 'model.txt');
  fs.writeFileSync(txt, 'x');
  expect(() => resolveModelSource(txt)).toThrow(/not a folder or a .bin file/);
  const st = path.join(tmp, 'w.safetensors');
  fs.writeFileSync(st, 'x');
  expect(() => resolveModelSource(st)).toThrow(/a bare .safetensors file has no config/);
  expect(() => resolveModelSource('')).toThrow(/--model is empty/);
});

test('a TRL / transformers Trainer output folder (checkpoint-N with trainer_state.json, optimizer.pt, ...) is a Hugging Face folder', () => {
  // What transformers' Trainer writes into output_dir/checkpoint-N (file names only; the weights are a real HF folder's).
  const cfg = parseLlamaConfig({ ...PRESETS.tiny, vocab_size: 259, num_hidden_layers: 1 });
  const m = LanguageModel.random(cfg, 2);
  const ours = path.join(tmp, 'ours-for-trl');
  saveCheckpoint(ours, { kind: 'policy', config: cfg, weights: m.weights, tokenizer: new ByteTokenizer(), step: 0 });
  m.dispose();
  const out = path.join(tmp, 'trl-output');
  const ckpt = path.join(out, 'checkpoint-2');
  fs.mkdirSync(ckpt, { recursive: true });
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) {
    fs.copyFileSync(path.join(ours, f), path.join(ckpt, f));
    fs.copyFileSync(path.join(ours, f), path.join(out, f)); // trainer.save_model(output_dir)
  }
  fs.writeFileSync(path.join(ckpt, 'trainer_state.json'), JSON.stringify({ global_step: 2, log_history: [{ loss: 0.69, step: 1 }], best_metric: null }));
  for (const f of ['optimizer.pt', 'scheduler.pt', 'rng_state.pth', 'training_args.bin']) fs.writeFileSync(path.join(ckpt, f), 'torch pickle');
  fs.writeFileSync(path.join(out, 'training_args.bin'), 'torch pickle');
  for (const dir of [ckpt, out]) {
    expect(resolveModelSource(dir)).toEqual({ kind: 'hf', path: dir });
    const loaded = loadModelWeights(resolveModelSource(dir));
    expect(loaded.head).toBe('causal_lm');
    tf.dispose([...loaded.bundle.tensors.values()]);
  }
});

testIf(sharedFiles('models/stories260K/stories260K.bin', 'models/stories260K/hf/model.safetensors'), 'stories260K: the .bin and the hf folder', () => {
  const bin = resolveModelSource(path.join(MODEL, 'stories260K.bin'));
  expect(bin.kind).toBe('llama2c');
  const hf = resolveModelSource(path.join(MODEL, 'hf'));
  expect(hf.kind).toBe('hf');
  const a = loadModelWeights(bin);
  const b = loadModelWeights(hf);
  expect(a.bundle.config).toEqual(b.bundle.config);
  tf.dispose([...a.bundle.tensors.values(), ...b.bundle.tensors.values()]);
});
