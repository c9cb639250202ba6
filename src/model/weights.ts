/**
 * Weight tables: every Hugging Face tensor name a model has, with its shape and initialiser, derived from the
 * config alone. A family lists its backbone (families/<name>/weights.ts); the heads are the same for every
 * family (`lm_head.weight` [V, H] when untied, `score.weight` [num_labels, H] for a sequence classifier), so
 * they are added here. One table serves validation of loaded weights, checkpoint saving and random init, so
 * those can never disagree.
 *
 * Does: list names/shapes, check a bundle against them, make seeded random tensors.
 * Does NOT: read files (io/) or run the forward pass (language-model.ts).
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from './config';
import { ModelError } from './errors';
import { Rng } from './rng';

export type Init = 'normal' | 'ones' | 'zeros';

export interface WeightSpec {
  name: string;
  shape: number[];
  init: Init;
  /** Multiplies the normal init's std (GPT-2's residual projections: 1/√(2·n_layer)). @default 1 */
  stdScale?: number;
}

export const LM_HEAD_WEIGHT = 'lm_head.weight';
export const SCORE_WEIGHT = 'score.weight';

/** Which head sits on the backbone: next-token logits, a sequence-classification (reward) score, or none. */
export type ModelHead = 'causal_lm' | 'sequence_classification';
export type WeightHead = ModelHead | 'backbone';

/**
 * The backbone's specs plus the head's: `lm_head.weight` [V, H] for an untied causal LM, `score.weight`
 * [numLabels, H] (no bias, HF's layout in every family) for a sequence classifier, nothing for a bare backbone.
 */
export function withHead(backbone: WeightSpec[], cfg: ModelConfig, head: WeightHead, numLabels = 1): WeightSpec[] {
  if (head === 'sequence_classification') return [...backbone, { name: SCORE_WEIGHT, shape: [numLabels, cfg.hidden_size], init: 'normal' }];
  if (head === 'causal_lm' && !cfg.tie_word_embeddings) return [...backbone, { name: LM_HEAD_WEIGHT, shape: [cfg.vocab_size, cfg.hidden_size], init: 'normal' }];
  return backbone;
}

/**
 * Checks `tensors` against the specs; returns them in spec order. Drops `lm_head.weight` when the head is tied
 * (HF sometimes saves both) and the names `ignorable` matches (buffers HF checkpoints carry, such as RoPE tables
 * or GPT-2's causal-mask buffers), disposing them. Throws ModelError naming every missing, unexpected or
 * mis-shaped tensor.
 */
export function checkWeights(specs: WeightSpec[], tensors: Map<string, tf.Tensor>, source: string, ignorable: readonly RegExp[] = []): Map<string, tf.Tensor> {
  const problems: string[] = [];
  const expected = new Set(specs.map((s) => s.name));
  const droppable = (name: string) => name === LM_HEAD_WEIGHT || ignorable.some((re) => re.test(name));
  for (const s of specs) {
    const t = tensors.get(s.name);
    if (!t) problems.push(`missing "${s.name}" (expected shape [${s.shape}])`);
    else if (t.shape.length !== s.shape.length || t.shape.some((d, k) => d !== s.shape[k])) {
      problems.push(`"${s.name}" has shape [${t.shape}]; expected [${s.shape}]`);
    }
  }
  for (const name of tensors.keys()) {
    if (!expected.has(name) && !droppable(name)) {
      const hint = name === SCORE_WEIGHT ? ' (a reward head: load it with RewardModel.fromWeights)' : '';
      problems.push(`unexpected tensor "${name}"${hint}`);
    }
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 8).join('; ');
    const more = problems.length > 8 ? `; and ${problems.length - 8} more` : '';
    throw new ModelError(`${source}: weights do not match the config: ${shown}${more}. ` +
      'Check that config.json belongs to these weights (its sizes, tie_word_embeddings and the family\'s options such as attention_bias).');
  }
  const ordered = new Map<string, tf.Tensor>();
  for (const s of specs) ordered.set(s.name, tensors.get(s.name)!);
  for (const [name, t] of tensors) if (!expected.has(name)) t.dispose();
  return ordered;
}

/** Seeded tensors for the specs: normal(0, std·stdScale) for projections/embeddings, ones for norms, zeros for biases. */
export function randomTensors(specs: WeightSpec[], rng: Rng, std: number): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  for (const s of specs) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const values = s.init === 'normal' ? rng.normals(n, std * (s.stdScale ?? 1)) : new Float32Array(n).fill(s.init === 'ones' ? 1 : 0);
    out.set(s.name, tf.tensor(values, s.shape, 'float32'));
  }
  return out;
}
