/**
 * The one tokenizer interface the data layer, models and CLI see. Implementations: byte-level
 * (byte.ts), llama2.c's tokenizer.bin (llama2c.ts), Hugging Face tokenizer.json (hf.ts).
 */
export interface Tokenizer {
  /** Short kind name, written into rlhf.json: 'byte' | 'llama2c' | 'hf'. */
  readonly kind: string;
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosId: number | null;
  /** Token used for right padding; masked out everywhere it appears. */
  readonly padId: number;
  /**
   * True when padId is a token of its own: not BOS or EOS, and not a token that ordinary text encodes to.
   * False when padding borrows EOS or a real token (a GPT-2 tokenizer has no pad and no unk): harmless
   * here, where pads are masked, but a Hugging Face sequence classifier given that pad_token_id would stop
   * reading one token early and freeze that token's embedding row. See tokenizer/pad.ts (withOwnPad).
   */
  readonly hasOwnPad: boolean;
  /** Optional Jinja chat template (from tokenizer_config.json) for conversational data. */
  readonly chatTemplate?: string;
  /** Encodes text to ids WITHOUT adding BOS/EOS (callers add them explicitly). */
  encode(text: string): number[];
  decode(ids: number[]): string;
  /** Writes the tokenizer's own file(s) into a checkpoint folder; returns the file names written. */
  save(dir: string): string[];
}
