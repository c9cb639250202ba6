/** Shared bits for the model tests: tiny configs and the stories260K paths. */
import * as fs from 'fs';
import * as path from 'path';
import type { LlamaConfig } from '../../src/model/config';

export function tinyConfig(over: Partial<LlamaConfig> = {}): LlamaConfig {
  return {
    model_type: 'llama', vocab_size: 37, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2,
    num_attention_heads: 4, num_key_value_heads: 4, head_dim: 4, max_position_embeddings: 64, rms_norm_eps: 1e-5,
    rope_theta: 10000, tie_word_embeddings: true, attention_bias: false, bos_token_id: 1, eos_token_id: 2,
    pad_token_id: 0, ...over,
  };
}

export const STORIES = path.resolve(__dirname, '../../../shared/models/stories260K');
export const haveStories = fs.existsSync(path.join(STORIES, 'stories260K.bin')) && fs.existsSync(path.join(STORIES, 'hf', 'model.safetensors'));
if (!haveStories) console.warn(`SKIP stories260K model tests: ${STORIES} is absent (it ships with ../shared)`);

/**
 * Why the native decoder (native/decoder.h) cannot be tested in this run, or null when it can: it needs the
 * tensorflow backend (RLHF_BACKEND unset or tensorflow), tfjs-node and the built addon, and RLHF_NATIVE_OPS not 0.
 * Decided before the backend starts, so a suite can be skipped with a printed reason; where this says it can
 * run but the addon then fails to load, its tests fail (RLHF_NATIVE_OPS=1 in CI makes that an error anyway).
 */
export function nativeDecoderSkipReason(): string | null {
  const backend = (process.env.RLHF_BACKEND ?? '').trim().toLowerCase();
  if (backend !== '' && backend !== 'auto' && backend !== 'tensorflow') return `RLHF_BACKEND=${backend} (the native decoder runs with the tensorflow backend)`;
  if (process.env.RLHF_NATIVE_OPS === '0') return 'RLHF_NATIVE_OPS=0';
  try {
    require.resolve('@tensorflow/tfjs-node');
  } catch {
    return '@tensorflow/tfjs-node is not installed';
  }
  const addon = path.resolve(__dirname, '../../native/build/rlhf_ops.node');
  if (!fs.existsSync(addon)) return `${addon} is not built (npm run setup-native)`;
  return null;
}
