/**
 * Optional Python oracles (transformers / TRL / PyTorch / scipy from the local wheels).
 * Tests that need them use `pythonWith([...modules])`; where the interpreter or a module is missing
 * the suite is skipped and says so plainly, instead of failing where Python is absent.
 */
import { spawnSync } from 'child_process';

export const PYTHON = process.env.RLHF_PYTHON || 'python3';

const cache = new Map<string, string | null>();

/** null when every module imports; otherwise the reason they do not. */
export function pythonMissing(modules: string[]): string | null {
  const key = modules.join(',');
  if (cache.has(key)) return cache.get(key)!;
  const r = spawnSync(PYTHON, ['-c', modules.map((m) => `import ${m}`).join('; ')], { encoding: 'utf8', timeout: 120000 });
  const reason =
    r.error ? `${PYTHON} not runnable (${r.error.message})` : r.status !== 0 ? `${PYTHON} lacks ${modules.join(', ')}: ${r.stderr.trim().split('\n').pop()}` : null;
  cache.set(key, reason);
  return reason;
}

/** describe() when the modules import, else describe.skip() with a printed reason. */
export function describeWithPython(modules: string[], name: string, fn: () => void): void {
  const missing = pythonMissing(modules);
  if (missing) {
    // eslint-disable-next-line no-console
    console.warn(`SKIPPED "${name}": ${missing}. Set RLHF_PYTHON to a python with ${modules.join(', ')} to run it.`);
    describe.skip(name, fn);
  } else {
    describe(name, fn);
  }
}

/** Runs a Python script with JSON on stdin and parses JSON from its stdout. */
export function runPython<T = unknown>(script: string, input: unknown, timeoutMs = 600000): T {
  const r = spawnSync(PYTHON, ['-c', script], { input: JSON.stringify(input), encoding: 'utf8', timeout: timeoutMs, maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`python failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** describeWithPython with the name first (the losses tests' spelling). */
export function describeIfPython(name: string, modules: string[], fn: () => void): void {
  describeWithPython(modules, name, fn);
}

/** Runs a Python script file with a JSON request on stdin; returns its JSON answer. */
export function runPythonJson<T>(scriptFile: string, request: unknown): T {
  const r = spawnSync(PYTHON, [scriptFile], { input: JSON.stringify(request), encoding: 'utf8', timeout: 240000, maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${scriptFile} failed (exit ${r.status}):\n${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
