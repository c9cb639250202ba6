/**
 * Giving a model's weights a pad token of their own: config.pad_token_id set to it, and the embedding (and
 * an untied LM head) grown with zero rows when the id lies past vocab_size, as transformers'
 * `model.resize_token_embeddings(len(tokenizer))` does after `tokenizer.add_special_tokens({"pad_token": ...})`.
 *
 * Why: a Hugging Face sequence classifier reads the score at the last token that is not config.pad_token_id
 * and builds its nn.Embedding with padding_idx = pad_token_id (that row never trains). With pad = EOS it reads
 * the token before a trailing EOS and freezes EOS; with a pad id that only ever marks padding, both are moot.
 * The new rows are zero (nn.Embedding's own padding_idx init); a reward model never reads them for a real
 * position, so its scores do not change.
 *
 * Does NOT: change a tokenizer (tokenizer/pad.ts does) or touch any other weight.
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from './config';
import type { WeightBundle } from './types';
import { ModelError } from './errors';
import { familyOf } from './families';
import { LM_HEAD_WEIGHT } from './weights';

/** The Llama family's token embedding (each family names its own: `familyOf(config).embeddingWeight`). */
export const EMBEDDING_WEIGHT = 'model.embed_tokens.weight';

/**
 * Takes ownership of the bundle and returns one whose config has pad_token_id = padTokenId and
 * vocab_size >= padTokenId + 1. Example (GPT-2): vocab_size 50257, padTokenId 50257 -> vocab_size 50258,
 * transformer.wte [50258, H] with row 50257 all zeros; every other tensor is passed through untouched.
 */
export function withPadToken<C extends ModelConfig>(bundle: WeightBundle<C>, padTokenId: number): WeightBundle<C> {
  const { config } = bundle;
  if (!Number.isInteger(padTokenId) || padTokenId < 0) {
    throw new ModelError(`withPadToken: the pad token id must be a non-negative integer; got ${padTokenId}`);
  }
  const size = Math.max(config.vocab_size, padTokenId + 1);
  const tensors = new Map(bundle.tensors);
  if (size > config.vocab_size) {
    for (const name of [familyOf(config).embeddingWeight, LM_HEAD_WEIGHT]) {
      const w = tensors.get(name);
      if (!w) continue; // lm_head: tied, or a headless backbone
      tensors.set(name, tf.tidy(() => tf.concat([w, tf.zeros([size - w.shape[0], w.shape[1]!])], 0)));
      w.dispose();
    }
  }
  return { config: { ...config, vocab_size: size, pad_token_id: padTokenId }, tensors };
}
