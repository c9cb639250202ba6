/**
 * The seam between the shared model machinery and one model family (families/<name>/): a family is a value,
 * not a class hierarchy. It owns its config.json (parsing, defaults, what it refuses, how it is written back),
 * its weight table, Hugging Face's class names for it, the forward pieces that differ (embedding, blocks, final
 * norm) and which fused kernels apply to it. Everything else (the attention core, the KV cache, batched and
 * cached forwards, heads, log-probs, the reward model, sampling) is shared and written once, in model/.
 *
 * Adding a family: a folder with its config, weights and model, and one line in families/index.ts.
 *
 * Does: declare the contract. Does NOT: implement any family, or hold the registry (families/index.ts).
 */
import type * as tf from '@tensorflow/tfjs';
import type { FusedOp } from '../backend/ops';
import type { ModelConfig, PresetConfig } from './config';
import type { BlockContext, DecoderBlock } from './layers';
import type { WeightSpec } from './weights';

/**
 * Where a forward's tokens sit. `offset`: every row at positions offset..offset+T-1 (a training or scoring
 * forward, offset 0; a cached step of unpadded rows). `rows`: one position per token, [B·T] row-major (a
 * left-padded batch, each row counting its own real tokens, as Hugging Face's generate does).
 */
export type Positions = { offset: number; T: number } | { B: number; T: number; rows: Int32Array };

/** The parts of a forward pass a family computes its own way, over the model's variables. */
export interface FamilyNet {
  readonly blocks: DecoderBlock[];
  /** ids [B, T] at `at` -> x [B, T, D]: token embeddings, plus learned position embeddings where the family has them. */
  embed(ids: tf.Tensor2D, at: Positions): tf.Tensor3D;
  /** What the blocks need about positions besides the bias: RoPE tables, or nothing (learned positions). */
  positional(at: Positions): Pick<BlockContext, 'rope'>;
  /** The final normalisation: x [B, T, D] -> h [B, T, D]. */
  finalNorm(x: tf.Tensor3D): tf.Tensor3D;
  /** Frees what it keeps besides the weights (RoPE tables). */
  dispose(): void;
}

export interface ModelFamily<C extends ModelConfig = ModelConfig> {
  /** Short name, as summaries and `rlhf env` print it: 'llama', 'gpt2'. */
  readonly name: string;
  /** config.json model_type values this family reads (the registry's key). */
  readonly modelTypes: readonly string[];
  /**
   * Validates a config.json object in Hugging Face's spelling, fills HF's defaults, and refuses (ConfigError
   * naming the field) any setting the family's forward does not implement, rather than computing something else.
   */
  parseConfig(raw: Record<string, unknown>, source: string): C;
  /** config.json's fields in HF's spelling for this family (architectures and head fields are added by the caller). */
  toHfConfig(config: C): Record<string, unknown>;
  /** HF's class names for this config: `LlamaForCausalLM` / `GPT2LMHeadModel`, `...ForSequenceClassification`. */
  architectures(config: C): { causalLM: string; sequenceClassification: string };
  /** Every backbone weight (HF names, shapes, initialisers), in HF's order; heads are added by weights.ts. */
  backboneWeights(config: C): WeightSpec[];
  /** The token embedding's name (the tied LM head; grown for an added pad token). */
  readonly embeddingWeight: string;
  /** Names HF checkpoints may carry that hold nothing the forward needs (buffers): dropped on load, with a warning. */
  readonly ignorable: readonly RegExp[];
  /** Maps other spellings HF accepts for a weight onto ours (GPT-2's unprefixed `h.0....` names); identity when absent. */
  canonicalName?(name: string): string;
  /** The forward pieces over the model's weights (looked up by HF name). */
  build(config: C, weight: (name: string) => tf.Variable): FamilyNet;
  /** The fused kernels (backend/ops.ts) that can compute this family's training step; the rest stays TF.js ops. */
  readonly fusedOps: readonly FusedOp[];
  /** `--model config:NAME` presets of this family. */
  readonly presets: Readonly<Record<string, PresetConfig<C>>>;
}
