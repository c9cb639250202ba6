/**
 * The model contracts the rest of the toolkit codes against. Weights are always keyed by their
 * Hugging Face names (`model.embed_tokens.weight`, `model.layers.0.self_attn.q_proj.weight` [out, in],
 * `lm_head.weight`, `score.weight`), so checkpoints are HF safetensors without renaming.
 */
import type * as tf from '@tensorflow/tfjs';
import type { LlamaConfig } from './config';

/** Loaded weights before a model takes ownership of them (io/ produces these). */
export interface WeightBundle {
  config: LlamaConfig;
  /** HF name -> tensor; the model that receives them takes ownership (disposes them). */
  tensors: Map<string, tf.Tensor>;
}

export interface CausalLM {
  readonly config: LlamaConfig;
  /** Every weight, HF name -> variable. `trainable` is false for frozen models (reference, compare). */
  readonly weights: Map<string, tf.Variable>;
  /** Final-norm hidden states [B, T, H]. ids [B, T] int32; attentionMask [B, T] (1 = real token, 0 = right padding). */
  hidden(ids: tf.Tensor2D, attentionMask?: tf.Tensor2D): tf.Tensor3D;
  /** Next-token logits [B, T, V]. */
  logits(ids: tf.Tensor2D, attentionMask?: tf.Tensor2D): tf.Tensor3D;
  /** Freezes or unfreezes every weight. */
  setTrainable(trainable: boolean): void;
  dispose(): void;
}
