/**
 * Errors raised while reading or using a tokenizer. They carry a one-line message that names the
 * file, what was expected, what was found and the way out, so the CLI can print them without a stack.
 */
export class TokenizerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenizerError';
  }
}
