import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { loadHfFolder, planHfFolder, HfModelError } from '../../src/io/hf';
import { readLlama2c } from '../../src/io/llama2c';
import { writeSafetensors, readSafetensors, type RawTensor } from '../../src/io/safetensors';
import { hfConfigJson, PRESETS, weightShapes } from '../../src/model/families';
import { parseLlamaConfig, type LlamaConfig } from '../../src/model/families/llama';
import { IoError } from '../../src/util/errors';

import { describeIf } from '../helpers/gates';
import { sharedFiles, sharedPath } from '../helpers/shared';

const MODEL = sharedPath('models/stories260K');

let tmp: string;
beforeAll(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hf-test-')); });
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const CFG: LlamaConfig = parseLlamaConfig({ ...PRESETS.tiny, vocab_size: 40, num_hidden_layers: 2, tie_word_embeddings: false });

/** Deterministic fake weights for a config: value = (index % 97) / 97 + tensor number. */
function fakeWeights(cfg: LlamaConfig, head: 'causal_lm' | 'sequence_classification' = 'causal_lm'): Map<string, RawTensor> {
  const out = new Map<string, RawTensor>();
  let k = 0;
  for (const [name, shape] of weightShapes(cfg, head)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const base = k++;
    out.set(name, { dtype: 'F32', shape, data: Float32Array.from({ length: n }, (_, i) => (i % 97) / 97 + base) });
  }
  return out;
}

/** Writes a folder; `mutate` may edit the config object and the tensor map before writing. */
function makeFolder(name: string, opts: { arch?: string; cfg?: LlamaConfig; head?: 'causal_lm' | 'sequence_classification';
  mutate?: (c: Record<string, unknown>, t: Map<string, RawTensor>) => void } = {}): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  const cfg = opts.cfg ?? CFG;
  const c: Record<string, unknown> = { ...hfConfigJson(cfg), ...(opts.arch ? { architectures: [opts.arch] } : {}) };
  const t = fakeWeights(cfg, opts.head);
  opts.mutate?.(c, t);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(c));
  writeSafetensors(path.join(dir, 'model.safetensors'), t);
  return dir;
}

/** Rewrites a safetensors header's dtype names (same item size), re-padding the header. */
function relabelDtype(file: string, from: string, to: string): void {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  let json = buf.subarray(8, 8 + n).toString('utf8').trimEnd().split(`"${from}"`).join(`"${to}"`);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  fs.writeFileSync(file, Buffer.concat([len, Buffer.from(json), buf.subarray(8 + n)]));
}

function expectError(fn: () => unknown, pattern: RegExp): void {
  let err: unknown;
  try { fn(); } catch (e) { err = e; }
  expect(err).toBeInstanceOf(IoError);
  expect((err as Error).message).toMatch(pattern);
}

