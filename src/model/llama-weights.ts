/**
 * The Llama family's weight table: every Hugging Face tensor name with its shape and initialiser,
 * derived from the config alone. One table serves validation of loaded weights and random init,
 * so the two can never disagree.
 *
 * Does: list names/shapes, check a bundle against them, make seeded random tensors.
 * Does NOT: read files (io/) or run the forward pass (llama.ts).
 */
import * as tf from '@tensorflow/tfjs';
import type { LlamaConfig } from './config';
import { ModelError } from './errors';
import { Rng } from './rng';

export type Init = 'normal' | 'ones' | 'zeros';

export interface WeightSpec {
  name: string;
  shape: number[];
  init: Init;
}

/** HF layer prefix: `layerPrefix(3)` -> `model.layers.3`. */
export const layerPrefix = (i: number): string => `model.layers.${i}`;

/**
 * Every weight a LlamaForCausalLM with this config has, in HF's order. Linear weights are [out, in].
 * withHead = false: the bare LlamaModel (what LlamaForSequenceClassification wraps), no lm_head.
 * e.g. tiny config -> model.embed_tokens.weight [V, 64], model.layers.0.input_layernorm.weight [64], ...
 */
export function llamaWeightSpecs(cfg: LlamaConfig, withHead = true): WeightSpec[] {
  const D = cfg.hidden_size;
  const qDim = cfg.num_attention_heads * cfg.head_dim;
  const kvDim = cfg.num_key_value_heads * cfg.head_dim;
  const F = cfg.intermediate_size;
  const specs: WeightSpec[] = [{ name: 'model.embed_tokens.weight', shape: [cfg.vocab_size, D], init: 'normal' }];
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    const p = layerPrefix(i);
    specs.push({ name: `${p}.input_layernorm.weight`, shape: [D], init: 'ones' });
    for (const [proj, out] of [['q', qDim], ['k', kvDim], ['v', kvDim]] as const) {
      specs.push({ name: `${p}.self_attn.${proj}_proj.weight`, shape: [out, D], init: 'normal' });
      if (cfg.attention_bias) specs.push({ name: `${p}.self_attn.${proj}_proj.bias`, shape: [out], init: 'zeros' });
    }
    specs.push({ name: `${p}.self_attn.o_proj.weight`, shape: [D, qDim], init: 'normal' });
    specs.push({ name: `${p}.post_attention_layernorm.weight`, shape: [D], init: 'ones' });
    specs.push({ name: `${p}.mlp.gate_proj.weight`, shape: [F, D], init: 'normal' });
    specs.push({ name: `${p}.mlp.up_proj.weight`, shape: [F, D], init: 'normal' });
    specs.push({ name: `${p}.mlp.down_proj.weight`, shape: [D, F], init: 'normal' });
  }
  specs.push({ name: 'model.norm.weight', shape: [D], init: 'ones' });
  if (withHead && !cfg.tie_word_embeddings) specs.push({ name: 'lm_head.weight', shape: [cfg.vocab_size, D], init: 'normal' });
  return specs;
}

/** Names HF checkpoints may carry that hold no information for us (dropped on load). */
const IGNORABLE = [/^model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq$/];

/**
 * Checks `tensors` against the specs; returns them in spec order. Drops `lm_head.weight` when the
 * head is tied (HF sometimes saves both) and the ignorable RoPE buffers, disposing them.
 * Throws ModelError naming every missing, unexpected or mis-shaped tensor.
 */
export function checkWeights(specs: WeightSpec[], tensors: Map<string, tf.Tensor>, source: string): Map<string, tf.Tensor> {
  const problems: string[] = [];
  const expected = new Set(specs.map((s) => s.name));
  const droppable = (name: string) => name === 'lm_head.weight' || IGNORABLE.some((re) => re.test(name));
  for (const s of specs) {
    const t = tensors.get(s.name);
    if (!t) problems.push(`missing "${s.name}" (expected shape [${s.shape}])`);
    else if (t.shape.length !== s.shape.length || t.shape.some((d, k) => d !== s.shape[k])) {
      problems.push(`"${s.name}" has shape [${t.shape}]; expected [${s.shape}]`);
    }
  }
  for (const name of tensors.keys()) {
    if (!expected.has(name) && !droppable(name)) {
      const hint = name === 'score.weight' ? ' (a reward head: load it with RewardModel.fromWeights)' : '';
      problems.push(`unexpected tensor "${name}"${hint}`);
    }
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 8).join('; ');
    const more = problems.length > 8 ? `; and ${problems.length - 8} more` : '';
    throw new ModelError(`${source}: weights do not match the config: ${shown}${more}. ` +
      'Check that config.json belongs to these weights (hidden_size, num_key_value_heads, tie_word_embeddings, attention_bias).');
  }
  const ordered = new Map<string, tf.Tensor>();
  for (const s of specs) ordered.set(s.name, tensors.get(s.name)!);
  for (const [name, t] of tensors) if (!expected.has(name)) t.dispose();
  return ordered;
}

/** Seeded tensors for the specs: normal(0, std) for projections/embeddings, ones for norms, zeros for biases. */
export function randomTensors(specs: WeightSpec[], rng: Rng, std: number): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  for (const s of specs) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const values = s.init === 'normal' ? rng.normals(n, std) : new Float32Array(n).fill(s.init === 'ones' ? 1 : 0);
    out.set(s.name, tf.tensor(values, s.shape, 'float32'));
  }
  return out;
}
