/**
 * A decoder-only causal LM of any family (families/): token embedding, N blocks, final norm, tied or untied LM
 * head. The family supplies those pieces (family.ts: Llama's RMSNorm/RoPE/SwiGLU blocks, GPT-2's LayerNorm/GELU
 * blocks with learned positions); everything around them is written once, here, for every family. Weights are
 * tf.Variables keyed by Hugging Face names, so a checkpoint is HF safetensors verbatim.
 *
 * Does: forward (batched, right padding via attentionMask; packed rows, packed.ts; the last block on the rows read only), cached incremental forwards for generation and
 * batched sampling (every row one length, or a left-padded batch with per-row positions), random init, loading a
 * WeightBundle. Does NOT: read files (io/), sample (generate.ts), losses.
 */
import * as tf from '@tensorflow/tfjs';
import { linear, segmentAttentionFused } from '../backend/ops';
import type { ModelConfig } from './config';
import type { CausalLM, HiddenOptions, WeightBundle } from './types';
import { ModelError } from './errors';
import type { FamilyNet, ModelFamily, Positions } from './family';
import { familyOf, weightSpecs } from './families';
import { KVCache } from './kv-cache';
import { BlockContext, LayerKV, PackedAttention, causalBias, paddingBias } from './layers';
import { checkLayout, layoutTensor, PackedLayout, segmentBias } from './packed';
import { LM_HEAD_WEIGHT, checkWeights, randomTensors } from './weights';
import { Rng } from './rng';

export interface ModelOptions {
  /** false for frozen models (DPO reference, reward model during compare). @default true */
  trainable?: boolean;
  /** Backbone only (a reward model's): no lm_head.weight even when untied; logits() is unavailable. @default false */
  headless?: boolean;
}

/**
 * Whether a batch that every one of these models reads may go in one row (data/packing.ts oneRow): all of them
 * run the fused segment kernel (LanguageModel.packsInOneRow). Absent models (no reference) read nothing.
 */
export function packInOneRow(...models: Array<Pick<LanguageModel, 'packsInOneRow'> | null | undefined>): boolean {
  return models.every((m) => !m || m.packsInOneRow());
}

export class LanguageModel<C extends ModelConfig = ModelConfig> implements CausalLM {
  readonly weights: Map<string, tf.Variable>;
  /** The family whose pieces compute the forward (from config.model_type). */
  readonly family: ModelFamily<C>;
  private readonly net: FamilyNet;
  /** Causal biases [T, T] by length, kept: a training run uses one or two lengths. */
  private readonly causalCache = new Map<number, tf.Tensor2D>();
  private disposed = false;
  private readonly headless: boolean;

  private constructor(readonly config: C, tensors: Map<string, tf.Tensor>, opts: ModelOptions) {
    const trainable = opts.trainable ?? true;
    this.headless = opts.headless ?? false;
    this.weights = new Map();
    for (const [name, t] of tensors) {
      // tf.variable shares t's data (refcount), so disposing t afterwards costs no copy.
      // No variable name: names are global in TF.js, and a policy and its reference share HF names.
      this.weights.set(name, ownAsVariable(t, trainable));
    }
    this.family = familyOf(config) as ModelFamily<C>;
    this.net = this.family.build(config, (name) => this.weight(name));
  }

  /** Takes ownership of the bundle's tensors (disposes them); checks names and shapes against the config. */
  static fromWeights<C extends ModelConfig>(bundle: WeightBundle<C>, opts: ModelOptions & { source?: string } = {}): LanguageModel<C> {
    const source = opts.source ?? 'weights';
    let ordered: Map<string, tf.Tensor>;
    try {
      const specs = weightSpecs(bundle.config, opts.headless ? 'backbone' : 'causal_lm');
      ordered = checkWeights(specs, bundle.tensors, source, familyOf(bundle.config).ignorable);
    } catch (e) {
      for (const t of bundle.tensors.values()) t.dispose();
      throw e;
    }
    return new LanguageModel(bundle.config, ordered, opts);
  }

  /** HF-like init, seeded: normal(0, 0.02) projections and embeddings, ones for norms, zeros for biases. */
  static random<C extends ModelConfig>(config: C, seed: number, opts: ModelOptions & { std?: number } = {}): LanguageModel<C> {
    const tensors = randomTensors(weightSpecs(config, opts.headless ? 'backbone' : 'causal_lm'), new Rng(seed), opts.std ?? 0.02);
    return new LanguageModel(config, tensors, opts);
  }

