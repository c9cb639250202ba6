import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import {
  readSafetensors, readSafetensorsHeader, writeSafetensors, toTfTensors, SafetensorsError, decodeF16, decodeBF16,
  type RawTensor,
} from '../../src/io/safetensors';

import { describeIf } from '../helpers/gates';
import { sharedFiles, sharedPath } from '../helpers/shared';

const SAMPLES = sharedPath('safetensors-samples');

let tmp: string;
beforeAll(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'st-test-')); });
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The dtype each sample's single tensor has (file name = tensor name, numpy type codes). */
const SAMPLE_DTYPES: Record<string, string> = { B: 'U8', H: 'U16', I: 'U32', b: 'I8', h: 'I16', i: 'I32', e: 'F16', f: 'F32', d: 'F64' };

describeIf(sharedFiles(...[...Object.keys(SAMPLE_DTYPES), 'overall'].map((n) => `safetensors-samples/${n}.safetensors`)), 'shared samples', () => {
  for (const [name, dtype] of Object.entries(SAMPLE_DTYPES)) {
    test(`${name}.safetensors reads back as -3..2 in ${dtype}`, () => {
      const { metadata, tensors } = readSafetensors(path.join(SAMPLES, `${name}.safetensors`));
      expect(metadata).toEqual({ test: 'a' });
      const t = tensors.get(name)!;
      expect(t.dtype).toBe(dtype);
      expect(t.shape).toEqual([6]);
      // Unsigned types hold -3..2 wrapped modulo 2^bits, as numpy's astype does.
      const bits = { U8: 8, U16: 16, U32: 32 }[dtype as 'U8'];
      const expected = [-3, -2, -1, 0, 1, 2].map((v) => (bits && v < 0 ? v + 2 ** bits : v));
      expect(Array.from(t.data as ArrayLike<number>, Number)).toEqual(expected);
    });
  }

  test('overall.safetensors holds all nine dtypes with the same values', () => {
    const { tensors } = readSafetensors(path.join(SAMPLES, 'overall.safetensors'));
    expect([...tensors.keys()].sort()).toEqual(Object.keys(SAMPLE_DTYPES).sort());
    for (const [name, dtype] of Object.entries(SAMPLE_DTYPES)) expect(tensors.get(name)!.dtype).toBe(dtype);
    const signed = toTfTensors(new Map([...tensors].filter(([n]) => 'bhiefd'.includes(n))));
    for (const [n, t] of signed) {
      expect(t.dtype).toBe('edf'.includes(n) ? 'float32' : 'int32');
      expect(Array.from(t.dataSync())).toEqual([-3, -2, -1, 0, 1, 2]);
      t.dispose();
    }
  });

  test('names option reads a subset and rejects unknown names', () => {
    const file = path.join(SAMPLES, 'overall.safetensors');
    expect([...readSafetensors(file, { names: ['f'] }).tensors.keys()]).toEqual(['f']);
    expect(() => readSafetensors(file, { names: ['nope'] })).toThrow(/tensor "nope": not present/);
  });
});

describe('half-precision decoding', () => {
  test('F16 special values', () => {
    // 1, -2, 65504 (max), smallest subnormal, +inf, NaN
    const out = decodeF16(new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x7e00]));
    expect(Array.from(out.slice(0, 5))).toEqual([1, -2, 65504, 2 ** -24, Infinity]);
    expect(out[5]).toBeNaN();
  });
  test('BF16 is the top half of float32', () => {
    expect(Array.from(decodeBF16(new Uint16Array([0x3f80, 0xc040, 0x4049])))).toEqual([1, -3, 3.140625]);
  });
});

describe('write -> read round trip', () => {
  test('raw F32/I32/I64/U8 tensors, metadata and 8-byte header padding', () => {
    const file = path.join(tmp, 'rt.safetensors');
    const tensors = new Map<string, RawTensor>([
      ['w', { dtype: 'F32', shape: [2, 3], data: new Float32Array([1.5, -2, 3e-8, 4, 5, Math.PI]) }],
      ['ids', { dtype: 'I32', shape: [3], data: new Int32Array([-7, 0, 2 ** 31 - 1]) }],
      ['big', { dtype: 'I64', shape: [1], data: new BigInt64Array([-5n]) }],
      ['mask', { dtype: 'U8', shape: [2], data: new Uint8Array([0, 255]) }],
      ['empty', { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) }],
    ]);
    writeSafetensors(file, tensors, { format: 'pt', note: 'héllo' });
    const bytes = fs.readFileSync(file);
    const n = Number(bytes.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const back = readSafetensors(file);
    expect(back.metadata).toEqual({ format: 'pt', note: 'héllo' });
    expect(back.tensors).toEqual(tensors);
  });

  test('tf tensors are written as F32 / I32 and come back equal', () => {
    const file = path.join(tmp, 'tf.safetensors');
    const a = tf.randomNormal([4, 5], 0, 1, 'float32', 3);
    const b = tf.tensor1d([3, -1], 'int32');
    const before = tf.memory().numTensors;
    writeSafetensors(file, new Map([['a', a], ['b', b]]));
    expect(tf.memory().numTensors).toBe(before);
    const back = toTfTensors(readSafetensors(file), file);
    expect(back.get('a')!.dtype).toBe('float32');
    expect(Array.from(back.get('a')!.dataSync())).toEqual(Array.from(a.dataSync()));
    expect(Array.from(back.get('b')!.dataSync())).toEqual([3, -1]);
    tf.dispose([a, b, ...back.values()]);
  });

  test('writer refuses inconsistent input', () => {
    const file = path.join(tmp, 'bad-write.safetensors');
    expect(() => writeSafetensors(file, new Map([['x', { dtype: 'F32', shape: [3], data: new Float32Array(2) } as RawTensor]]))).toThrow(/needs 3 values/);
    expect(() => writeSafetensors(file, new Map([['x', { dtype: 'F16', shape: [1], data: new Float32Array(1) } as RawTensor]]))).toThrow(/cannot write dtype F16/);
  });
});

