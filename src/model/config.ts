/**
 * Model configuration, spelled with Hugging Face's config.json names so a checkpoint's config.json
 * is this object verbatim (plus `architectures`). Llama family first; `model_type` leaves room for GPT-2.
 *
 * Does: parse and validate a config.json object. Does NOT: read files (see io/) or build weights.
 */

export interface LlamaConfig {
  model_type: 'llama' | 'qwen2';
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  /** Per-head width; HF defaults it to hidden_size / num_attention_heads. */
  head_dim: number;
  max_position_embeddings: number;
  rms_norm_eps: number;
  rope_theta: number;
  tie_word_embeddings: boolean;
  /** q/k/v projection biases (Qwen2 sets these; Llama does not). */
  attention_bias: boolean;
  bos_token_id: number | null;
  eos_token_id: number | null;
  pad_token_id: number | null;
}

export class ConfigError extends Error {}

const LIMITS = { maxLayers: 1024, maxWidth: 1 << 16, maxVocab: 1 << 22, maxPositions: 1 << 20 };

/** Validates an HF config.json object (already parsed) and fills HF's defaults. `source` names the file in errors. */
export function parseLlamaConfig(raw: unknown, source = 'config.json'): LlamaConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`${source}: expected a JSON object with Hugging Face config fields`);
  }
  const o = raw as Record<string, unknown>;
  const type = (o.model_type ?? 'llama') as string;
  if (type !== 'llama' && type !== 'qwen2') {
    throw new ConfigError(`${source}: model_type "${type}" is not supported; expected "llama" or "qwen2"`);
  }
  const int = (key: string, min: number, max: number, dflt?: number): number => {
    const v = o[key] ?? dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new ConfigError(`${source}: field "${key}" must be an integer in [${min}, ${max}]; got ${JSON.stringify(v)}`);
    }
    return v;
  };
  const num = (key: string, dflt: number, minExclusive: number): number => {
    const v = o[key] ?? dflt;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= minExclusive) {
      throw new ConfigError(`${source}: field "${key}" must be a number > ${minExclusive}; got ${JSON.stringify(v)}`);
    }
    return v;
  };
  const optTokenId = (key: string): number | null => {
    const v = o[key];
    if (v === undefined || v === null) return null;
    const first = Array.isArray(v) ? v[0] : v;
    if (typeof first !== 'number' || !Number.isInteger(first) || first < 0) {
      throw new ConfigError(`${source}: field "${key}" must be a non-negative integer token id; got ${JSON.stringify(v)}`);
    }
    return first;
  };
  const hidden = int('hidden_size', 1, LIMITS.maxWidth);
  const heads = int('num_attention_heads', 1, LIMITS.maxWidth);
  const kvHeads = int('num_key_value_heads', 1, LIMITS.maxWidth, heads);
  if (o.head_dim === undefined && hidden % heads !== 0) {
    throw new ConfigError(`${source}: hidden_size ${hidden} is not divisible by num_attention_heads ${heads}`);
  }
  const headDim = int('head_dim', 1, LIMITS.maxWidth, hidden / heads);
  if (headDim % 2 !== 0) throw new ConfigError(`${source}: head_dim ${headDim} must be even for RoPE`);
  if (heads % kvHeads !== 0) {
    throw new ConfigError(`${source}: num_attention_heads ${heads} is not a multiple of num_key_value_heads ${kvHeads}`);
  }
  const cfg: LlamaConfig = {
    model_type: type,
    vocab_size: int('vocab_size', 1, LIMITS.maxVocab),
    hidden_size: hidden,
    intermediate_size: int('intermediate_size', 1, LIMITS.maxWidth * 8),
    num_hidden_layers: int('num_hidden_layers', 1, LIMITS.maxLayers),
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    head_dim: headDim,
    max_position_embeddings: int('max_position_embeddings', 1, LIMITS.maxPositions, 2048),
    rms_norm_eps: num('rms_norm_eps', 1e-6, 0),
    rope_theta: num('rope_theta', 10000, 0),
    tie_word_embeddings: Boolean(o.tie_word_embeddings ?? false),
    attention_bias: Boolean(o.attention_bias ?? type === 'qwen2'),
    bos_token_id: optTokenId('bos_token_id'),
    eos_token_id: optTokenId('eos_token_id'),
    pad_token_id: optTokenId('pad_token_id'),
  };
  for (const key of ['bos_token_id', 'eos_token_id', 'pad_token_id'] as const) {
    const id = cfg[key];
    if (id !== null && id >= cfg.vocab_size) {
      throw new ConfigError(`${source}: ${key} ${id} is outside the vocabulary (vocab_size ${cfg.vocab_size})`);
    }
  }
  return cfg;
}

/** The config.json object a Hugging Face user expects (LlamaForCausalLM / Qwen2ForCausalLM). */
export function toHfConfigJson(cfg: LlamaConfig, architecture?: string): Record<string, unknown> {
  const arch = architecture ?? (cfg.model_type === 'qwen2' ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM');
  return {
    architectures: [arch],
    ...cfg,
    hidden_act: 'silu',
    initializer_range: 0.02,
    attention_dropout: 0.0,
    mlp_bias: false,
    torch_dtype: 'float32',
  };
}

/** Named presets for `--model config:NAME` (training from scratch). */
export const PRESETS: Record<string, Omit<LlamaConfig, 'bos_token_id' | 'eos_token_id' | 'pad_token_id' | 'vocab_size'>> = {
  // ~0.2M params: unit tests and the quickstart.
  tiny: {
    model_type: 'llama', hidden_size: 64, intermediate_size: 172, num_hidden_layers: 2, num_attention_heads: 4,
    num_key_value_heads: 2, head_dim: 16, max_position_embeddings: 512, rms_norm_eps: 1e-5, rope_theta: 10000,
    tie_word_embeddings: true, attention_bias: false,
  },
  // llama2.c's stories15M architecture, the performance issue's benchmark model. With a 512-token
  // vocabulary it has 6.1M parameters (stories15M reaches 15M through its 32,000-token embedding).
  '15m': {
    model_type: 'llama', hidden_size: 288, intermediate_size: 768, num_hidden_layers: 6, num_attention_heads: 6,
    num_key_value_heads: 6, head_dim: 48, max_position_embeddings: 1024, rms_norm_eps: 1e-5, rope_theta: 10000,
    tie_word_embeddings: true, attention_bias: false,
  },
};
