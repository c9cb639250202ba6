/**
 * Python oracles (transformers / TRL / PyTorch / scipy / jinja2 from the local wheels), run as child processes.
 * A suite that needs them is `describeIf(pythonWith(['torch', 'trl']), name, fn)` (helpers/gates.ts): where the
 * interpreter or a module is missing it is skipped with the reason, or fails under RLHF_REQUIRE_ORACLES=1.
 * Does NOT: install anything (.ci/run builds the venv; RLHF_PYTHON names it).
 */
import { spawnSync } from 'child_process';
import type { Requirement } from './gates';

export const PYTHON = process.env.RLHF_PYTHON || 'python3';

const cache = new Map<string, string | null>();

/** null when every module imports; otherwise the reason they do not (naming the first one that fails). */
export function pythonMissing(modules: string[]): string | null {
  const key = modules.join(',');
  if (cache.has(key)) return cache.get(key)!;
  // One import per module, so the message names the one that is missing rather than the whole list.
  const probe = `import importlib, sys\nfor m in sys.argv[1:]:\n    try:\n        importlib.import_module(m)\n    except Exception as e:\n        print(m + ": " + type(e).__name__ + ": " + str(e).splitlines()[0] if str(e) else m + ": " + type(e).__name__)\n        sys.exit(1)\n`;
  const r = spawnSync(PYTHON, ['-c', probe, ...modules], { encoding: 'utf8', timeout: 120000 });
  const reason = r.error
    ? `${PYTHON} is not runnable (${r.error.message})`
    : r.status !== 0
      ? `${PYTHON} cannot import ${r.stdout.trim() || r.stderr.trim().split('\n').pop()}`
      : null;
  cache.set(key, reason);
  return reason;
}

/** The requirement "a Python that imports every one of `modules`". */
export function pythonWith(modules: string[]): Requirement {
  return {
    name: `Python with ${modules.join(', ')}`,
    missing: () => pythonMissing(modules),
    fix: `set RLHF_PYTHON to a python with ${modules.join(', ')}; .ci/run builds one`,
  };
}

/** Runs a Python script with JSON on stdin and parses JSON from its stdout. */
export function runPython<T = unknown>(script: string, input: unknown, timeoutMs = 600000): T {
  const r = spawnSync(PYTHON, ['-c', script], { input: JSON.stringify(input), encoding: 'utf8', timeout: timeoutMs, maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`python failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** Runs a Python script file with a JSON request on stdin; returns its JSON answer. */
export function runPythonJson<T>(scriptFile: string, request: unknown): T {
  const r = spawnSync(PYTHON, [scriptFile], { input: JSON.stringify(request), encoding: 'utf8', timeout: 240000, maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${scriptFile} failed (exit ${r.status}):\n${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
