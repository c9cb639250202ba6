/**
 * A tokenizer whose pad token is its own (Tokenizer.hasOwnPad), for models whose config.json must name a
 * pad_token_id that marks padding and nothing else: reward models, which Hugging Face's sequence classifier
 * reads at the last token that is not the pad id.
 *
 * Does: return the tokenizer unchanged when it already has its own pad (byte, llama2.c, an HF tokenizer with
 * a pad_token or an unk token that is neither BOS nor EOS), else add one (HfTokenizer.withAddedPad: GPT-2's
 * case, where padding would otherwise borrow EOS). Does NOT: resize a model (model/vocab.ts), and is not
 * applied to policies: a new token there would add a row to the LM head's softmax.
 */
import type { Tokenizer } from './types';
import { HfTokenizer } from './hf';
import { TokenizerError } from './errors';

/**
 * Example: GPT-2's tokenizer.json (pad falls back to EOS 50256) -> {tokenizer with pad 50257, added: true};
 * the byte tokenizer -> {the same object, added: false}.
 */
export function withOwnPad(tok: Tokenizer): { tokenizer: Tokenizer; added: boolean } {
  if (tok.hasOwnPad) return { tokenizer: tok, added: false };
  if (tok instanceof HfTokenizer) return { tokenizer: tok.withAddedPad(), added: true };
  throw new TokenizerError(`a ${tok.kind} tokenizer without a pad token of its own cannot be given one; use a Hugging Face tokenizer.json`);
}