describeIf(sharedFiles('models/stories260K/hf/model.safetensors', 'models/stories260K/stories260K.bin'), 'stories260K hf folder', () => {
  test('loads with the same tensors as the llama2.c import, tied head, no warnings', () => {
    const before = tf.memory().numTensors;
    const m = loadHfFolder(path.join(MODEL, 'hf'));
    const ref = readLlama2c(path.join(MODEL, 'stories260K.bin'));
    expect(m.head).toBe('causal_lm');
    expect(m.architecture).toBe('LlamaForCausalLM');
    expect(m.warnings).toEqual([]);
    expect(m.bundle.config).toEqual(ref.config);
    expect([...m.bundle.tensors.keys()].sort()).toEqual([...ref.tensors.keys()].sort());
    for (const [name, t] of m.bundle.tensors) expect(Array.from(t.dataSync())).toEqual(Array.from(ref.tensors.get(name)!.data as Float32Array));
    tf.dispose([...m.bundle.tensors.values()]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('crafted folders', () => {
  test('single file, untied: every tensor loads with its values', () => {
    const dir = makeFolder('plain');
    const m = loadHfFolder(dir);
    const ref = readSafetensors(path.join(dir, 'model.safetensors')).tensors;
    expect(m.bundle.tensors.size).toBe(ref.size);
    const lm = m.bundle.tensors.get('lm_head.weight')!;
    expect(Array.from(lm.dataSync())).toEqual(Array.from(ref.get('lm_head.weight')!.data as Float32Array));
    tf.dispose([...m.bundle.tensors.values()]);
  });

  test('sharded folder with an index; a BF16 shard becomes float32', () => {
    const dir = path.join(tmp, 'sharded');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(hfConfigJson(CFG)));
    const t = fakeWeights(CFG);
    const names = [...t.keys()];
    const shardA = new Map(names.slice(0, 10).map((n) => [n, t.get(n)!]));
    // Shard B: BF16 written by hand (upper halves of float32 values that are exact in bf16).
    const shardB = new Map<string, RawTensor>();
    for (const n of names.slice(10)) {
      const src = t.get(n)!;
      const vals = Float32Array.from(src.data as Float32Array, (_, i) => (i % 8) - 4);
      src.data = vals;
      shardB.set(n, { dtype: 'U16', shape: src.shape, data: Uint16Array.from(new Uint32Array(vals.buffer), (b) => b >>> 16) });
    }
    shardA.set('extra.weight', { dtype: 'F32', shape: [1], data: new Float32Array(1) }); // in no weight_map
    writeSafetensors(path.join(dir, 'model-00001-of-00002.safetensors'), shardA);
    writeSafetensors(path.join(dir, 'model-00002-of-00002.safetensors'), shardB);
    // Relabel shard B's dtype as BF16 in its header (same byte size, same padding).
    const fb = path.join(dir, 'model-00002-of-00002.safetensors');
    relabelDtype(fb, 'U16', 'BF16');
    const weightMap: Record<string, string> = {};
    names.forEach((n, i) => { weightMap[n] = i < 10 ? 'model-00001-of-00002.safetensors' : 'model-00002-of-00002.safetensors'; });
    fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    const m = loadHfFolder(dir);
    expect(m.warnings).toEqual(['extra.weight: in model-00001-of-00002.safetensors but not in model.safetensors.index.json\'s weight_map; ignored']);
    expect(m.bundle.tensors.size).toBe(names.length);
    for (const n of names) {
      const got = m.bundle.tensors.get(n)!;
      expect(got.dtype).toBe('float32');
      expect(Array.from(got.dataSync())).toEqual(Array.from(t.get(n)!.data as Float32Array));
    }
    tf.dispose([...m.bundle.tensors.values()]);

    // A tensor listed nowhere in the index is reported, not loaded.
    const partial = { ...weightMap };
    delete partial[names[11]];
    fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: partial }));
    expect(() => planHfFolder(dir)).toThrow(new RegExp(`weight "${names[11].replace(/\./g, '\\.')}" .* is missing`));

    // The same folder with a weight_map entry that escapes the folder.
    const bad = { ...weightMap, [names[0]]: '../plain/model.safetensors' };
    fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: bad }));
    expectError(() => planHfFolder(dir), /weight_map\[".*"\] is "..\/plain\/model.safetensors"; expected a file name inside the folder/);
    fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { ...weightMap, [names[0]]: '/etc/passwd' } }));
    expectError(() => planHfFolder(dir), /expected a file name inside the folder/);
    fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { ...weightMap, [names[0]]: 'model-00002-of-00002.safetensors' } }));
    expectError(() => planHfFolder(dir), /places tensor "model.embed_tokens.weight" in this shard but it is not there/);
    fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { ...weightMap, [names[0]]: 'model-00003.safetensors' } }));
    expectError(() => planHfFolder(dir), /shard "model-00003.safetensors" listed in weight_map does not exist/);
  });

  test('tied config with an lm_head.weight present: warned and not loaded', () => {
    const cfg = { ...CFG, tie_word_embeddings: true };
    const dir = makeFolder('tied-extra', { cfg, mutate: (_c, t) => t.set('lm_head.weight', { dtype: 'F32', shape: [40, 64], data: new Float32Array(40 * 64) }) });
    const plan = planHfFolder(dir);
    expect(plan.warnings).toEqual([expect.stringMatching(/lm_head.weight: ignored because tie_word_embeddings is true/)]);
    expect(plan.sources.has('lm_head.weight')).toBe(false);
  });

  test('rotary inv_freq buffers of old checkpoints are skipped with a warning', () => {
    const dir = makeFolder('invfreq', { mutate: (_c, t) => t.set('model.layers.0.self_attn.rotary_emb.inv_freq', { dtype: 'F32', shape: [8], data: new Float32Array(8) }) });
    expect(planHfFolder(dir).warnings).toEqual([expect.stringMatching(/inv_freq: a buffer the llama forward derives itself/)]);
  });

  test('sequence classifier (reward model) folder', () => {
    const dir = makeFolder('seqcls', {
      arch: 'LlamaForSequenceClassification', head: 'sequence_classification',
      mutate: (c) => { c.num_labels = 1; c.pad_token_id = 0; },
    });
    const m = loadHfFolder(dir);
    expect(m.head).toBe('sequence_classification');
    expect(m.numLabels).toBe(1);
    expect(m.bundle.tensors.get('score.weight')!.shape).toEqual([1, 64]);
    expect(m.bundle.tensors.has('lm_head.weight')).toBe(false);
    tf.dispose([...m.bundle.tensors.values()]);
    // id2label with 1 entry instead of num_labels (as transformers writes it)
    const dir2 = makeFolder('seqcls2', { arch: 'LlamaForSequenceClassification', head: 'sequence_classification', mutate: (c) => { c.id2label = { 0: 'LABEL_0' }; } });
    expect(planHfFolder(dir2).numLabels).toBe(1);
  });

  test('transformers 5 spelling: rope_parameters.rope_theta is read', () => {
    const dir = makeFolder('rope-params', { mutate: (c) => { delete c.rope_theta; c.rope_parameters = { rope_theta: 500000, rope_type: 'default' }; } });
    expect((planHfFolder(dir).config as LlamaConfig).rope_theta).toBe(500000);
  });

  const bad: Array<[string, () => string, RegExp]> = [
    ['llama3 rope scaling', () => makeFolder('rope-llama3', { mutate: (c) => { c.rope_scaling = { rope_type: 'llama3', factor: 8 }; } }), /"rope_scaling.rope_type" is "llama3"; this toolkit implements only "default" RoPE/],
    ['rope_theta disagreement', () => makeFolder('rope-conflict', { mutate: (c) => { c.rope_parameters = { rope_theta: 5, rope_type: 'default' }; } }), /rope_theta 10000 disagrees with rope_parameters.rope_theta 5/],
    ['gelu activation', () => makeFolder('gelu', { mutate: (c) => { c.hidden_act = 'gelu'; } }), /"hidden_act" is "gelu"/],
    ['missing folder', () => path.join(tmp, 'nope'), /folder does not exist/],
    ['a file, not a folder', () => path.join(makeFolder('isfile'), 'config.json'), /is not a folder/],
    ['no config.json', () => { const d = path.join(tmp, 'nocfg'); fs.mkdirSync(d); return d; }, /has no config.json/],
    ['no weights', () => { const d = path.join(tmp, 'noweights'); fs.mkdirSync(d); fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify(hfConfigJson(CFG))); return d; }, /has neither model.safetensors nor model.safetensors.index.json/],
    ['pickle only', () => { const d = path.join(tmp, 'pickle'); fs.mkdirSync(d); fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify(hfConfigJson(CFG))); fs.writeFileSync(path.join(d, 'pytorch_model.bin'), 'x'); return d; }, /pytorch_model.bin \(pickle, which can run code/],
    ['config with 0 layers', () => makeFolder('zero-layers', { mutate: (c) => { c.num_hidden_layers = 0; } }), /config.json: field "num_hidden_layers" must be an integer in \[1, 1024\]; got 0/],
    ['heads not dividing width', () => makeFolder('heads', { mutate: (c) => { c.num_attention_heads = 3; delete c.head_dim; } }), /not divisible/],
    ['config not JSON', () => { const d = makeFolder('badjson'); fs.writeFileSync(path.join(d, 'config.json'), '{"a":'); return d; }, /config.json: is not valid JSON/],
    ['config nested 1e6 deep', () => { const d = makeFolder('deepcfg'); fs.writeFileSync(path.join(d, 'config.json'), `{"hidden_size":${'['.repeat(1e6)}${']'.repeat(1e6)}}`); return d; }, /config.json: nests deeper than 100 levels/],
    ['missing weight', () => makeFolder('missing', { mutate: (_c, t) => t.delete('model.layers.1.mlp.up_proj.weight') }), /weight "model.layers.1.mlp.up_proj.weight" \[172,64\] is missing/],
    ['untied config without lm_head', () => makeFolder('nolm', { mutate: (_c, t) => t.delete('lm_head.weight') }), /"lm_head.weight".*is missing.*tie_word_embeddings/],
    ['wrong shape', () => makeFolder('shape', { mutate: (_c, t) => t.set('model.norm.weight', { dtype: 'F32', shape: [63], data: new Float32Array(63) }) }), /"model.norm.weight" has shape \[63\] but config.json implies \[64\]/],
    ['integer weight', () => makeFolder('intw', { mutate: (_c, t) => t.set('model.norm.weight', { dtype: 'I32', shape: [64], data: new Int32Array(64) }) }), /dtype I32; expected a floating-point dtype/],
    ['layers beyond the config', () => makeFolder('extra-layer', { mutate: (c) => { c.num_hidden_layers = 1; } }), /tensor\(s\) would be ignored: "model.layers.1/],
    ['biases the config does not use', () => makeFolder('bias', { mutate: (_c, t) => t.set('model.layers.0.self_attn.q_proj.bias', { dtype: 'F32', shape: [64], data: new Float32Array(64) }) }), /would be ignored: "model.layers.0.self_attn.q_proj.bias"/],
    ['unsupported architecture', () => makeFolder('arch', { arch: 'LlamaForTokenClassification' }), /architecture "LlamaForTokenClassification" is not supported/],
    ['corrupt safetensors', () => { const d = makeFolder('corrupt'); fs.truncateSync(path.join(d, 'model.safetensors'), 100); return d; }, /model.safetensors: .*(runs past|run past)/],
  ];
  for (const [label, make, pattern] of bad) {
    test(`error: ${label}`, () => {
      const dir = make();
      const before = tf.memory().numTensors;
      expectError(() => loadHfFolder(dir), pattern);
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});
