/**
 * Import of llama2.c's legacy `.bin` checkpoints (karpathy/llama2.c run.c's reader): a 7 x int32 header
 * (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size — negative = unshared classifier —, seq_len),
 * then float32 arrays: embedding [V, D], rms_att [L, D], wq [L, D, D], wk [L, KV, D], wv [L, KV, D],
 * wo [L, D, D], rms_ffn [L, D], w1 [L, F, D], w2 [L, D, F], w3 [L, F, D], rms_final [D], two unused RoPE
 * tables (seq_len * head_size / 2 floats each), then the classifier [V, D] if unshared.
 *
 * Does: validate the header against the file size before allocating, and produce Hugging Face names and
 * layouts, including HF's row permutation of wq/wk (llama2.c rotates interleaved pairs (i, i+1); HF rotates
 * halves (i, i + hd/2)). Does NOT: read llama2.c's tokenizer (see tokenizer/) or the newer "ak42" exports.
 */
import * as fs from 'fs';
import { openRegularFile } from '../util/bounded';
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../model/config';
import { parseLlamaConfig, type LlamaConfig } from '../model/families/llama';
import type { WeightBundle } from '../model/types';
import { IoError } from '../util/errors';
import type { RawTensor } from './safetensors';

export class Llama2cError extends IoError {
  constructor(readonly file: string, detail: string) {
    super(`${file}: ${detail}`);
  }
}

export interface Llama2cHeader {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number;
  seqLen: number;
  /** false when vocab_size was negative: an lm_head follows the RoPE tables. */
  sharedClassifier: boolean;
}

const HEADER_BYTES = 28;
/** First int32 of llama2.c's versioned exports ("ak42" little-endian). */
const VERSIONED_MAGIC = 0x616b3432;

/** Reads and validates the header; the file size must equal exactly what the header implies. */
export function readLlama2cHeader(file: string): Llama2cHeader {
  const fd = openOrThrow(file);
  try {
    return headerFromFd(fd, file);
  } finally {
    fs.closeSync(fd);
  }
}

function openOrThrow(file: string): number {
  return openRegularFile(file, 'llama2.c model .bin', (detail) => new Llama2cError(file, detail));
}

function headerFromFd(fd: number, file: string): Llama2cHeader {
  const size = fs.fstatSync(fd).size;
  if (size < HEADER_BYTES) throw new Llama2cError(file, `file is ${size} bytes, too short for the 28-byte llama2.c header`);
  const buf = Buffer.alloc(HEADER_BYTES);
  fs.readSync(fd, buf, 0, HEADER_BYTES, 0);
  const v = Array.from({ length: 7 }, (_, i) => buf.readInt32LE(4 * i));
  if (v[0] === VERSIONED_MAGIC) {
    throw new Llama2cError(file, `this is a versioned llama2.c export (magic "ak42", version ${v[1]}); only the legacy format is supported: re-export it with llama2.c's export.py --version 0`);
  }
  const [dim, hiddenDim, nLayers, nHeads, nKvHeads, rawVocab, seqLen] = v;
  const names = ['dim', 'hidden_dim', 'n_layers', 'n_heads', 'n_kv_heads', 'vocab_size', 'seq_len'];
  [dim, hiddenDim, nLayers, nHeads, nKvHeads, Math.abs(rawVocab), seqLen].forEach((x, i) => {
    if (!(x > 0)) throw new Llama2cError(file, `header field ${names[i]} is ${v[i]}; expected a positive integer (is this a llama2.c model .bin?)`);
  });
  const h: Llama2cHeader = { dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize: Math.abs(rawVocab), seqLen, sharedClassifier: rawVocab > 0 };
  // The config validator bounds every size (so the arithmetic below stays exact) and checks divisibility.
  try {
    llama2cConfig(h, file);
  } catch (e) {
    if (e instanceof ConfigError) throw new Llama2cError(file, `nonsense header ${JSON.stringify(v)}: ${e.message.replace(`${file}: `, '')}`);
    throw e;
  }
  const expected = HEADER_BYTES + 4 * layout(h).reduce((a, s) => a + s.count, 0);
  if (size !== expected) {
    throw new Llama2cError(file, `header ${JSON.stringify(v)} implies ${expected} bytes but the file has ${size}; the file is truncated, padded, or not a legacy llama2.c checkpoint`);
  }
  return h;
}

/** The config a llama2.c model implies (run.c's fixed choices: theta 10000, eps 1e-5, BOS 1, EOS 2). */
export function llama2cConfig(h: Llama2cHeader, source = 'llama2.c header'): LlamaConfig {
  return parseLlamaConfig({
    model_type: 'llama',
    vocab_size: h.vocabSize,
    hidden_size: h.dim,
    intermediate_size: h.hiddenDim,
    num_hidden_layers: h.nLayers,
    num_attention_heads: h.nHeads,
    num_key_value_heads: h.nKvHeads,
    max_position_embeddings: h.seqLen,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    tie_word_embeddings: h.sharedClassifier,
    attention_bias: false,
    bos_token_id: 1,
    eos_token_id: 2,
  }, source);
}

interface Segment { name: string; count: number }

