/**
 * The GPT-2 family's weight table: every backbone tensor of a Hugging Face GPT2Model, with HF's names and
 * shapes. GPT-2's projections are Conv1D modules, which store their weight as [in, out] (the transpose of
 * nn.Linear's [out, in]); the table keeps that layout, and the forward multiplies without transposing, so a
 * checkpoint is HF safetensors verbatim in both directions. Example (gpt2-tiny, n_embd 32, n_inner 128):
 * transformer.wte.weight [V, 32], transformer.wpe.weight [512, 32], transformer.h.0.ln_1.weight [32],
 * transformer.h.0.attn.c_attn.weight [32, 96], ..., transformer.h.0.mlp.c_proj.weight [128, 32], transformer.ln_f.bias [32].
 *
 * HF's own GPT-2 checkpoints (the original `gpt2` upload) name the same tensors without the `transformer.`
 * prefix (`h.0.attn.c_attn.weight`, `wte.weight`); canonicalGPT2Name reads those as ours.
 *
 * Does: list names and shapes, map the unprefixed spelling. Does NOT: read files or make tensors (weights.ts).
 */
import type { WeightSpec } from '../../weights';
import type { GPT2Config } from './config';

export const GPT2_EMBEDDING = 'transformer.wte.weight';
export const GPT2_POSITIONS = 'transformer.wpe.weight';

/** HF layer prefix: `gpt2LayerPrefix(3)` -> `transformer.h.3`. */
export const gpt2LayerPrefix = (i: number): string => `transformer.h.${i}`;

/** The bare GPT2Model's weights in HF's order. Initialisers as GPT-2's: residual projections scaled by 1/√(2·n_layer). */
export function gpt2BackboneWeights(cfg: GPT2Config): WeightSpec[] {
  const D = cfg.hidden_size;
  const F = cfg.n_inner;
  const residual = 1 / Math.sqrt(2 * cfg.num_hidden_layers);
  const specs: WeightSpec[] = [
    { name: GPT2_EMBEDDING, shape: [cfg.vocab_size, D], init: 'normal' },
    { name: GPT2_POSITIONS, shape: [cfg.max_position_embeddings, D], init: 'normal' },
  ];
  const layerNorm = (name: string) => specs.push({ name: `${name}.weight`, shape: [D], init: 'ones' }, { name: `${name}.bias`, shape: [D], init: 'zeros' });
  const conv1d = (name: string, inDim: number, outDim: number, stdScale = 1) =>
    specs.push({ name: `${name}.weight`, shape: [inDim, outDim], init: 'normal', stdScale }, { name: `${name}.bias`, shape: [outDim], init: 'zeros' });
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    const p = gpt2LayerPrefix(i);
    layerNorm(`${p}.ln_1`);
    conv1d(`${p}.attn.c_attn`, D, 3 * D);
    conv1d(`${p}.attn.c_proj`, D, D, residual);
    layerNorm(`${p}.ln_2`);
    conv1d(`${p}.mlp.c_fc`, D, F);
    conv1d(`${p}.mlp.c_proj`, F, D, residual);
  }
  layerNorm('transformer.ln_f');
  return specs;
}

/** Buffers GPT-2 checkpoints carry (the causal-mask tables of older transformers): nothing to load. */
export const GPT2_IGNORABLE = [/(^|\.)h\.\d+\.(attn|crossattention)\.(bias|masked_bias)$/];

/** `h.0.attn.c_attn.weight` -> `transformer.h.0.attn.c_attn.weight`, `wte.weight` -> `transformer.wte.weight`; others unchanged. */
export function canonicalGPT2Name(name: string): string {
  return /^(wte|wpe|ln_f|h\.\d+)\./.test(name) ? `transformer.${name}` : name;
}
