/**
 * What every model family's configuration has, named as Hugging Face's generic config attributes
 * (PretrainedConfig's: hidden_size, num_hidden_layers, ...; GPT-2 maps n_embd, n_layer, ... onto these), so code
 * that does not care which family it runs (sampling, the reward head, model cards, token-id checks) reads one
 * type. Each family extends it with its own fields and owns its config.json spelling (families/<name>/config.ts).
 *
 * Does: the common type, ConfigError, and the field readers every family's parser uses (so bounds and messages
 * read the same in every family). Does NOT: know any family (families/index.ts), or read files (io/).
 */

export interface ModelConfig {
  /** config.json's model_type: which family reads it ('llama', 'qwen2', 'gpt2'). */
  model_type: string;
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  /** The longest sequence the model takes (GPT-2's n_positions). */
  max_position_embeddings: number;
  /** Whether the LM head is the token embedding (then there is no lm_head.weight). */
  tie_word_embeddings: boolean;
  bos_token_id: number | null;
  eos_token_id: number | null;
  pad_token_id: number | null;
}

/** A preset (`--model config:NAME`): a family's config without what the tokenizer decides. */
export type PresetConfig<C extends ModelConfig = ModelConfig> = Omit<C, 'bos_token_id' | 'eos_token_id' | 'pad_token_id' | 'vocab_size'>;

export class ConfigError extends Error {}

/** Bounds on sizes: far above any model this toolkit trains, low enough that shape arithmetic stays exact. */
export const LIMITS = { maxLayers: 1024, maxWidth: 1 << 16, maxVocab: 1 << 22, maxPositions: 1 << 20 };

/** Readers of a config.json object's fields; each error names the source file and the field. */
export interface ConfigFields {
  /** The object itself. */
  o: Record<string, unknown>;
  /** An integer in [min, max]; `dflt` when the field is absent. */
  int(key: string, min: number, max: number, dflt?: number): number;
  /** A finite number > minExclusive; `dflt` when absent. */
  num(key: string, dflt: number, minExclusive: number): number;
  /** A token id (the first of a list, as HF allows for eos_token_id), or null when absent. */
  optTokenId(key: string): number | null;
}

/** Field readers over `raw` (already parsed JSON); throws unless it is an object. */
export function configFields(raw: unknown, source: string): ConfigFields {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`${source}: expected a JSON object with Hugging Face config fields`);
  }
  const o = raw as Record<string, unknown>;
  return {
    o,
    int(key, min, max, dflt) {
      const v = o[key] ?? dflt;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
        throw new ConfigError(`${source}: field "${key}" must be an integer in [${min}, ${max}]; got ${JSON.stringify(v)}`);
      }
      return v;
    },
    num(key, dflt, minExclusive) {
      const v = o[key] ?? dflt;
      if (typeof v !== 'number' || !Number.isFinite(v) || v <= minExclusive) {
        throw new ConfigError(`${source}: field "${key}" must be a number > ${minExclusive}; got ${JSON.stringify(v)}`);
      }
      return v;
    },
    optTokenId(key) {
      const v = o[key];
      if (v === undefined || v === null) return null;
      const first = Array.isArray(v) ? v[0] : v;
      if (typeof first !== 'number' || !Number.isInteger(first) || first < 0) {
        throw new ConfigError(`${source}: field "${key}" must be a non-negative integer token id; got ${JSON.stringify(v)}`);
      }
      return first;
    },
  };
}

/**
 * The error for a config.json setting a family's forward does not implement (it would load and compute something
 * else): `config.json: field "hidden_act" is "gelu"; this toolkit implements only "silu" (SwiGLU)`.
 */
export function unimplemented(source: string, field: string, value: unknown, expected: string): ConfigError {
  return new ConfigError(`${source}: field "${field}" is ${JSON.stringify(value)}; this toolkit implements only ${expected}`);
}

/** Throws when a special token id lies outside the vocabulary. */
export function checkTokenIds(cfg: ModelConfig, source: string): void {
  for (const key of ['bos_token_id', 'eos_token_id', 'pad_token_id'] as const) {
    const id = cfg[key];
    if (id !== null && id >= cfg.vocab_size) {
      throw new ConfigError(`${source}: ${key} ${id} is outside the vocabulary (vocab_size ${cfg.vocab_size})`);
    }
  }
}
