/**
 * A per-sequence key/value cache for incremental decoding: per layer, the rotated keys and the values
 * of every position seen so far, [B, kvHeads, T, headDim]. The tensors are kept (tf.keep) and owned
 * here; `update` swaps in the longer ones and frees the old.
 *
 * For a left-padded batch (forwardCachedBatch) the columns are the padded batch's, and the caller keeps the mask
 * saying which are real.
 *
 * Does: hold and free cached tensors. Does NOT: compute anything (the model's forwardCached / forwardCachedBatch do).
 */
import type { LayerKV } from './layers';

export class KVCache {
  private layersKV: LayerKV[] | null = null;
  private len = 0;

  /** Number of positions cached (the position index of the next token). */
  get length(): number {
    return this.len;
  }

  /** Layer i's cache, or undefined before the first step. */
  layer(i: number): LayerKV | undefined {
    return this.layersKV?.[i];
  }

  /** Replaces the cache with `next` (already kept by the caller) covering `length` positions. */
  update(next: LayerKV[], length: number): void {
    this.disposeTensors();
    this.layersKV = next;
    this.len = length;
  }

  dispose(): void {
    this.disposeTensors();
    this.layersKV = null;
    this.len = 0;
  }

  private disposeTensors(): void {
    for (const kv of this.layersKV ?? []) {
      kv.k.dispose();
      kv.v.dispose();
    }
  }
}
