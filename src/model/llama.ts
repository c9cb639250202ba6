/**
 * The Llama-family causal LM (Llama, Qwen2-style q/k/v biases): token embedding, N pre-norm blocks
 * `x = x + attn(rmsnorm(x)); x = x + mlp(rmsnorm(x))`, final RMSNorm, tied or untied LM head.
 * Weights are tf.Variables keyed by Hugging Face names, so a checkpoint is HF safetensors verbatim.
 *
 * Does: forward (batched, right padding via attentionMask), cached incremental forward for generation,
 * random init, loading a WeightBundle. Does NOT: read files (io/), sample (generate.ts), losses.
 */
import * as tf from '@tensorflow/tfjs';
import { fusedCausalAttention, fusedOpsAvailable } from '../backend/native-ops';
import { linear } from '../backend/ops';
import type { LlamaConfig } from './config';
import type { CausalLM, WeightBundle } from './types';
import { ModelError } from './errors';
import { groupedAttention } from './attention';
import { KVCache } from './kv-cache';
import { BlockContext, DecoderBlock, LayerKV, causalBias, paddingBias, rmsNorm, swiglu } from './layers';
import { checkWeights, layerPrefix, llamaWeightSpecs, randomTensors } from './llama-weights';
import { Rng } from './rng';
import { RotaryTables } from './rope';

export interface ModelOptions {
  /** false for frozen models (DPO reference, reward model during compare). @default true */
  trainable?: boolean;
  /** Backbone only (a reward model's): no lm_head.weight even when untied; logits() is unavailable. @default false */
  headless?: boolean;
}

/** One Llama decoder layer; reads its weights from the model's map by HF name. */
class LlamaBlock implements DecoderBlock {
  private readonly w: (suffix: string) => tf.Variable;
  private readonly b: (suffix: string) => tf.Variable | undefined;

  constructor(weights: Map<string, tf.Variable>, index: number, private readonly cfg: LlamaConfig) {
    const p = layerPrefix(index);
    this.w = (s) => weights.get(`${p}.${s}`)!;
    this.b = (s) => (cfg.attention_bias ? weights.get(`${p}.${s}`) : undefined);
  }

  forward(x: tf.Tensor3D, ctx: BlockContext, past?: LayerKV): { y: tf.Tensor3D; kv?: LayerKV } {
    return tf.tidy(() => {
      const { kv, out } = this.attention(rmsNorm(x, this.w('input_layernorm.weight'), this.cfg.rms_norm_eps), ctx, past);
      const h = x.add(out); // [B, T, D]
      const m = swiglu(rmsNorm(h, this.w('post_attention_layernorm.weight'), this.cfg.rms_norm_eps),
        this.w('mlp.gate_proj.weight'), this.w('mlp.up_proj.weight'), this.w('mlp.down_proj.weight'));
      return { y: h.add(m) as tf.Tensor3D, kv }; // [B, T, D]
    });
  }