/** Builds a file from a header (object or raw string) and a data section. */
function craft(name: string, header: unknown, data: Uint8Array | number = 0, lengthOverride?: bigint): string {
  const json = Buffer.isBuffer(header) ? header : Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(lengthOverride ?? BigInt(json.length));
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const file = path.join(tmp, name);
  fs.writeFileSync(file, Buffer.concat([len, json, body]));
  return file;
}

describe('malformed files give a SafetensorsError naming the file and the problem', () => {
  const f32 = (shape: number[], offs: number[]) => ({ dtype: 'F32', shape, data_offsets: offs });
  const cases: Array<[string, () => string, RegExp]> = [
    ['empty file', () => { const f = path.join(tmp, 'empty'); fs.writeFileSync(f, ''); return f; }, /too short/],
    ['header length past the end', () => craft('hlen', { a: f32([1], [0, 4]) }, 4, 1000n), /header length 1000 runs past the end/],
    ['header length 2^64-1', () => craft('hmax', { a: f32([1], [0, 4]) }, 4, 2n ** 64n - 1n), /runs past the end/],
    ['truncated data', () => craft('trunc', { a: f32([4], [0, 16]) }, 10), /run past the data section/],
    ['not JSON', () => craft('notjson', '{"a": [1, 2', 0), /not valid JSON/],
    ['JSON array', () => craft('arr', '[1,2]', 0), /does not start with "\{"/],
    ['invalid UTF-8', () => craft('utf8', Buffer.from([0x7b, 0xff, 0x7d]), 0), /not valid UTF-8/],
    ['unknown dtype', () => craft('dtype', { a: { dtype: 'F8_E9', shape: [1], data_offsets: [0, 1] } }, 1), /tensor "a": unsupported dtype "F8_E9"/],
    ['negative dim', () => craft('neg', { a: f32([-1], [0, 4]) }, 4), /non-negative integers/],
    ['fractional dim', () => craft('frac', { a: f32([1.5], [0, 6]) }, 6), /non-negative integers/],
    ['shape x dtype != bytes', () => craft('mismatch', { a: f32([3], [0, 8]) }, 8), /needs 12 bytes but data_offsets \[0, 8\] hold 8/],
    ['overlapping ranges', () => craft('overlap', { a: f32([2], [0, 8]), b: f32([2], [4, 12]) }, 12), /overlap tensor "a"/],
    ['gap between tensors', () => craft('gap', { a: f32([1], [0, 4]), b: f32([1], [8, 12]) }, 12), /gaps are not allowed/],
    ['trailing bytes', () => craft('trail', { a: f32([1], [0, 4]) }, 8), /cover 4 bytes but the data section holds 8/],
    ['end before begin', () => craft('rev', { a: f32([0], [4, 0]) }, 4), /end before they begin/],
    ['offsets not a pair', () => craft('offs', { a: { dtype: 'F32', shape: [1], data_offsets: [0] } }, 4), /data_offsets must be/],
    ['unknown field', () => craft('field', { a: { ...f32([1], [0, 4]), extra: 1 } }, 4), /unknown field "extra"/],
    ['metadata not strings', () => craft('meta', { __metadata__: { a: 1 }, b: f32([1], [0, 4]) }, 4), /"__metadata__.a" must be a string/],
    ['10 GB claimed tensor', () => craft('huge', { a: f32([50000, 50000], [0, 10_000_000_000]) }, 16), /run past the data section/],
    ['shape nested 1e6 deep', () => craft('deep', `{"a":{"dtype":"F32","shape":${'['.repeat(1e6)}${']'.repeat(1e6)},"data_offsets":[0,4]}}`, 4), /shape must hold non-negative integers; got a value too deeply nested/],
    ['2^60 elements', () => craft('overflow', { a: f32([2 ** 30, 2 ** 30, 2 ** 30], [0, 4]) }, 4), /more elements than can be addressed|non-negative/],
  ];
  for (const [label, make, pattern] of cases) {
    test(label, () => {
      const file = make();
      let err: unknown;
      try {
        readSafetensors(file);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SafetensorsError);
      expect((err as Error).message).toContain(file);
      expect((err as Error).message).toMatch(pattern);
    });
  }

  test('a 10 GB claim is refused without allocating it', () => {
    const file = craft('huge2', { a: f32([50000, 50000], [0, 10_000_000_000]) }, 16);
    const rss = process.memoryUsage().arrayBuffers;
    expect(() => readSafetensorsHeader(file)).toThrow(SafetensorsError);
    expect(process.memoryUsage().arrayBuffers - rss).toBeLessThan(50 * 1024 * 1024);
  });

  test('missing file and directory', () => {
    expect(() => readSafetensors(path.join(tmp, 'nope.safetensors'))).toThrow(/does not exist/);
    expect(() => readSafetensors(tmp)).toThrow(/directory|cannot open/);
  });

  test('a "__proto__" metadata key stays plain data', () => {
    const file = craft('proto', '{"__metadata__":{"__proto__":"x"},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', 1);
    const { metadata } = readSafetensors(file);
    expect(Object.getPrototypeOf(metadata)).toBe(Object.prototype);
    expect(Object.keys(metadata)).toEqual(['__proto__']);
  });
});
