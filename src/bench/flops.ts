/**
 * FLOP counts for the benchmark's model FLOPs utilisation (MFU), in the PaLM paper's convention
 * (Chowdhery et al. 2022, appendix B): per token, a forward pass costs 2 FLOPs per weight used in a
 * matrix product plus 4·L·T·(H·d) for attention scores and their weighted sum (the full T×T square, not
 * halved for causality); a training step (forward + backward) costs 3× the forward. Norms, softmax,
 * RoPE and the optimiser are left out, as in that convention.
 *
 * e.g. PRESETS['15m'] with vocab 512 (6.12M matrix weights incl. the tied head), T = 256:
 *   training ≈ 6·6.12M + 12·6·256·288 ≈ 42.0 MFLOP per token.
 *
 * Does: count. Does NOT: measure anything (matmul.ts measures the peak).
 */
import type { LlamaConfig } from '../model/families/llama';

export type Head = 'lm' | 'score';

/** Weights that take part in matrix products per token: every layer's projections plus the head. */
export function matmulWeights(c: LlamaConfig, head: Head): number {
  const D = c.hidden_size;
  const q = c.num_attention_heads * c.head_dim;
  const kv = c.num_key_value_heads * c.head_dim;
  const perLayer = D * q + 2 * D * kv + q * D + 3 * D * c.intermediate_size;
  return c.num_hidden_layers * perLayer + (head === 'lm' ? c.vocab_size * D : D);
}

/** Forward FLOPs per token at sequence length T. */
export function forwardFlopsPerToken(c: LlamaConfig, T: number, head: Head): number {
  return 2 * matmulWeights(c, head) + 4 * c.num_hidden_layers * T * c.num_attention_heads * c.head_dim;
}

/** Training (forward + backward) FLOPs per token: 3× forward ≈ 6·N + 12·L·T·H·d. */
export function trainFlopsPerToken(c: LlamaConfig, T: number, head: Head): number {
  return 3 * forwardFlopsPerToken(c, T, head);
}