  /** x [B, T, D] (normed) -> out [B, T, D] and the full (past + new) rotated keys and values (not on the fused path). */
  private attention(x: tf.Tensor, ctx: BlockContext, past?: LayerKV): { out: tf.Tensor; kv?: LayerKV } {
    const { num_attention_heads: H, num_key_value_heads: kvH, head_dim: d } = this.cfg;
    const [B, T] = x.shape;
    const proj = (name: 'q' | 'k' | 'v', heads: number) =>
      linear(x, this.w(`self_attn.${name}_proj.weight`), this.b(`self_attn.${name}_proj.bias`)).reshape([B, T, heads, d]) as tf.Tensor4D;
    let q = proj('q', H); // [B, T, H, d]
    let k = proj('k', kvH); // [B, T, kvH, d]
    const v = proj('v', kvH);
    if (ctx.causal && !ctx.paddingMasked && !past && ctx.rope && fusedOpsAvailable()) {
      // One native kernel on the [B, T, heads, d] projections, RoPE included (backend/native-ops.ts): no head
      // transposes and no T×T tensors. A full forward's keys and values are never cached, so none are returned.
      const half = d / 2;
      const cos = ctx.rope.cos.reshape([T, half]) as tf.Tensor2D;
      const sin = ctx.rope.sin.reshape([T, half]) as tf.Tensor2D;
      const att = fusedCausalAttention(q, k, v, cos, sin, 1 / Math.sqrt(d)).reshape([B, T, H * d]);
      return { out: linear(att, this.w('self_attn.o_proj.weight')) };
    }
    if (ctx.rope) {
      q = RotaryTables.apply(q, ctx.rope.cos, ctx.rope.sin);
      k = RotaryTables.apply(k, ctx.rope.cos, ctx.rope.sin);
    }
    let kh = k.transpose([0, 2, 1, 3]) as tf.Tensor4D; // [B, kvH, T, d]
    let vh = v.transpose([0, 2, 1, 3]) as tf.Tensor4D;
    if (past) {
      kh = tf.concat([past.k, kh], 2) as tf.Tensor4D; // [B, kvH, Tpast + T, d]
      vh = tf.concat([past.v, vh], 2) as tf.Tensor4D;
    }
    const att = groupedAttention(q, kh, vh, ctx.bias, ctx.causal === true && !past); // [B, T, H·d]
    return { out: linear(att, this.w('self_attn.o_proj.weight')), kv: { k: kh, v: vh } };
  }
}

export class LlamaModel implements CausalLM {
  readonly weights: Map<string, tf.Variable>;
  private readonly blocks: DecoderBlock[];
  private readonly rope: RotaryTables;
  /** Causal biases [T, T] by length, kept: a training run uses one or two lengths. */
  private readonly causalCache = new Map<number, tf.Tensor2D>();
  private disposed = false;
  private readonly headless: boolean;

  private constructor(readonly config: LlamaConfig, tensors: Map<string, tf.Tensor>, opts: ModelOptions) {
    const trainable = opts.trainable ?? true;
    this.headless = opts.headless ?? false;
    this.weights = new Map();
    for (const [name, t] of tensors) {
      // tf.variable shares t's data (refcount), so disposing t afterwards costs no copy.
      // No variable name: names are global in TF.js, and a policy and its reference share HF names.
      this.weights.set(name, ownAsVariable(t, trainable));
    }
    this.blocks = Array.from({ length: config.num_hidden_layers }, (_, i) => new LlamaBlock(this.weights, i, config));
    this.rope = new RotaryTables(config.head_dim, config.rope_theta, Math.min(256, config.max_position_embeddings));
  }

  /** Takes ownership of the bundle's tensors (disposes them); checks names and shapes against the config. */
  static fromWeights(bundle: WeightBundle, opts: ModelOptions & { source?: string } = {}): LlamaModel {
    const source = opts.source ?? 'weights';
    let ordered: Map<string, tf.Tensor>;
    try {
      ordered = checkWeights(llamaWeightSpecs(bundle.config, !opts.headless), bundle.tensors, source);
    } catch (e) {
      for (const t of bundle.tensors.values()) t.dispose();
      throw e;
    }
    return new LlamaModel(bundle.config, ordered, opts);
  }

  /** HF-like init, seeded: normal(0, 0.02) projections and embeddings, ones for norms, zeros for biases. */
  static random(config: LlamaConfig, seed: number, opts: ModelOptions & { std?: number } = {}): LlamaModel {
    const tensors = randomTensors(llamaWeightSpecs(config, !opts.headless), new Rng(seed), opts.std ?? 0.02);
    return new LlamaModel(config, tensors, opts);
  }

  /**
   * ids [B, T] int32, attentionMask [B, T] (1 real, 0 padding) -> final-norm hidden states [B, T, D].
   * With right padding only, the hidden states at padded positions are unspecified (see below).
   */
  hidden(ids: tf.Tensor2D, attentionMask?: tf.Tensor2D): tf.Tensor3D {
    this.checkAlive();
    return tf.tidy(() => {
      const T = ids.shape[1];
      let bias: tf.Tensor = this.causal(T); // [T, T]
      // Right padding needs no key-padding bias: a real query never sees a later key (causal mask), so only
      // the padded positions' own outputs would change, and no loss, score or log-prob reads those.
      const paddingMasked = attentionMask !== undefined && paddingPrecedesTokens(attentionMask);
      if (paddingMasked) bias = bias.add(paddingBias(attentionMask)); // [B, 1, 1, T, T]
      return this.run(ids, { offset: 0, bias, rope: this.rope.slice(0, T), causal: true, paddingMasked }).h;
    });
  }