  /**
   * ids [B, T] int32, attentionMask [B, T] (1 real, 0 padding) -> final-norm hidden states [B, T, D], or with
   * opts.rows those rows only, [1, N, D] (the last block computes nothing else past its attention: HiddenOptions).
   * With right padding only, the hidden states at padded positions are unspecified (see below).
   */
  hidden(ids: tf.Tensor2D, attentionMask?: tf.Tensor2D, opts: HiddenOptions = {}): tf.Tensor3D {
    this.checkAlive();
    checkRows(opts.rows, ids.shape, 'hidden');
    return tf.tidy(() => {
      const T = ids.shape[1];
      let bias: tf.Tensor = this.causal(T); // [T, T]
      // Right padding needs no key-padding bias: a real query never sees a later key (causal mask), so only
      // the padded positions' own outputs would change, and no loss, score or log-prob reads those.
      const paddingMasked = attentionMask !== undefined && paddingPrecedesTokens(attentionMask);
      if (paddingMasked) bias = bias.add(paddingBias(attentionMask)); // [B, 1, 1, T, T]
      const at = { offset: 0, T };
      return this.run(ids, at, { offset: 0, bias, ...this.net.positional(at), causal: true, paddingMasked }, undefined, opts.rows).h;
    });
  }

  /**
   * Packed rows (model/packed.ts): ids [R, T] int32 laid out as `layout` says -> final-norm hidden states [R, T, D],
   * each token's equal (up to float rounding) to its hidden state in a padded row of its own sequence. The
   * attention follows the layout (backend/ops.ts: the fused segment kernel, or TF.js with a [R, T, T] bias);
   * positions restart per sequence. Padding cells at a row's end hold unspecified states. With opts.rows (cells
   * row·T + t): those cells only, [1, N, D], as hidden's.
   */
  hiddenPacked(ids: tf.Tensor2D, layout: PackedLayout, opts: HiddenOptions = {}): tf.Tensor3D {
    this.checkAlive();
    const [R, T] = ids.shape;
    if (layout.rows !== R || layout.seqLen !== T) throw new ModelError(`hiddenPacked: ids are [${R}, ${T}] but the layout is for [${layout.rows}, ${layout.seqLen}]`);
    checkLayout(layout);
    checkRows(opts.rows, ids.shape, 'hiddenPacked');
    let bias: tf.Tensor | null = null;
    try {
      return tf.tidy(() => {
        const table = this.net.positional({ offset: 0, T }).rope; // [T, 1, d/2] for the kernel (indexed by position)
        const half = table ? table.cos.shape[table.cos.shape.length - 1] : 0;
        const packed: PackedAttention = {
          layout: layoutTensor(layout),
          // The last block computes attention only for query blocks holding a row read (opts.rows).
          lastLayout: opts.rows ? layoutTensor(layout, opts.rows) : undefined,
          rope: table && { cos: table.cos.reshape([T, half]) as tf.Tensor2D, sin: table.sin.reshape([T, half]) as tf.Tensor2D },
          // Built once, outside the blocks' tidy scopes (kept), freed below: add's gradient reads no input values.
          bias: () => (bias ??= tf.keep(segmentBias(layout))),
        };
        const at = { B: R, T, rows: layout.positions };
        return this.run(ids, at, { offset: 0, bias: null, ...this.net.positional(at), causal: true, packed }, undefined, opts.rows).h;
      });
    } finally {
      (bias as tf.Tensor | null)?.dispose();
    }
  }

  /**
   * Whether a packed batch for this model may go in one row (data/packing.ts oneRow): its packed attention runs the
   * fused segment kernel now, whose work does not grow with a row's length. Elsewhere the TF.js path's [T, T] bias
   * would grow with the square of the batch's tokens, so rows stay as long as the longest item.
   */
  packsInOneRow(): boolean {
    const c = this.config as ModelConfig & { head_dim?: number };
    return segmentAttentionFused(c.head_dim ?? c.hidden_size / c.num_attention_heads);
  }

  /** The LM head's weight [V, D] (tied: the token embedding), for heads computed in chunks (logprobs.ts). */
  headWeight(): tf.Variable {
    if (this.headless) throw new ModelError('this model is a backbone without an LM head (a reward model\'s); it has no logits');
    return this.weight(this.config.tie_word_embeddings ? this.family.embeddingWeight : LM_HEAD_WEIGHT);
  }

  /** Next-token logits [B, T, V]. */
  logits(ids: tf.Tensor2D, attentionMask?: tf.Tensor2D): tf.Tensor3D {
    return tf.tidy(() => this.head(this.hidden(ids, attentionMask)));
  }

