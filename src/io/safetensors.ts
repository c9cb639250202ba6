/**
 * safetensors read/write (the format of huggingface/safetensors: 8-byte little-endian header length N,
 * N bytes of JSON `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {str: str}}`, then
 * the data section, offsets relative to its start).
 *
 * Does: validate the whole header against the file size BEFORE allocating anything proportional to a
 * claimed size; read tensors by positional reads (a multi-GB file is never read whole); decode every
 * numeric dtype; write F32/I32 (and other dtypes whose in-memory form equals the on-disk form) with the
 * header padded to 8 bytes like the reference writer.
 * Does NOT: memory-map, execute anything from the file, or know about model names (see hf.ts).
 */
import * as fs from 'fs';
import { openRegularFile } from '../util/bounded';
import * as os from 'os';
import * as tf from '@tensorflow/tfjs';
import { IoError } from '../util/errors';

export class SafetensorsError extends IoError {
  constructor(
    readonly file: string,
    readonly detail: string,
    readonly tensor?: string,
  ) {
    super(`${file}: ${tensor !== undefined ? `tensor "${tensor}": ` : ''}${detail}`);
  }
}

/** Bytes per element of every dtype we read. F8 and sub-byte types are rejected by name. */
export const DTYPE_SIZES = {
  F64: 8, F32: 4, F16: 2, BF16: 2,
  I64: 8, I32: 4, I16: 2, I8: 1,
  U64: 8, U32: 4, U16: 2, U8: 1,
  BOOL: 1,
} as const;
export type SafetensorsDtype = keyof typeof DTYPE_SIZES;

/**
 * In-memory value array per dtype. F16 and BF16 are DECODED to Float32Array (exactly: both are
 * subsets of float32); everything else is the native typed array of its on-disk form.
 */
export type TensorData =
  | Float64Array | Float32Array | Int32Array | Int16Array | Int8Array | Uint32Array | Uint16Array | Uint8Array
  | BigInt64Array | BigUint64Array;

export interface RawTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: TensorData;
}

export interface HeaderEntry {
  dtype: SafetensorsDtype;
  shape: number[];
  /** Element count (product of shape). */
  size: number;
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  file: string;
  fileSize: number;
  metadata: Record<string, string>;
  /** Name -> entry, in header order. */
  entries: Map<string, HeaderEntry>;
}

export interface SafetensorsContents {
  metadata: Record<string, string>;
  tensors: Map<string, RawTensor>;
}