  /** Next-token logits [B, T, V]. */
  logits(ids: tf.Tensor2D, attentionMask?: tf.Tensor2D): tf.Tensor3D {
    return tf.tidy(() => this.head(this.hidden(ids, attentionMask)));
  }

  /** LM head on hidden states: h [B, T, D] -> logits [B, T, V] (tied: the embedding matrix). */
  head(h: tf.Tensor3D): tf.Tensor3D {
    if (this.headless) throw new ModelError('this model is a backbone without an LM head (a reward model\'s); it has no logits');
    return tf.tidy(() => {
      const w = this.weights.get(this.config.tie_word_embeddings ? 'model.embed_tokens.weight' : 'lm_head.weight')!;
      return linear(h, w) as tf.Tensor3D;
    });
  }

  /**
   * Incremental forward for generation: ids [B, Tq] continue the sequences in `cache` (no padding:
   * every row has the same length). Returns logits [B, Tq, V] and extends the cache by Tq positions.
   */
  forwardCached(ids: tf.Tensor2D, cache: KVCache): tf.Tensor3D {
    this.checkAlive();
    const offset = cache.length;
    const Tq = ids.shape[1];
    const next: LayerKV[] = [];
    const logits = tf.tidy(() => {
      // A single new token may see every cached position: no mask needed.
      const bias = Tq === 1 ? null : causalBias(Tq, offset + Tq, offset);
      const past = this.blocks.map((_, i) => cache.layer(i));
      const { h, kvs } = this.run(ids, { offset, bias, rope: this.rope.slice(offset, Tq) }, past);
      for (const kv of kvs) next.push({ k: tf.keep(kv!.k), v: tf.keep(kv!.v) }); // no causal ctx: never the fused path
      return this.head(h);
    });
    cache.update(next, offset + Tq);
    return logits;
  }

  /**
   * Incremental forward for a ragged (left-padded) batch, Hugging Face style: ids [B, Tq] continue the rows in
   * `cache` (empty for the prompt pass); positions [B·Tq] give each token's position as the number of real
   * tokens before it in its row (so RoPE sees every row as if unpadded); keyMask [B, cache.length + Tq] is 1 for
   * real tokens and 0 for padding (no query attends to a padded key). Returns logits [B, Tq, V] and extends the
   * cache by Tq columns. With no padding and positions offset.., it computes what forwardCached does.
   */
  forwardCachedBatch(ids: tf.Tensor2D, cache: KVCache, positions: Int32Array, keyMask: tf.Tensor2D): tf.Tensor3D {
    this.checkAlive();
    const offset = cache.length;
    const [B, Tq] = ids.shape;
    if (positions.length !== B * Tq || keyMask.shape[0] !== B || keyMask.shape[1] !== offset + Tq) {
      throw new ModelError(`forwardCachedBatch: expected ${B * Tq} positions and keyMask [${B}, ${offset + Tq}]; got ${positions.length} and [${keyMask.shape}]`);
    }
    const next: LayerKV[] = [];
    const logits = tf.tidy(() => {
      let bias = paddingBias(keyMask); // [B, 1, 1, 1, Tk]
      if (Tq > 1) bias = bias.add(causalBias(Tq, offset + Tq, offset)); // [B, 1, 1, Tq, Tk]
      const past = this.blocks.map((_, i) => cache.layer(i));
      const { h, kvs } = this.run(ids, { offset, bias, rope: this.rope.gather(positions, B, Tq) }, past);
      for (const kv of kvs) next.push({ k: tf.keep(kv!.k), v: tf.keep(kv!.v) });
      return this.head(h);
    });
    cache.update(next, offset + Tq);
    return logits;
  }

  /** All variables, in HF order (the var list for an optimizer). */
  variables(): tf.Variable[] {
    return [...this.weights.values()];
  }