  /** LM head on hidden states: h [B, T, D] -> logits [B, T, V] (tied: the embedding matrix). */
  head(h: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => linear(h, this.headWeight()) as tf.Tensor3D);
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
      const past = this.net.blocks.map((_, i) => cache.layer(i));
      const at = { offset, T: Tq };
      const { h, kvs } = this.run(ids, at, { offset, bias, ...this.net.positional(at) }, past);
      for (const kv of kvs) next.push({ k: tf.keep(kv!.k), v: tf.keep(kv!.v) }); // no causal ctx: never the fused path
      return this.head(h);
    });
    cache.update(next, offset + Tq);
    return logits;
  }

  /**
   * Incremental forward for a ragged (left-padded) batch, Hugging Face style: ids [B, Tq] continue the rows in
   * `cache` (empty for the prompt pass); positions [B·Tq] give each token's position as the number of real
   * tokens before it in its row (so RoPE or learned positions see every row as if unpadded); keyMask
   * [B, cache.length + Tq] is 1 for real tokens and 0 for padding (no query attends to a padded key). Returns
   * logits [B, Tq, V] and extends the cache by Tq columns. With no padding and positions offset.., it computes
   * what forwardCached does.
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
      const past = this.net.blocks.map((_, i) => cache.layer(i));
      const at = { B, T: Tq, rows: positions };
      const { h, kvs } = this.run(ids, at, { offset, bias, ...this.net.positional(at) }, past);
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
  clone(opts: ModelOptions = {}): LanguageModel<C> {
    this.checkAlive();
    const headless = opts.headless ?? this.headless;
    const tensors = new Map<string, tf.Tensor>();
    for (const [name, v] of this.weights) if (!(headless && name === LM_HEAD_WEIGHT)) tensors.set(name, v.clone());
    if (!headless && this.headless && !this.config.tie_word_embeddings) {
      for (const t of tensors.values()) t.dispose();
      throw new ModelError('cannot add an untied LM head to a headless model by cloning');
    }
    return new LanguageModel({ ...this.config }, tensors, { ...opts, headless });
  }

  dispose(): void {
    if (this.disposed) return;
    for (const v of this.weights.values()) v.dispose();
    for (const t of this.causalCache.values()) t.dispose();
    this.causalCache.clear();
    this.net.dispose();
    this.disposed = true;
  }

  /**
   * embed -> blocks -> final norm.  ids [B, T] at positions `at` -> h [B, T, D] and each layer's full k/v; with
   * keepRows (flat indices into B·T), h [1, N, D] of those rows: every earlier layer runs on all positions (their
   * keys and values feed later queries), the last one past its attention core and the final norm on the kept rows.
   */
  private run(ids: tf.Tensor2D, at: Positions, ctx: BlockContext, past?: (LayerKV | undefined)[], keepRows?: Int32Array): { h: tf.Tensor3D; kvs: (LayerKV | undefined)[] } {
    const idx = ids.dtype === 'int32' ? ids : ids.toInt();
    let x = this.net.embed(idx as tf.Tensor2D, at); // [B, T, D]
    const kvs: (LayerKV | undefined)[] = [];
    const lastPacked = ctx.packed?.lastLayout ? { ...ctx.packed, layout: ctx.packed.lastLayout } : ctx.packed;
    const lastCtx: BlockContext = keepRows ? { ...ctx, keepRows: tf.tensor1d(keepRows, 'int32'), packed: lastPacked } : ctx;
    const L = this.net.blocks.length;
    this.net.blocks.forEach((block, i) => {
      const { y, kv } = block.forward(x, i === L - 1 ? lastCtx : ctx, past?.[i]);
      x = y;
      kvs.push(kv);
    });
    return { h: this.net.finalNorm(x), kvs };
  }

  /** A weight by HF name (a missing one is a bug in a family's table, named here). */
  private weight(name: string): tf.Variable {
    const w = this.weights.get(name);
    if (!w) throw new ModelError(`${this.config.model_type} model: weight "${name}" is missing (a headless backbone has no LM head)`);
    return w;
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
 * Refuses rows that are not flat cells of a [B, T] batch, naming the first bad one. Empty rows are refused too:
 * a forward that reads nothing has nothing to compute (omit rows for every position).
 */
function checkRows(rows: Int32Array | undefined, [B, T]: number[], where: string): void {
  if (rows === undefined) return;
  if (rows.length === 0) throw new ModelError(`${where}: rows is empty; pass at least one cell (row·T + t), or omit rows for every position`);
  const cells = B * T;
  const bad = rows.findIndex((r) => r < 0 || r >= cells); // integers already: an Int32Array holds nothing else
  if (bad >= 0) throw new ModelError(`${where}: rows[${bad}] = ${rows[bad]} is not a cell of the [${B}, ${T}] batch; expected a cell index in [0, ${cells}) (row·T + t)`);
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
