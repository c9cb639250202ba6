/**
 * The one way a test says it needs something this machine may lack (a Python oracle, headless Chromium,
 * ../shared reference files, the native backend or its fused kernels, a second CPU).
 *
 * A Requirement is `{name, missing()}`: missing() returns null when the piece is there, else why not (one
 * line). describeIf / testIf then
 *  - run the suite or test when nothing is missing;
 *  - without RLHF_REQUIRE_ORACLES, skip it (counted by jest as skipped), print the reason, and append it to
 *    the file RLHF_SKIP_LOG names (scripts/test-all.js lists those reasons under its summary line);
 *  - with RLHF_REQUIRE_ORACLES=1 (CI sets it), replace it by one failing test that names the missing piece
 *    and the way to provide it: a CI run cannot pass because its oracles were absent.
 *
 * Does NOT: decide what a requirement checks (python.ts, chromium.ts, shared.ts and native.ts define them),
 * or skip anything that is present: a requirement that is met always runs its tests.
 */
import * as fs from 'fs';

export interface Requirement {
  /** What is needed, as a person would name it: `Python with torch, trl`, `the shared reference folder`. */
  name: string;
  /** null when it is there; otherwise why not, in one line. */
  missing(): string | null;
  /** How to provide it, one line (printed with the reason). */
  fix?: string;
}

/** Whether a missing requirement fails (CI) instead of skipping. */
export function oraclesRequired(env: NodeJS.ProcessEnv = process.env): boolean {
  const raw = (env.RLHF_REQUIRE_ORACLES ?? '').trim();
  if (raw === '' || raw === '0') return false;
  if (raw === '1') return true;
  throw new Error(`RLHF_REQUIRE_ORACLES="${raw}" is not valid; expected 1 (a missing oracle fails the test) or unset/0 (it skips)`);
}

/** A requirement met when every one of `parts` is; the reason names each missing part, with its fix. */
export function allOf(...parts: Requirement[]): Requirement {
  return {
    name: parts.map((p) => p.name).join(' + '),
    missing: () => {
      const why = parts.map((p) => [p, p.missing()] as const).filter(([, w]) => w !== null);
      return why.length === 0 ? null : why.map(([p, w]) => `${p.name}: ${w}${p.fix ? ` (${p.fix})` : ''}`).join('; ');
    },
  };
}

/** The reason line for `what` (a suite or test name) when `req` is missing `why`. */
function reason(what: string, req: Requirement, why: string): string {
  return `"${what}" needs ${req.name}: ${why}${req.fix ? ` (${req.fix})` : ''}`;
}

/** Prints and records a skip; the record is one JSON line per skipped suite or test. */
function recordSkip(what: string, req: Requirement, why: string): void {
  const line = reason(what, req, why);
  // Straight to stderr: jest drops the console output of a file whose tests were all skipped.
  process.stderr.write(`SKIPPED ${line}. RLHF_REQUIRE_ORACLES=1 makes this a failure.\n`);
  const log = process.env.RLHF_SKIP_LOG;
  if (log) fs.appendFileSync(log, JSON.stringify({ file: expect.getState().testPath ?? '', what, requirement: req.name, why }) + '\n');
}

function failure(what: string, req: Requirement, why: string): () => never {
  return () => {
    throw new Error(`${reason(what, req, why)}. RLHF_REQUIRE_ORACLES=1 (CI) turns a missing oracle into this failure; unset it to skip instead.`);
  };
}

/** > 0 while the body of a skipped suite declares its tests: gates inside it are skipped with it, unrecorded. */
let insideSkipped = 0;

/** describe(name, fn) when `req` is met; else a counted skip (locally) or one failing test (RLHF_REQUIRE_ORACLES=1). */
export function describeIf(req: Requirement, name: string, fn: () => void): void {
  if (insideSkipped > 0) return describe.skip(name, fn);
  const why = req.missing();
  if (why === null) return describe(name, fn);
  if (oraclesRequired()) return describe(name, () => test(`needs ${req.name}`, failure(name, req, why)));
  recordSkip(name, req, why);
  // The suite's body still runs to declare its tests (so each is counted as skipped): it must not read the
  // missing files at declaration time (do that in beforeAll or in the tests).
  describe.skip(name, () => {
    insideSkipped++;
    try {
      fn();
    } finally {
      insideSkipped--;
    }
  });
}

/** test(name, fn, timeout) when `req` is met; else a counted skip (locally) or a failing test (RLHF_REQUIRE_ORACLES=1). */
export function testIf(req: Requirement, name: string, fn: jest.ProvidesCallback, timeout?: number): void {
  if (insideSkipped > 0) return test.skip(name, fn, timeout);
  const why = req.missing();
  if (why === null) return test(name, fn, timeout);
  if (oraclesRequired()) return test(name, failure(name, req, why));
  recordSkip(name, req, why);
  test.skip(name, fn, timeout);
}

/** Memoises a missing() check (most spawn a process or read the disk); the answer is per test file. */
export function once(check: () => string | null): () => string | null {
  let done = false;
  let answer: string | null = null;
  return () => {
    if (!done) {
      answer = check();
      done = true;
    }
    return answer;
  };
}