  /** Total parameter count, e.g. tiny preset with vocab 256 -> ~0.11M. */
  numParameters(): number {
    let n = 0;
    for (const v of this.weights.values()) n += v.size;
    return n;
  }

  setTrainable(trainable: boolean): void {
    for (const v of this.weights.values()) v.trainable = trainable;
  }

  /** A deep copy with its own variables (e.g. the frozen DPO reference: `policy.clone({trainable: false})`). */
  clone(opts: ModelOptions = {}): LlamaModel {
    this.checkAlive();
    const headless = opts.headless ?? this.headless;
    const tensors = new Map<string, tf.Tensor>();
    for (const [name, v] of this.weights) if (!(headless && name === 'lm_head.weight')) tensors.set(name, v.clone());
    if (!headless && this.headless && !this.config.tie_word_embeddings) {
      for (const t of tensors.values()) t.dispose();
      throw new ModelError('cannot add an untied LM head to a headless model by cloning');
    }
    return new LlamaModel({ ...this.config }, tensors, { ...opts, headless });
  }

  dispose(): void {
    if (this.disposed) return;
    for (const v of this.weights.values()) v.dispose();
    for (const t of this.causalCache.values()) t.dispose();
    this.causalCache.clear();
    this.rope.dispose();
    this.disposed = true;
  }

  /** embed -> blocks -> final norm.  ids [B, T] -> h [B, T, D] and each layer's full k/v. */
  private run(ids: tf.Tensor2D, ctx: BlockContext, past?: (LayerKV | undefined)[]): { h: tf.Tensor3D; kvs: (LayerKV | undefined)[] } {
    const idx = ids.dtype === 'int32' ? ids : ids.toInt();
    let x = tf.gather(this.weights.get('model.embed_tokens.weight')!, idx) as tf.Tensor3D; // [B, T, D]
    const kvs: (LayerKV | undefined)[] = [];
    this.blocks.forEach((block, i) => {
      const { y, kv } = block.forward(x, ctx, past?.[i]);
      x = y;
      kvs.push(kv);
    });
    return { h: rmsNorm(x, this.weights.get('model.norm.weight')!, this.config.rms_norm_eps) as tf.Tensor3D, kvs };
  }

  /** The kept causal bias [T, T] (built once per length; at most 4 lengths are kept). */
  private causal(T: number): tf.Tensor2D {
    let m = this.causalCache.get(T);
    if (!m) {
      if (this.causalCache.size >= 4) {
        // add's gradient needs no input values, so freeing an older bias cannot break a recorded tape.
        const [oldest, t] = this.causalCache.entries().next().value as [number, tf.Tensor2D];
        t.dispose();
        this.causalCache.delete(oldest);
      }
      m = tf.keep(causalBias(T, T, 0));
      this.causalCache.set(T, m);
    }
    return m;
  }

  private checkAlive(): void {
    if (this.disposed) throw new ModelError('this model was disposed; load it again');
  }
}

/**
 * A trainable/frozen float32 variable holding t's values; t is disposed. tf.variable shares t's data
 * (refcount), so for float32 input no copy is made.
 */
export function ownAsVariable(t: tf.Tensor, trainable: boolean): tf.Variable {
  const f = t.dtype === 'float32' ? t : t.toFloat();
  const v = tf.variable(f, trainable);
  if (f !== t) f.dispose();
  t.dispose();
  return v;
}

/**
 * Whether some row of a [B, T] attention mask has a padding slot before a real token (left or inner
 * padding). Only then can the key-padding bias change a real position's output. Reads the mask on the host
 * (an input, so nothing waits on computation). e.g. [[1,1,0],[1,0,0]] -> false, [[0,1,1]] -> true.
 */
export function paddingPrecedesTokens(mask: tf.Tensor2D): boolean {
  const [B, T] = mask.shape;
  const m = mask.dataSync();
  for (let b = 0; b < B; b++) {
    let seenPad = false;
    for (let t = 0; t < T; t++) {
      if (m[b * T + t] === 0) seenPad = true;
      else if (seenPad) return true;
    }
  }
  return false;
}
