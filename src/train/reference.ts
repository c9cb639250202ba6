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
import type { CausalLM } from '../model/types';
import type { PairBatch, Seq } from '../data/collate';
import { isPacked, type AnyPairBatch } from '../data/packing';
import { batchLogProbs } from '../model/batch';

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

/**
 * One key per pair of a batch: sha1 of the chosen sequence's and the rejected sequence's real tokens and completion
 * masks (as the padded rows hold them), so a padded batch and a packed one of the same pairs share their keys.
 */
export function pairKeys(b: AnyPairBatch): string[] {
  const sides = isPacked(b) ? b.pairs.map((p) => [seqParts(p.chosen), seqParts(p.rejected)]) : paddedParts(b);
  return sides.map(([c, r]) => {
    const h = crypto.createHash('sha1');
    for (const part of [...c, Buffer.from('|'), ...r]) h.update(part);
    return h.digest('hex');
  });
}

const bytes = (a: Int32Array | Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** A sequence's ids and completion mask (1 at t >= max(completionStart, 1)) as bytes, as its padded row holds them. */
function seqParts(s: Seq): Buffer[] {
  const mask = Float32Array.from(s.ids, (_, t) => (t >= s.completionStart && t >= 1 ? 1 : 0));
  return [bytes(Int32Array.from(s.ids)), bytes(mask)];
}

/** Per pair, [chosen row parts, rejected row parts] of a padded batch (its real tokens only). */
function paddedParts(b: PairBatch): Buffer[][][] {
  const T = b.seqLen;
  const row = (r: number) => {
    let n = 0;
    for (let t = 0; t < T; t++) n += b.attentionMask[r * T + t] > 0 ? 1 : 0;
    return [bytes(b.inputIds.subarray(r * T, r * T + n)), bytes(b.completionMask.subarray(r * T, r * T + n))];
  };
  return Array.from({ length: b.size }, (_, i) => [row(i), row(b.size + i)]);
}

/** Reference log-prob sums of one batch's chosen and rejected sequences ([B] each), one forward (padded or packed). */
export async function referenceSums(reference: CausalLM, b: AnyPairBatch): Promise<{ chosen: Float32Array; rejected: Float32Array }> {
  const B = b.size;
  const sums = tf.tidy(() => batchLogProbs(reference, b, 2 * B).sum);
  const v = (await sums.data()) as Float32Array;
  sums.dispose();
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
   * Fills every pair of these batches that the cache lacks, with one reference forward per batch (in the batch's
   * own layout: a packed batch computes each prompt once).
   * `onProgress` hears the pairs looked at so far (cached or computed) after each batch.
   */
  async fill(reference: CausalLM, batches: Iterable<AnyPairBatch>, onProgress?: (pairs: number) => void): Promise<void> {
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
  lookup(b: AnyPairBatch): { chosen: Float32Array; rejected: Float32Array } {
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
