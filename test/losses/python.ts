/**
 * Finds a Python with the modules a reference test needs, so the test can run or skip with a clear reason.
 *
 * Does: probe RLHF_PYTHON (default `python3`) once per module list; wrap describe/describe.skip.
 * Does NOT: install anything.
 */
import { spawnSync } from 'child_process';

export const PYTHON = process.env.RLHF_PYTHON || 'python3';

/** null when `PYTHON` imports every module; otherwise why not (for the skip message). */
export function pythonMissing(modules: string[]): string | null {
  const code = modules.map((m) => `import ${m}`).join('; ');
  const r = spawnSync(PYTHON, ['-c', code], { encoding: 'utf8', timeout: 120_000 });
  if (r.error) return `${PYTHON} could not be run (${r.error.message})`;
  if (r.status !== 0) return `${PYTHON} cannot import ${modules.join(', ')}: ${(r.stderr || '').trim().split('\n').pop()}`;
  return null;
}

/** describe() when Python has `modules`, else describe.skip() after printing why (set RLHF_PYTHON to enable). */
export function describeIfPython(name: string, modules: string[], fn: () => void): void {
  const missing = pythonMissing(modules);
  if (missing) {
    // eslint-disable-next-line no-console
    console.warn(`SKIPPED "${name}": ${missing}. Set RLHF_PYTHON to a Python with ${modules.join(', ')} to run it.`);
    describe.skip(name, fn);
  } else {
    describe(name, fn);
  }
}

/** Runs a Python script with a JSON request on stdin; returns its JSON answer. */
export function runPythonJson<T>(script: string, request: unknown): T {
  const r = spawnSync(PYTHON, [script], { input: JSON.stringify(request), encoding: 'utf8', timeout: 240_000, maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${script} failed (exit ${r.status}):\n${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
