/**
 * Errors the loss functions throw. Both are "a person can act on this" errors: the CLI prints the
 * message on one line without a stack.
 *
 * Does: name the two failure kinds. Does NOT: format or print them.
 */

/** A loss configuration that cannot work (unknown loss type, weights that do not line up, beta <= 0, ...). */
export class LossConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LossConfigError';
  }
}

/** Tensors handed to a loss that do not fit it (wrong rank, mismatched batch, a needed input missing). */
export class LossInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LossInputError';
  }
}