/** The arrays in file order, with float counts. The unnamed segment (RoPE tables) is skipped. */
function layout(h: Llama2cHeader): Segment[] {
  const hd = h.dim / h.nHeads;
  const kv = h.nKvHeads * hd;
  const { dim: D, hiddenDim: F, nLayers: L, vocabSize: V } = h;
  const segs: Segment[] = [
    { name: 'tok', count: V * D }, { name: 'rms_att', count: L * D },
    { name: 'wq', count: L * D * D }, { name: 'wk', count: L * kv * D }, { name: 'wv', count: L * kv * D },
    { name: 'wo', count: L * D * D }, { name: 'rms_ffn', count: L * D },
    { name: 'w1', count: L * F * D }, { name: 'w2', count: L * D * F }, { name: 'w3', count: L * F * D },
    { name: 'rms_final', count: D }, { name: '', count: h.seqLen * hd }, // freq_cis_real + freq_cis_imag
  ];
  if (!h.sharedClassifier) segs.push({ name: 'wcls', count: V * D });
  return segs;
}

/**
 * HF row order for one projection with `nHeads` heads of width hd: new row h*hd + j takes old row
 * h*hd + perm[j], perm = [0, 2, 4, ..., hd-2, 1, 3, ..., hd-1]. Example hd=4: [0, 2, 1, 3].
 */
export function permuteRotaryRows(w: Float32Array, nHeads: number, hd: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  const half = hd / 2;
  for (let h = 0; h < nHeads; h++) {
    for (let j = 0; j < hd; j++) {
      const src = h * hd + (j < half ? 2 * j : 2 * (j - half) + 1);
      out.set(w.subarray(src * cols, (src + 1) * cols), (h * hd + j) * cols);
    }
  }
  return out;
}

/** Converts the file to HF-named float32 arrays (no tf tensors: usable for checks and for writing). */
export function readLlama2c(file: string): { config: LlamaConfig; tensors: Map<string, RawTensor> } {
  const fd = openOrThrow(file);
  try {
    const h = headerFromFd(fd, file);
    const config = llama2cConfig(h, file);
    const arrays = new Map<string, Float32Array>();
    let pos = HEADER_BYTES;
    for (const seg of layout(h)) {
      if (seg.name) arrays.set(seg.name, readFloats(fd, file, pos, seg.count));
      pos += 4 * seg.count;
    }
    return { config, tensors: toHfLayout(h, arrays) };
  } finally {
    fs.closeSync(fd);
  }
}

function readFloats(fd: number, file: string, pos: number, count: number): Float32Array {
  const out = new Float32Array(count);
  const bytes = new Uint8Array(out.buffer);
  let done = 0;
  while (done < bytes.length) {
    const n = fs.readSync(fd, bytes, done, bytes.length - done, pos + done);
    if (n === 0) throw new Llama2cError(file, `unexpected end of file at byte ${pos + done}; the file changed while reading`);
    done += n;
  }
  // Host byte order is little-endian on every platform Node supports in practice; the format is too.
  return out;
}

function toHfLayout(h: Llama2cHeader, a: Map<string, Float32Array>): Map<string, RawTensor> {
  const { dim: D, hiddenDim: F, nLayers: L, vocabSize: V, nHeads, nKvHeads } = h;
  const hd = D / nHeads;
  const kv = nKvHeads * hd;
  const t = new Map<string, RawTensor>();
  const put = (name: string, shape: number[], data: Float32Array) => t.set(name, { dtype: 'F32', shape, data });
  /** Layer i's slice of a stacked [L, ...] array. */
  const layer = (key: string, i: number, n: number) => a.get(key)!.slice(i * n, (i + 1) * n);
  put('model.embed_tokens.weight', [V, D], a.get('tok')!);
  for (let i = 0; i < L; i++) {
    const p = `model.layers.${i}.`;
    put(p + 'input_layernorm.weight', [D], layer('rms_att', i, D));
    put(p + 'self_attn.q_proj.weight', [D, D], permuteRotaryRows(layer('wq', i, D * D), nHeads, hd, D));
    put(p + 'self_attn.k_proj.weight', [kv, D], permuteRotaryRows(layer('wk', i, kv * D), nKvHeads, hd, D));
    put(p + 'self_attn.v_proj.weight', [kv, D], layer('wv', i, kv * D));
    put(p + 'self_attn.o_proj.weight', [D, D], layer('wo', i, D * D));
    put(p + 'post_attention_layernorm.weight', [D], layer('rms_ffn', i, D));
    put(p + 'mlp.gate_proj.weight', [F, D], layer('w1', i, F * D));
    put(p + 'mlp.down_proj.weight', [D, F], layer('w2', i, D * F));
    put(p + 'mlp.up_proj.weight', [F, D], layer('w3', i, F * D));
  }
  put('model.norm.weight', [D], a.get('rms_final')!);
  if (!h.sharedClassifier) put('lm_head.weight', [V, D], a.get('wcls')!);
  return t;
}

/** Loads a llama2.c `.bin` as a WeightBundle (HF names, float32 tensors owned by the receiver). */
export function loadLlama2c(file: string): WeightBundle {
  const { config, tensors } = readLlama2c(file);
  const out = new Map<string, tf.Tensor>();
  for (const [name, raw] of tensors) out.set(name, tf.tensor(raw.data as Float32Array, raw.shape, 'float32'));
  return { config, tensors: out };
}
