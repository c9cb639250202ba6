/**
 * The base class of every error io/ throws on bad files or folders, so the CLI can print any of them as
 * one line (message = "<path>: <what is wrong>; <what was expected / the way out>") without a stack.
 */
export class IoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}
