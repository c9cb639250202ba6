import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { readLlama2c, readLlama2cHeader, loadLlama2c, permuteRotaryRows, Llama2cError } from '../../src/io/llama2c';
import { readSafetensors } from '../../src/io/safetensors';
import { weightShapes } from '../../src/model/families';

import { describeIf } from '../helpers/gates';
import { sharedFiles, sharedPath } from '../helpers/shared';

const MODEL = sharedPath('models/stories260K');
const BIN = path.join(MODEL, 'stories260K.bin');

let tmp: string;
beforeAll(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'l2c-test-')); });
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('permuteRotaryRows: hd=4 takes rows [0, 2, 1, 3] within each head', () => {
  // 2 heads x hd 4, 1 column: row r holds value r.
  const w = Float32Array.from({ length: 8 }, (_, i) => i);
  expect(Array.from(permuteRotaryRows(w, 2, 4, 1))).toEqual([0, 2, 1, 3, 4, 6, 5, 7]);
  // 2 columns: whole rows move.
  const w2 = Float32Array.from({ length: 8 }, (_, i) => i);
  expect(Array.from(permuteRotaryRows(w2, 1, 4, 2))).toEqual([0, 1, 4, 5, 2, 3, 6, 7]);
});

describeIf(sharedFiles('models/stories260K/stories260K.bin', 'models/stories260K/hf/model.safetensors'), 'stories260K', () => {
  test('header and config', () => {
    const h = readLlama2cHeader(BIN);
    expect(h).toEqual({ dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 512, sharedClassifier: true });
    const { config } = readLlama2c(BIN);
    expect(config).toMatchObject({
      hidden_size: 64, intermediate_size: 172, num_hidden_layers: 5, num_attention_heads: 8, num_key_value_heads: 4,
      head_dim: 8, vocab_size: 512, max_position_embeddings: 512, rope_theta: 10000, rms_norm_eps: 1e-5,
      tie_word_embeddings: true, bos_token_id: 1, eos_token_id: 2,
    });
  });

  test('converted tensors equal the independently converted hf/model.safetensors', () => {
    const ours = readLlama2c(BIN);
    const ref = readSafetensors(path.join(MODEL, 'hf/model.safetensors'));
    expect([...ours.tensors.keys()].sort()).toEqual([...ref.tensors.keys()].sort());
    const shapes = weightShapes(ours.config);
    expect([...shapes.keys()].sort()).toEqual([...ours.tensors.keys()].sort());
    for (const [name, t] of ours.tensors) {
      const r = ref.tensors.get(name)!;
      expect({ name, shape: t.shape }).toEqual({ name, shape: r.shape });
      expect({ name, shape: t.shape }).toEqual({ name, shape: shapes.get(name) });
      let maxDiff = 0;
      const rd = r.data as Float32Array;
      (t.data as Float32Array).forEach((v, i) => { maxDiff = Math.max(maxDiff, Math.abs(v - rd[i])); });
      expect({ name, maxDiff }).toEqual({ name, maxDiff: 0 });
    }
  });

  test('loadLlama2c gives float32 tf tensors, nothing else allocated', () => {
    const before = tf.memory().numTensors;
    const bundle = loadLlama2c(BIN);
    expect(tf.memory().numTensors - before).toBe(bundle.tensors.size);
    expect(bundle.tensors.get('model.embed_tokens.weight')!.shape).toEqual([512, 64]);
    for (const t of bundle.tensors.values()) t.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

/** A minimal legal model: dim 4, hidden 6, 1 layer, 2 heads, 1 kv head, vocab 3, seq 2. */
function tinyHeader(over: Partial<Record<number, number>> = {}): number[] {
  const h = [4, 6, 1, 2, 1, 3, 2];
  for (const [i, v] of Object.entries(over)) h[Number(i)] = v!;
  return h;
}
function floatsFor(h: number[]): number {
  const [D, F, L, H, KV, V, S] = h;
  const hd = D / H;
  const kv = KV * hd;
  return Math.abs(V) * D + L * D + 2 * L * D * D + 2 * L * kv * D + L * D + 3 * L * F * D + D + S * hd + (V < 0 ? -V * D : 0);
}
function writeBin(name: string, header: number[], floats: number): string {
  const buf = Buffer.alloc(28 + 4 * floats);
  header.forEach((v, i) => buf.writeInt32LE(v, 4 * i));
  for (let i = 0; i < floats; i++) buf.writeFloatLE(i / 100, 28 + 4 * i);
  const file = path.join(tmp, name);
  fs.writeFileSync(file, buf);
  return file;
}

test('a crafted untied model converts with lm_head.weight and tie_word_embeddings false', () => {
  const h = tinyHeader({ 5: -3 });
  const { config, tensors } = readLlama2c(writeBin('untied.bin', h, floatsFor(h)));
  expect(config.tie_word_embeddings).toBe(false);
  expect(tensors.get('lm_head.weight')!.shape).toEqual([3, 4]);
  // The classifier is the last V*D floats of the file.
  const n = floatsFor(h);
  expect((tensors.get('lm_head.weight')!.data as Float32Array)[11]).toBeCloseTo((n - 1) / 100, 6);
  expect([...tensors.keys()].sort()).toEqual([...weightShapes(config).keys()].sort());
});

describe('hostile llama2.c files give a Llama2cError before allocating', () => {
  const cases: Array<[string, () => string, RegExp]> = [
    ['empty file', () => { const f = path.join(tmp, 'empty.bin'); fs.writeFileSync(f, ''); return f; }, /too short/],
    ['truncated by one float', () => { const h = tinyHeader(); return writeBin('trunc.bin', h, floatsFor(h) - 1); }, /implies \d+ bytes but the file has/],
    ['trailing bytes', () => { const h = tinyHeader(); return writeBin('pad.bin', h, floatsFor(h) + 1); }, /implies/],
    ['negative dim', () => writeBin('negdim.bin', tinyHeader({ 0: -4 }), 10), /dim is -4; expected a positive integer/],
    ['zero layers', () => writeBin('zero.bin', tinyHeader({ 2: 0 }), 10), /n_layers is 0/],
    ['heads do not divide dim', () => writeBin('div.bin', tinyHeader({ 3: 3 }), 10), /not divisible/],
    ['kv heads do not divide heads', () => writeBin('kv.bin', tinyHeader({ 4: 3 }), 10), /multiple of num_key_value_heads/],
    ['2^31-1 sized dims', () => writeBin('huge.bin', tinyHeader({ 0: 2 ** 31 - 1, 1: 2 ** 31 - 1, 2: 1000 }), 10), /nonsense header/],
    ['vocab INT_MIN', () => writeBin('vmin.bin', tinyHeader({ 5: -(2 ** 31) }), 10), /nonsense header/],
    ['versioned export', () => writeBin('ak42.bin', [0x616b3432, 1, 0, 0, 0, 0, 0], 100), /magic "ak42", version 1/],
    ['missing file', () => path.join(tmp, 'nope.bin'), /does not exist/],
  ];
  for (const [label, make, pattern] of cases) {
    test(label, () => {
      const file = make();
      const t0 = tf.memory().numTensors;
      let err: unknown;
      try { loadLlama2c(file); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(Llama2cError);
      expect((err as Error).message.startsWith(file)).toBe(true);
      expect((err as Error).message).toMatch(pattern);
      expect(tf.memory().numTensors).toBe(t0);
    });
  }
});
