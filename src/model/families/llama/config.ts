/**
 * The Llama family's configuration (Llama, and Qwen2 with its q/k/v biases), spelled with Hugging Face's
 * config.json names so a checkpoint's config.json is this object verbatim (plus architectures and HF's fixed
 * fields).
 *
 * Refused, with the field named (they would load and silently compute something else): RoPE scaling of any
 * type but "default", any activation but SiLU, MLP biases, sliding-window attention, an odd head size.
 * Read: transformers 5's `rope_parameters: {rope_theta, rope_type}` spelling of rope_theta.
 *
 * Does: parse and validate a config.json object, write one back, the presets. Does NOT: read files (io/).
 */
import { ConfigError, LIMITS, checkTokenIds, configFields, unimplemented, type ModelConfig, type PresetConfig } from '../../config';

export interface LlamaConfig extends ModelConfig {
  model_type: 'llama' | 'qwen2';
  intermediate_size: number;
  num_key_value_heads: number;
  /** Per-head width; HF defaults it to hidden_size / num_attention_heads. */
  head_dim: number;
  rms_norm_eps: number;
  rope_theta: number;
  /** q/k/v projection biases (Qwen2 sets these; Llama does not). */
  attention_bias: boolean;
}

/** Validates an HF config.json object (already parsed) and fills HF's defaults. `source` names the file in errors. */
export function parseLlamaConfig(raw: unknown, source = 'config.json'): LlamaConfig {
  const given = configFields(raw, source).o;
  const type = (given.model_type ?? 'llama') as string;
  if (type !== 'llama' && type !== 'qwen2') {
    throw new ConfigError(`${source}: model_type "${type}" is not supported; expected "llama" or "qwen2"`);
  }
  const { o, int, num, optTokenId } = configFields({ ...given, rope_theta: refuseUnimplemented(given, source) }, source);
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
  checkTokenIds(cfg, source);
  return cfg;
}

/**
 * Refuses the settings our forward does not implement and returns rope_theta as config.json gives it, in either
 * spelling. Example: transformers 5 writes `rope_parameters: {rope_theta: 500000, rope_type: "default"}` instead
 * of `rope_theta` -> 500000. A `rope_scaling` of type "llama3" -> error.
 */
function refuseUnimplemented(raw: Record<string, unknown>, source: string): unknown {
  const unsupported = (field: string, value: unknown, expected: string): never => {
    throw unimplemented(source, field, value, expected);
  };
  let theta = raw.rope_theta;
  for (const key of ['rope_parameters', 'rope_scaling']) {
    const rp = raw[key];
    if (rp === undefined || rp === null) continue;
    if (typeof rp !== 'object' || Array.isArray(rp)) unsupported(key, rp, 'an object {rope_type: "default", rope_theta}');
    const o = rp as Record<string, unknown>;
    const type = o.rope_type ?? o.type ?? 'default';
    if (type !== 'default') unsupported(`${key}.rope_type`, type, '"default" RoPE (no scaling)');
    if (o.rope_theta !== undefined) {
      if (raw.rope_theta !== undefined && raw.rope_theta !== o.rope_theta) {
        throw new ConfigError(`${source}: rope_theta ${JSON.stringify(raw.rope_theta)} disagrees with ${key}.rope_theta ${JSON.stringify(o.rope_theta)}`);
      }
      theta = o.rope_theta;
    }
  }
  if (raw.hidden_act !== undefined && raw.hidden_act !== 'silu') unsupported('hidden_act', raw.hidden_act, '"silu" (SwiGLU)');
  if (raw.mlp_bias !== undefined && raw.mlp_bias !== false) unsupported('mlp_bias', raw.mlp_bias, 'false');
  if (raw.use_sliding_window === true) unsupported('use_sliding_window', true, 'full attention (false)');
  return theta;
}

/** config.json's fields for LlamaForCausalLM / Qwen2ForCausalLM (and their sequence classifiers). */
export function llamaHfConfig(cfg: LlamaConfig): Record<string, unknown> {
  return { ...cfg, hidden_act: 'silu', initializer_range: 0.02, attention_dropout: 0.0, mlp_bias: false, torch_dtype: 'float32' };
}

/** Named presets for `--model config:NAME` (training from scratch). */
export const LLAMA_PRESETS: Record<string, PresetConfig<LlamaConfig>> = {
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
