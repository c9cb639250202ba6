/**
 * The base class of every error about a bad file or folder (io/'s loaders, util/'s bounded and JSON reads),
 * so the CLI can print any of them as one line (message = "<path>: <what is wrong>; <what was expected / the
 * way out>") without a stack. Imports nothing of the project (util/ is the bottom layer).
 */
export class IoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}
