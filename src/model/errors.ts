/**
 * Errors the model layer raises for problems a person can fix (wrong weight names or shapes, bad
 * generation options). The CLI prints `message` on one line without a stack.
 */
export class ModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelError';
  }
}
