/**
 * The GPT-2 family's configuration. config.json uses GPT-2's own names (n_embd, n_layer, n_head, n_positions,
 * n_inner, layer_norm_epsilon); in memory the common fields carry the generic names transformers maps them to
 * (GPT2Config.attribute_map: hidden_size = n_embd, num_hidden_layers = n_layer, num_attention_heads = n_head,
 * max_position_embeddings = n_positions), so shared code reads every family alike. Either spelling is read.
 *
 * Refused, with the field named (they would load and compute something else): activations other than the tanh
 * GELU ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"), scale_attn_weights false, scale_attn_by_inverse_layer_idx,
 * cross-attention. reorder_and_upcast_attn is read and ignored: it changes only mixed-precision rounding, and this
 * toolkit computes in float32. Dropout rates (resid_pdrop, embd_pdrop, attn_pdrop) are ignored: this toolkit
 * trains every family without dropout, and the config.json it writes sets them to 0.
 *
 * Does: parse and validate a config.json object, write one back, the preset. Does NOT: read files (io/).
 */
import { ConfigError, LIMITS, checkTokenIds, configFields, unimplemented, type ModelConfig, type PresetConfig } from '../../config';

export const GPT2_ACTIVATIONS = ['gelu_new', 'gelu_pytorch_tanh', 'gelu_fast'] as const;

export interface GPT2Config extends ModelConfig {
  model_type: 'gpt2';
  /** The MLP's width; HF's n_inner, null there meaning 4 · n_embd (filled in here). */
  n_inner: number;
  layer_norm_epsilon: number;
  /** One of the tanh-approximated GELUs (same function, transformers' names for it). */
  activation_function: (typeof GPT2_ACTIVATIONS)[number];
}

/** Validates an HF GPT-2 config.json object and fills GPT2Config's defaults. `source` names the file in errors. */
export function parseGPT2Config(raw: unknown, source = 'config.json'): GPT2Config {
  const given = configFields(raw, source).o;
  if ((given.model_type ?? 'gpt2') !== 'gpt2') {
    throw new ConfigError(`${source}: model_type ${JSON.stringify(given.model_type)} is not GPT-2's; expected "gpt2"`);
  }
  refuseUnimplemented(given, source);
  // GPT-2's names win over the generic ones, as transformers' attribute_map makes them the same attribute.
  const alias = (gpt2: string, generic: string) => given[gpt2] ?? given[generic];
  const { int, num, optTokenId } = configFields({
    ...given, n_embd: alias('n_embd', 'hidden_size'), n_layer: alias('n_layer', 'num_hidden_layers'),
    n_head: alias('n_head', 'num_attention_heads'), n_positions: alias('n_positions', 'max_position_embeddings'),
    n_inner: given.n_inner ?? undefined,
  }, source);
  const hidden = int('n_embd', 1, LIMITS.maxWidth, 768);
  const heads = int('n_head', 1, LIMITS.maxWidth, 12);
  if (hidden % heads !== 0) throw new ConfigError(`${source}: n_embd ${hidden} is not divisible by n_head ${heads}`);
  const vocab = int('vocab_size', 1, LIMITS.maxVocab, 50257);
  // GPT2Config's default special id (50256, <|endoftext|>) names a token only in GPT-2's own vocabulary; in a
  // smaller one (transformers' test configs leave it set) it names nothing, so it is not taken over there.
  const special = (key: string) => (key in given ? optTokenId(key) : vocab > 50256 ? 50256 : null);
  const cfg: GPT2Config = {
    model_type: 'gpt2',
    vocab_size: vocab,
    hidden_size: hidden,
    num_hidden_layers: int('n_layer', 1, LIMITS.maxLayers, 12),
    num_attention_heads: heads,
    max_position_embeddings: int('n_positions', 1, LIMITS.maxPositions, 1024),
    n_inner: int('n_inner', 1, LIMITS.maxWidth * 8, 4 * hidden),
    layer_norm_epsilon: num('layer_norm_epsilon', 1e-5, 0),
    activation_function: (given.activation_function ?? 'gelu_new') as GPT2Config['activation_function'],
    tie_word_embeddings: Boolean(given.tie_word_embeddings ?? true),
    bos_token_id: special('bos_token_id'),
    eos_token_id: special('eos_token_id'),
    pad_token_id: optTokenId('pad_token_id'),
  };
  checkTokenIds(cfg, source);
  return cfg;
}

/** Throws ConfigError naming the first setting this forward does not implement. */
function refuseUnimplemented(raw: Record<string, unknown>, source: string): void {
  const unsupported = (field: string, value: unknown, expected: string): never => {
    throw unimplemented(source, field, value, expected);
  };
  const act = raw.activation_function ?? 'gelu_new';
  if (!(GPT2_ACTIVATIONS as readonly unknown[]).includes(act)) unsupported('activation_function', act, GPT2_ACTIVATIONS.map((a) => `"${a}"`).join(', ') + ' (GELU, tanh approximation)');
  if (raw.scale_attn_weights === false) unsupported('scale_attn_weights', false, 'true (scores scaled by 1/√head_dim)');
  if (raw.scale_attn_by_inverse_layer_idx === true) unsupported('scale_attn_by_inverse_layer_idx', true, 'false');
  if (raw.add_cross_attention === true) unsupported('add_cross_attention', true, 'false (a decoder-only model)');
}

/** config.json's fields for GPT2LMHeadModel / GPT2ForSequenceClassification, in GPT-2's spelling. */
export function gpt2HfConfig(cfg: GPT2Config): Record<string, unknown> {
  return {
    model_type: 'gpt2', vocab_size: cfg.vocab_size, n_embd: cfg.hidden_size, n_layer: cfg.num_hidden_layers, n_head: cfg.num_attention_heads,
    n_positions: cfg.max_position_embeddings, n_inner: cfg.n_inner, activation_function: cfg.activation_function,
    layer_norm_epsilon: cfg.layer_norm_epsilon, tie_word_embeddings: cfg.tie_word_embeddings,
    bos_token_id: cfg.bos_token_id, eos_token_id: cfg.eos_token_id, pad_token_id: cfg.pad_token_id,
    scale_attn_weights: true, scale_attn_by_inverse_layer_idx: false, reorder_and_upcast_attn: false,
    resid_pdrop: 0.0, embd_pdrop: 0.0, attn_pdrop: 0.0, initializer_range: 0.02, torch_dtype: 'float32',
  };
}

/** `--model config:gpt2-tiny`: a 2-layer GPT-2 for tests (with the byte tokenizer ~0.1M parameters; GPT-2's own vocabulary adds 1.6M). */
export const GPT2_PRESETS: Record<string, PresetConfig<GPT2Config>> = {
  'gpt2-tiny': {
    model_type: 'gpt2', hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, max_position_embeddings: 512,
    n_inner: 128, layer_norm_epsilon: 1e-5, activation_function: 'gelu_new', tie_word_embeddings: true,
  },
};
