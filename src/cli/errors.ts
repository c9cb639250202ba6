/**
 * How the CLI reports failures: one message naming what is wrong and the way out, exit code 1;
 * the stack only with --verbose. Every toolkit error class already carries such a message.
 */
export class UsageError extends Error {}

/** Text for stderr. */
export function describeError(e: unknown, verbose: boolean): string {
  if (!(e instanceof Error)) return `error: ${String(e)}`;
  const msg = e.message || e.name;
  if (verbose && e.stack) return `error: ${msg}\n${e.stack}`;
  // Internal errors (not ours) still get one line, and a hint that there is more.
  const ours = /Error$/.test(e.constructor.name) && !['Error', 'TypeError', 'RangeError', 'ReferenceError', 'SyntaxError'].includes(e.constructor.name);
  return ours ? `error: ${msg}` : `error: ${msg} (internal ${e.constructor.name}; run with --verbose for the stack)`;
}
