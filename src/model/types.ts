/**
 * The model contracts the rest of the toolkit codes against, whatever the family. Weights are always keyed by
 * their Hugging Face names (`model.layers.0.self_attn.q_proj.weight` [out, in] for Llama,
 * `transformer.h.0.attn.c_attn.weight` [in, out] for GPT-2, `lm_head.weight`, `score.weight`), so checkpoints are
 * HF safetensors without renaming.
 */
import type * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from './config';
import type { PackedLayout } from './packed';

/** Loaded weights before a model takes ownership of them (io/ produces these). */
export interface WeightBundle<C extends ModelConfig = ModelConfig> {
  config: C;
  /** HF name -> tensor; the model that receives them takes ownership (disposes them). */
  tensors: Map<string, tf.Tensor>;
}

/** Which hidden states a forward returns. */
export interface HiddenOptions {
  /**
   * Only these cells (flat indices row·T + t, any order, duplicates allowed): the result is [1, N, H] in this
   * order. The values equal the full forward's at those cells (up to float rounding); the last block runs its
   * output projection, residual and MLP, and the final norm, on these rows only (every earlier layer, and the last
   * one's attention, still run on all positions). e.g. the positions that predict scored tokens, or each
   * sequence's last token for a reward model. @default every position, [B, T, H]
   */
  rows?: Int32Array;
}

export interface CausalLM {
  readonly config: ModelConfig;
  /** Every weight, HF name -> variable. `trainable` is false for frozen models (reference, compare). */
  readonly weights: Map<string, tf.Variable>;
  /**
   * Final-norm hidden states [B, T, H], or [1, N, H] at opts.rows. ids [B, T] int32; attentionMask [B, T] (1 = real
   * token, 0 = right padding).
   */
  hidden(ids: tf.Tensor2D, attentionMask?: tf.Tensor2D, opts?: HiddenOptions): tf.Tensor3D;
  /** Final-norm hidden states [R, T, H] (or [1, N, H] at opts.rows) of packed rows (model/packed.ts: padding-free batches, shared prompts). */
  hiddenPacked(ids: tf.Tensor2D, layout: PackedLayout, opts?: HiddenOptions): tf.Tensor3D;
  /** The LM head's weight [V, H] (logits = hidden · weightᵀ), for log-probs computed in chunks. */
  headWeight(): tf.Variable;
  /** Next-token logits [B, T, V]. */
  logits(ids: tf.Tensor2D, attentionMask?: tf.Tensor2D): tf.Tensor3D;
  /** Freezes or unfreezes every weight. */
  setTrainable(trainable: boolean): void;
  dispose(): void;
}

/** A decoder's name: native/decoder.h's session, or TF.js ops (decoder.ts says what each is). */
export type DecoderName = 'native' | 'tfjs';
export type DecoderChoice = 'auto' | DecoderName;

/** The forward side of batched sampling (decoder.ts picks one; sample-batch.ts drives it). */
export interface Decoder {
  readonly name: DecoderName;
  /**
   * Starts B rows from their prompts (each non-empty); capacity[b] = positions row b may reach (prompt + new
   * tokens). Returns the logits after each prompt's last token, [B·V] row-major.
   */
  prefill(prompts: number[][], capacity: number[]): Promise<Float32Array>;
  /** Appends tokens[b] to every row with active[b] = 1; returns their next logits [B·V] (other rows: unspecified). */
  step(tokens: Int32Array, active: Uint8Array): Promise<Float32Array>;
  /** Re-reads the model's weights (after an optimiser step changed them). */
  refresh(): void;
  dispose(): void;
}
