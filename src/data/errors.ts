/**
 * DataError: the one error the data layer throws for bad input. Its message is a single line a
 * person can act on — `file:line: what is wrong; expected ...` — so the CLI prints it without a stack.
 * Does NOT log or decide whether to stop: readers throw it, the skip-invalid logic catches it.
 */
export class DataError extends Error {
  /** `file:line` (or just `file` for whole-file problems). */
  readonly where: string;
  /** What was wrong and what was expected, without the location prefix. */
  readonly detail: string;
  /** True when reading cannot go on past this point (corrupt stream, unreadable file): never skippable. */
  readonly fatal: boolean;

  constructor(where: string, detail: string, fatal = false) {
    super(`${where}: ${detail}`);
    this.name = 'DataError';
    this.where = where;
    this.detail = detail;
    this.fatal = fatal;
  }
}

/** Short description of a JSON value's type for messages: 'a number', 'null', 'a list', ... */
export function describeType(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'missing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return v === '' ? 'an empty string' : 'a string';
  return `a ${typeof v}`;
}