/** Headers above this are refused: real ones are kilobytes; this bounds JSON.parse's allocation. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;
const MAX_RANK = 64;

/** Validates the header of an open file; allocates only the header itself (<= MAX_HEADER_BYTES). */
function readHeaderFd(fd: number, file: string): SafetensorsHeader {
  const fail = (detail: string, tensor?: string): never => {
    throw new SafetensorsError(file, detail, tensor);
  };
  const fileSize = fs.fstatSync(fd).size;
  if (fileSize < 8) fail(`file is ${fileSize} bytes, too short for the 8-byte header length; not a safetensors file or truncated`);
  const lenBuf = Buffer.alloc(8);
  readFully(fd, lenBuf, 0, file);
  const claimed = lenBuf.readBigUInt64LE(0);
  if (claimed > BigInt(fileSize - 8)) {
    fail(`header length ${claimed} runs past the end of the file (${fileSize} bytes); the file is truncated or not safetensors`);
  }
  const headerLen = Number(claimed);
  if (headerLen > MAX_HEADER_BYTES) fail(`header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  if (headerLen < 2) fail(`header length ${headerLen} is too small for a JSON object`);
  const headerBuf = Buffer.alloc(headerLen);
  readFully(fd, headerBuf, 8, file);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBuf);
  } catch {
    return fail('header is not valid UTF-8');
  }
  if (!text.startsWith('{')) fail('header does not start with "{"; not a safetensors file');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('header must be a JSON object');
  const dataStart = 8 + headerLen;
  const dataLen = fileSize - dataStart;
  const metadata: Record<string, string> = {};
  const entries = new Map<string, HeaderEntry>();
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (value === null) continue;
      if (typeof value !== 'object' || Array.isArray(value)) fail('"__metadata__" must be an object of strings');
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`"__metadata__.${k}" must be a string; got ${typeof v}`);
        // defineProperty: a key named "__proto__" must stay data, not become the prototype.
        Object.defineProperty(metadata, k, { value: v, enumerable: true, writable: true, configurable: true });
      }
      continue;
    }
    const entry = parseEntry(value, dataLen, (d) => fail(d, name));
    entries.set(name, { ...entry, begin: entry.begin + dataStart, end: entry.end + dataStart });
  }
  checkLayout(entries, dataStart, fileSize, fail);
  return { file, fileSize, metadata, entries };
}

/** One `{dtype, shape, data_offsets}` entry, offsets relative to the data section. */
function parseEntry(value: unknown, dataLen: number, fail: (d: string) => never): HeaderEntry {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('entry must be an object {dtype, shape, data_offsets}');
  const o = value as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (k !== 'dtype' && k !== 'shape' && k !== 'data_offsets') fail(`unknown field "${k}"; expected only dtype, shape, data_offsets`);
  }
  const dtype = o.dtype;
  if (typeof dtype !== 'string' || !Object.prototype.hasOwnProperty.call(DTYPE_SIZES, dtype)) {
    fail(`unsupported dtype ${JSON.stringify(dtype)}; expected one of ${Object.keys(DTYPE_SIZES).join(', ')}`);
  }
  const shape = o.shape;
  if (!Array.isArray(shape) || shape.length > MAX_RANK) fail(`shape must be an array of at most ${MAX_RANK} integers; got ${short(shape)}`);
  let size = 1;
  for (const d of shape as unknown[]) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) fail(`shape must hold non-negative integers; got ${short(shape)}`);
    size *= d as number;
    if (!Number.isSafeInteger(size)) fail(`shape ${short(shape)} has more elements than can be addressed`);
  }
  const offs = o.data_offsets;
  if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0)) {
    fail(`data_offsets must be [begin, end] with non-negative integers; got ${short(offs)}`);
  }
  const [begin, end] = offs as number[];
  if (end < begin) fail(`data_offsets [${begin}, ${end}] end before they begin`);
  if (end > dataLen) fail(`data_offsets [${begin}, ${end}] run past the data section (${dataLen} bytes); the file is truncated or the header lies`);
  const itemsize = DTYPE_SIZES[dtype as SafetensorsDtype];
  const expected = size * itemsize;
  if (end - begin !== expected) {
    fail(`shape ${JSON.stringify(shape)} x ${dtype} (${itemsize} bytes) needs ${expected} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`);
  }
  return { dtype: dtype as SafetensorsDtype, shape: (shape as number[]).slice(), size, begin, end };
}

/** Ranges must not overlap and must tile the data section exactly (as the reference reader requires). */
function checkLayout(entries: Map<string, HeaderEntry>, dataStart: number, fileSize: number, fail: (d: string, t?: string) => never): void {
  const sorted = [...entries].sort((a, b) => a[1].begin - b[1].begin || a[1].end - b[1].end);
  let pos = dataStart;
  let prev = '';
  for (const [name, e] of sorted) {
    if (e.begin < pos) fail(`data_offsets [${e.begin - dataStart}, ${e.end - dataStart}] overlap tensor "${prev}"`, name);
    if (e.begin > pos) fail(`data_offsets begin at ${e.begin - dataStart} but the previous tensor ends at ${pos - dataStart}; gaps are not allowed`, name);
    pos = e.end;
    prev = name;
  }
  if (pos !== fileSize) fail(`tensors cover ${pos - dataStart} bytes but the data section holds ${fileSize - dataStart}; extra or missing bytes`);
}

function short(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    return 'a value too deeply nested to print'; // JSON.stringify recurses; JSON.parse does not
  }
  return s.length > 80 ? s.slice(0, 77) + '...' : s;
}

function readFully(fd: number, buf: Uint8Array, position: number, file: string): void {
  let done = 0;
  while (done < buf.length) {
    const n = fs.readSync(fd, buf, done, buf.length - done, position + done);
    if (n === 0) throw new SafetensorsError(file, `unexpected end of file at byte ${position + done}; the file changed or is truncated`);
    done += n;
  }
}

/** Reads and validates only the header: names, dtypes, shapes and byte ranges. */
export function readSafetensorsHeader(file: string): SafetensorsHeader {
  const fd = openOrThrow(file);
  try {
    return readHeaderFd(fd, file);
  } finally {
    fs.closeSync(fd);
  }
}

function openOrThrow(file: string): number {
  return openRegularFile(file, '.safetensors file', (detail) => new SafetensorsError(file, detail));
}

export interface ReadOptions {
  /** Load only these tensors (others are validated but not read). Unknown names are an error. */
  names?: Iterable<string>;
}

/**
 * Reads a safetensors file. Example: the shared sample `f.safetensors` ->
 * `{metadata: {test: 'a'}, tensors: Map{'f' => {dtype: 'F32', shape: [6], data: Float32Array[-3..2]}}}`.
 */
export function readSafetensors(file: string, opts: ReadOptions = {}): SafetensorsContents {
  const fd = openOrThrow(file);
  try {
    const header = readHeaderFd(fd, file);
    let names = [...header.entries.keys()];
    if (opts.names !== undefined) {
      names = [...opts.names];
      for (const n of names) if (!header.entries.has(n)) throw new SafetensorsError(file, 'not present in this file', n);
    }
    const tensors = new Map<string, RawTensor>();
    for (const name of names) {
      const e = header.entries.get(name)!;
      tensors.set(name, { dtype: e.dtype, shape: e.shape.slice(), data: readEntry(fd, file, e) });
    }
    return { metadata: header.metadata, tensors };
  } finally {
    fs.closeSync(fd);
  }
}

const LITTLE_ENDIAN = os.endianness() === 'LE';

function readEntry(fd: number, file: string, e: HeaderEntry): TensorData {
  const itemsize = DTYPE_SIZES[e.dtype];
  // Read into a fresh, aligned buffer of the on-disk width, then view or decode it.
  const bytes = new Uint8Array(e.size * itemsize);
  readFully(fd, bytes, e.begin, file);
  if (!LITTLE_ENDIAN && itemsize > 1) swapBytes(bytes, itemsize);
  const buf = bytes.buffer;
  switch (e.dtype) {
    case 'F64': return new Float64Array(buf);
    case 'F32': return new Float32Array(buf);
    case 'F16': return decodeF16(new Uint16Array(buf));
    case 'BF16': return decodeBF16(new Uint16Array(buf));
    case 'I64': return new BigInt64Array(buf);
    case 'I32': return new Int32Array(buf);
    case 'I16': return new Int16Array(buf);
    case 'I8': return new Int8Array(buf);
    case 'U64': return new BigUint64Array(buf);
    case 'U32': return new Uint32Array(buf);
    case 'U16': return new Uint16Array(buf);
    case 'U8': case 'BOOL': return bytes;
  }
}

function swapBytes(b: Uint8Array, w: number): void {
  for (let i = 0; i < b.length; i += w) b.subarray(i, i + w).reverse();
}

/** IEEE half -> float32, exact (subnormals, inf and NaN included). Example: 0xC200 -> -3. */
export function decodeF16(h: Uint16Array): Float32Array {
  const out = new Float32Array(h.length);
  for (let i = 0; i < h.length; i++) {
    const x = h[i];
    const sign = x & 0x8000 ? -1 : 1;
    const exp = (x >> 10) & 0x1f;
    const frac = x & 0x3ff;
    if (exp === 0) out[i] = sign * frac * 2 ** -24;
    else if (exp === 31) out[i] = frac ? NaN : sign * Infinity;
    else out[i] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return out;
}

/** bfloat16 is the top half of a float32. Example: 0xC040 -> -3. */
export function decodeBF16(h: Uint16Array): Float32Array {
  const bits = new Uint32Array(h.length);
  for (let i = 0; i < h.length; i++) bits[i] = h[i] << 16;
  return new Float32Array(bits.buffer);
}

/**
 * RawTensor -> tf.Tensor: float dtypes to float32, integer and bool dtypes to int32 (an error names the
 * tensor when a value does not fit in int32).
 */
export function rawToTensor(raw: RawTensor, name = '?', file = '<memory>'): tf.Tensor {
  const { dtype, shape, data } = raw;
  if (dtype === 'F32' || dtype === 'F16' || dtype === 'BF16') return tf.tensor(data as Float32Array, shape, 'float32');
  if (dtype === 'F64') return tf.tensor(Float32Array.from(data as Float64Array), shape, 'float32');
  if (dtype === 'I32') return tf.tensor(data as Int32Array, shape, 'int32');
  const out = new Int32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = Number(data[i]);
    if (v < -2147483648 || v > 2147483647) {
      throw new SafetensorsError(file, `${dtype} value ${data[i]} at index ${i} does not fit in int32`, name);
    }
    out[i] = v;
  }
  return tf.tensor(out, shape, 'int32');
}

/** Every tensor of `contents` as tf tensors (see rawToTensor). On error nothing is left allocated. */
export function toTfTensors(contents: SafetensorsContents | Map<string, RawTensor>, file = '<memory>'): Map<string, tf.Tensor> {
  const raws = contents instanceof Map ? contents : contents.tensors;
  const out = new Map<string, tf.Tensor>();
  try {
    for (const [name, raw] of raws) out.set(name, rawToTensor(raw, name, file));
  } catch (e) {
    for (const t of out.values()) t.dispose();
    throw e;
  }
  return out;
}

/** Dtypes we can write as given (in-memory form == on-disk form). F16/BF16 are read-only here. */
const WRITABLE: Partial<Record<SafetensorsDtype, new (b: ArrayBufferLike, o: number, n: number) => TensorData>> = {
  F64: Float64Array, F32: Float32Array, I64: BigInt64Array, I32: Int32Array, I16: Int16Array, I8: Int8Array,
  U64: BigUint64Array, U32: Uint32Array, U16: Uint16Array, U8: Uint8Array, BOOL: Uint8Array,
};

/** A tf tensor becomes F32 (float32) or I32 (int32/bool); read with dataSync, so call it outside a tidy. */
function tensorToRaw(t: tf.Tensor): RawTensor {
  if (t.dtype === 'float32') return { dtype: 'F32', shape: t.shape.slice(), data: t.dataSync() as Float32Array };
  if (t.dtype === 'int32' || t.dtype === 'bool') return { dtype: 'I32', shape: t.shape.slice(), data: Int32Array.from(t.dataSync() as Int32Array) };
  throw new Error(`cannot write a ${t.dtype} tf tensor to safetensors; expected float32 or int32`);
}

/**
 * Serialises tensors to safetensors bytes, tensors ordered by name. Worked layout for
 * `{a: F32 [2]}`: 8-byte length 64, then `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}` padded with
 * spaces to a multiple of 8, then 8 data bytes.
 */
export function serializeSafetensors(
  tensors: Map<string, RawTensor | tf.Tensor>,
  metadata?: Record<string, string>,
): Buffer[] {
  const names = [...tensors.keys()].sort();
  const raws: RawTensor[] = [];
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`safetensors metadata "${k}" must be a string; got ${typeof v}`);
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  for (const name of names) {
    if (name === '__metadata__') throw new Error('a tensor cannot be named "__metadata__"');
    const v = tensors.get(name)!;
    const raw = v instanceof tf.Tensor ? tensorToRaw(v) : v;
    const ctor = WRITABLE[raw.dtype];
    // Compare by tag, not instanceof: typed arrays from native backends (tfjs-node) or another realm (jest) fail instanceof.
    if (ctor === undefined || Object.prototype.toString.call(raw.data) !== `[object ${ctor.name}]`) {
      throw new Error(`tensor "${name}": cannot write dtype ${raw.dtype} from ${raw.data.constructor.name}; expected one of ${Object.keys(WRITABLE).join(', ')} with its typed array`);
    }
    const size = raw.shape.reduce((a, b) => a * b, 1);
    if (!raw.shape.every((d) => Number.isSafeInteger(d) && d >= 0) || size !== raw.data.length) {
      throw new Error(`tensor "${name}": shape ${JSON.stringify(raw.shape)} needs ${size} values but data holds ${raw.data.length}`);
    }
    const nbytes = raw.data.byteLength;
    header[name] = { dtype: raw.dtype, shape: raw.shape, data_offsets: [offset, offset + nbytes] };
    offset += nbytes;
    raws.push(raw);
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(headerBytes.length));
  const parts: Buffer[] = [len, headerBytes];
  for (const raw of raws) {
    const b = Buffer.from(raw.data.buffer, raw.data.byteOffset, raw.data.byteLength);
    if (!LITTLE_ENDIAN && DTYPE_SIZES[raw.dtype] > 1) {
      const c = Buffer.from(b);
      swapBytes(c, DTYPE_SIZES[raw.dtype]);
      parts.push(c);
    } else parts.push(b);
  }
  return parts;
}

export interface WriteOptions {
  /** fsync the file before closing (checkpoint writes set this). */
  fsync?: boolean;
}

/** Writes tensors (RawTensor or float32/int32 tf tensors) to `file`. Does not dispose the tensors. */
export function writeSafetensors(
  file: string,
  tensors: Map<string, RawTensor | tf.Tensor>,
  metadata?: Record<string, string>,
  opts: WriteOptions = {},
): void {
  const parts = serializeSafetensors(tensors, metadata);
  const fd = fs.openSync(file, 'w');
  try {
    for (const p of parts) {
      let done = 0;
      while (done < p.length) done += fs.writeSync(fd, p, done, p.length - done);
    }
    if (opts.fsync) fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
