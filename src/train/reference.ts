/**
 * Reference log-probs for DPO, computed once and cached on disk (TRL users ask for this: trl#3985).
 * Cache file: <cacheDir>/ref-logps-<fingerprint>.json, where the fingerprint is a sha256 over the
 * reference weights (names, shapes, bytes). Entries are keyed by a hash of each pair's exact token ids
 * (prompt + chosen, prompt + rejected, after truncation), so the key already covers the data, the
 * tokenizer and the length settings; later runs with the same reference reuse and extend the file.
 *
 * Does NOT: train anything; the reference model's weights are only read.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { pairLogProbs } from '../model/logprobs';
import type { CausalLM } from '../model/types';
import type { PairBatch } from '../data/collate';
import { toTensors } from '../data/tensors';

const REF_CACHE_FORMAT = 'rlhf-ref-logps/v1';

/** sha256 over every weight (sorted by name): name, shape and float32 bytes. */
export async function fingerprintWeights(weights: Map<string, tf.Tensor>): Promise<string> {
  const h = crypto.createHash('sha256');
  for (const name of [...weights.keys()].sort()) {
    const t = weights.get(name)!;
    h.update(`${name}:${t.shape.join('x')};`);
    const data = (await t.data()) as Float32Array;
    h.update(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  }
  return h.digest('hex');
}

/** One key per pair of a batch: sha1 of the chosen row's and the rejected row's real tokens. */
export function pairKeys(b: PairBatch): string[] {
  const T = b.seqLen;
  const rowTokens = (r: number) => {
    let n = 0;
    for (let t = 0; t < T; t++) n += b.attentionMask[r * T + t] > 0 ? 1 : 0;
    const ids = b.inputIds.subarray(r * T, r * T + n);
    const mask = b.completionMask.subarray(r * T, r * T + n);
    return [Buffer.from(ids.buffer, ids.byteOffset, ids.byteLength), Buffer.from(mask.buffer, mask.byteOffset, mask.byteLength)];
  };
  const keys: string[] = [];
  for (let i = 0; i < b.size; i++) {
    const h = crypto.createHash('sha1');
    for (const part of [...rowTokens(i), Buffer.from('|'), ...rowTokens(b.size + i)]) h.update(part);
    keys.push(h.digest('hex'));
  }
  return keys;
}

/** Reference log-prob sums of one batch's chosen and rejected rows ([B] each), one forward of 2B rows. */
export async function referenceSums(reference: CausalLM, b: PairBatch): Promise<{ chosen: Float32Array; rejected: Float32Array }> {
  const B = b.size;
  const packed = tf.tidy(() => {
    const t = toTensors(b, 2 * B);
    const half = (x: tf.Tensor2D, s: number) => x.slice([s, 0], [B, b.seqLen]) as tf.Tensor2D;
    const lp = pairLogProbs(
      reference,
      { ids: half(t.ids, 0), attentionMask: half(t.attentionMask, 0), completionMask: half(t.completionMask, 0) },
      { ids: half(t.ids, B), attentionMask: half(t.attentionMask, B), completionMask: half(t.completionMask, B) },
    );
    return tf.concat([lp.chosen.sum, lp.rejected.sum]);
  });
  const v = (await packed.data()) as Float32Array;
  packed.dispose();
  return { chosen: v.slice(0, B), rejected: v.slice(B, 2 * B) };
}

export class ReferenceCache {
  private readonly entries = new Map<string, [number, number]>();
  private dirty = false;
  hits = 0;
  computed = 0;

  constructor(readonly file: string | null, readonly fingerprint: string) {
    if (file && fs.existsSync(file)) {
      try {
        const j = JSON.parse(fs.readFileSync(file, 'utf8'));
        if (j.format === REF_CACHE_FORMAT && j.fingerprint === fingerprint) {
          for (const [k, v] of Object.entries(j.entries as Record<string, [number, number]>)) this.entries.set(k, v);
        }
      } catch {
        // A damaged cache is only a cache: recompute and overwrite it.
      }
    }
  }

  static at(cacheDir: string | null, fingerprint: string): ReferenceCache {
    return new ReferenceCache(cacheDir ? path.join(cacheDir, `ref-logps-${fingerprint.slice(0, 32)}.json`) : null, fingerprint);
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string): [number, number] | undefined {
    return this.entries.get(key);
  }

  /**
   * Fills every pair of these batches that the cache lacks, with one reference forward per batch.
   * `onProgress` hears the pairs looked at so far (cached or computed) after each batch.
   */
  async fill(reference: CausalLM, batches: Iterable<PairBatch>, onProgress?: (pairs: number) => void): Promise<void> {
    let seen = 0;
    for (const b of batches) {
      const keys = pairKeys(b);
      seen += keys.length;
      if (keys.every((k) => this.entries.has(k))) {
        this.hits += keys.length;
        onProgress?.(seen);
        continue;
      }
      const v = await referenceSums(reference, b);
      keys.forEach((k, i) => this.entries.set(k, [v.chosen[i], v.rejected[i]]));
      this.computed += keys.length;
      this.dirty = true;
      onProgress?.(seen);
    }
  }

  /** Reference log-prob sums for a batch, [B] each; throws if a pair was never computed. */
  lookup(b: PairBatch): { chosen: Float32Array; rejected: Float32Array } {
    const keys = pairKeys(b);
    const chosen = new Float32Array(b.size);
    const rejected = new Float32Array(b.size);
    keys.forEach((k, i) => {
      const v = this.entries.get(k);
      if (!v) throw new Error(`reference log-probs missing for pair ${b.records[i]?.source ?? i}; the cache was not filled for this data`);
      chosen[i] = v[0];
      rejected[i] = v[1];
    });
    return { chosen, rejected };
  }

  /** Writes the cache atomically (temp file + rename) when it changed. */
  save(): void {
    if (!this.file || !this.dirty) return;
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, JSON.stringify({ format: REF_CACHE_FORMAT, fingerprint: this.fingerprint, entries: Object.fromEntries(this.entries) }));
    fs.renameSync(tmp, this.file);
    this.dirty = false;
  }
}
