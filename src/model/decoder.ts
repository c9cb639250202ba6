/**
 * A decoder runs a policy's forward pass for batched sampling: a prompt pass over ragged prompts, then
 * one token per row per step, each returning the next-token logits of every row to the host (sampling
 * stays in JS, sampling.ts, so every decoder shares the same per-row random streams).
 *
 *   tfjs    TF.js ops on any backend and family: LanguageModel.forwardCachedBatch over a left-padded batch with a KV
 *           cache of tensors (per-row positions and a key-padding mask, Hugging Face style).
 *   native  native/rlhf_ops.cc's decoder session (native-decoder.ts): weights copied once into native
 *           memory, a whole step per call, per-row caches without padding. tensorflow backend and Llama-family
 *           models only (GPT-2 samples on tfjs).
 * `pickDecoder` takes native when it can run and TF.js otherwise; `decoderStatus` says which and why.
 *
 * Does: the forward side of sampling. Does NOT: choose tokens, decide when a row ends (sample-batch.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { nativeDecoderStatus } from '../backend/native-ops';
import { ModelError } from './errors';
import { KVCache } from './kv-cache';
import type { LanguageModel } from './language-model';
import { NativeDecoder, nativeFamily } from './native-decoder';
import type { Decoder, DecoderChoice, DecoderName } from './types';

export type { Decoder, DecoderChoice, DecoderName } from './types';

/**
 * Which decoder `auto` gives now (for `model`, whose family may lack native layers), and why not native when it
 * does not (for `rlhf env` and summaries).
 */
export function decoderStatus(model?: LanguageModel): { name: DecoderName; reason?: string } {
  const fam = model ? nativeFamily(model) : null;
  const why = fam && 'reason' in fam ? fam.reason : nativeDecoderStatus();
  return why === null ? { name: 'native' } : { name: 'tfjs', reason: why };
}

/** The decoder for `choice` ('auto': native where it runs, else TF.js); 'native' where it cannot run is an error. */
export function pickDecoder(model: LanguageModel, choice: DecoderChoice = 'auto'): Decoder {
  if (choice === 'tfjs') return new TfjsDecoder(model);
  const fam = nativeFamily(model);
  const why = 'reason' in fam ? fam.reason : nativeDecoderStatus();
  if (why === null) return NativeDecoder.create(model);
  if (choice === 'native') throw new ModelError(`the native decoder cannot run: ${why}; use decoder "tfjs" or "auto"`);
  return new TfjsDecoder(model);
}

/** The TF.js decoder: left-padded prompts, then [B, 1] steps over a tensor KV cache. */
export class TfjsDecoder implements Decoder {
  readonly name = 'tfjs';
  private cache = new KVCache();
  /** [B, cache.length]: 1 where a cached column is a real token of that row. */
  private keyMask: tf.Tensor2D | null = null;
  /** Real tokens per row so far (the next token's position). */
  private lengths = new Int32Array(0);

  constructor(private readonly model: LanguageModel) {}

  async prefill(prompts: number[][], _capacity: number[]): Promise<Float32Array> {
    this.reset();
    const B = prompts.length;
    const L = Math.max(...prompts.map((p) => p.length));
    const ids = new Int32Array(B * L);
    const mask = new Float32Array(B * L);
    const positions = new Int32Array(B * L);
    prompts.forEach((p, b) => {
      const pad = L - p.length; // left padding: every row's last token sits in column L - 1
      for (let t = 0; t < p.length; t++) {
        ids[b * L + pad + t] = p[t];
        mask[b * L + pad + t] = 1;
        positions[b * L + pad + t] = t;
      }
    });
    this.lengths = Int32Array.from(prompts, (p) => p.length);
    this.keyMask = tf.keep(tf.tensor2d(mask, [B, L]));
    return this.forward(tf.tensor2d(ids, [B, L], 'int32'), positions, this.keyMask);
  }

  async step(tokens: Int32Array, active: Uint8Array): Promise<Float32Array> {
    if (!this.keyMask) throw new ModelError('TfjsDecoder.step before prefill');
    const B = this.lengths.length;
    // An inactive row keeps its position and adds a masked column: its output is ignored and cannot be NaN.
    const mask = tf.tidy(() => tf.concat([this.keyMask!, tf.tensor2d(Float32Array.from(active), [B, 1])], 1) as tf.Tensor2D);
    this.keyMask.dispose();
    this.keyMask = tf.keep(mask);
    const positions = this.lengths.slice();
    for (let b = 0; b < B; b++) if (active[b]) this.lengths[b]++;
    return this.forward(tf.tensor2d(tokens, [B, 1], 'int32'), positions, mask);
  }

  refresh(): void {} // reads the model's variables directly

  dispose(): void {
    this.reset();
  }

  /** Logits of each row's last column as [B·V] on the host; `ids` is consumed. */
  private async forward(ids: tf.Tensor2D, positions: Int32Array, keyMask: tf.Tensor2D): Promise<Float32Array> {
    const last = tf.tidy(() => {
      const logits = this.model.forwardCachedBatch(ids, this.cache, positions, keyMask); // [B, Tq, V]
      const [B, Tq, V] = logits.shape;
      return logits.slice([0, Tq - 1, 0], [B, 1, V]).reshape([B * V]);
    });
    ids.dispose();
    try {
      return (await last.data()) as Float32Array;
    } finally {
      last.dispose();
    }
  }

  private reset(): void {
    this.cache.dispose();
    this.keyMask?.dispose();
    this.keyMask = null;
  }
}
