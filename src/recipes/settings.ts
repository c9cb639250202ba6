/**
 * Where a setting comes from. One order for every command and for the library calls that take recipes:
 *   1) a flag (`--backend wasm`)
 *   2) the recipe, when it names the field: the file or `--set backend=wasm`
 *   3) the environment variable (`RLHF_BACKEND=wasm`)
 *   4) the schema's default (`auto`)
 * Flags and `--set` are merged into the raw recipe before validation (flags last, so they win); this module
 * then fills a field from its environment variable only when the raw recipe does not name it, so zod's default
 * applies only when nothing named it. Commands without a recipe (env, score, generate, export) pass their flag
 * to initBackend, which reads RLHF_BACKEND when there is none: the same order without step 2.
 *
 * Does: list the variables that have a recipe field (ENV_FIELDS) and those that are environment-only
 * (ENV_ONLY, for the README and `rlhf recipe explain`), and fill the raw recipe from the first.
 * Does NOT: validate values (the schema does, naming the variable as the origin) or read files.
 */

/** A recipe field an environment variable sets when neither the recipe nor a flag does. */
export interface EnvField {
  /** Dotted recipe key. */
  key: string;
  /** The variable. */
  env: string;
  /** Raw text -> the value the schema validates: `" WASM "` -> `"wasm"`. */
  normalise: (raw: string) => unknown;
}

export const ENV_FIELDS: readonly EnvField[] = [
  { key: 'backend', env: 'RLHF_BACKEND', normalise: (raw) => raw.trim().toLowerCase() },
];

/**
 * RLHF_* variables with no recipe field and no flag: the environment is their only setting (library calls
 * take some of them as options, which win). Listed so the README and the code agree on which ones exist.
 */
export const ENV_ONLY: Readonly<Record<string, string>> = {
  RLHF_CACHE_DIR: 'where DPO caches reference log-probs (default ~/.cache/rlhf-tfjs); the library option cacheDir wins',
  RLHF_NATIVE_OPS: '0 = never use the fused native kernels, 1 = require them, unset = use them when they load',
  RLHF_NATIVE_THREADS: 'threads of the fused native kernels (default: the CPUs this process may use)',
  RLHF_WASM_THREADS: 'threads of the wasm backend (1 = single-threaded build; default: the CPUs, at most 8)',
  RLHF_WASM_START_TIMEOUT_S: 'seconds a threaded wasm start may take before the single-threaded build is used (default 30)',
  RLHF_PYTHON: 'the Python that runs TRL beside `rlhf bench` (default python3)',
  RLHF_TENSORFLOW: 'the TensorFlow C library `npm run setup-native` builds tfjs-node against',
};

/** A value taken from the environment, with the variable's name as its origin (for error messages). */
export interface EnvValue {
  key: string;
  value: unknown;
  origin: string;
}

/**
 * The ENV_FIELDS values to apply to `raw` (the recipe as written, with --set and flags merged in): one per
 * field that `raw` does not name and whose variable is set and not empty.
 * Example: raw {data: {...}}, RLHF_BACKEND="wasm" -> [{key: 'backend', value: 'wasm', origin: 'RLHF_BACKEND'}];
 * raw {backend: 'auto', ...} -> [] (the recipe named it).
 */
export function valuesFromEnvironment(raw: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): EnvValue[] {
  const out: EnvValue[] = [];
  for (const f of ENV_FIELDS) {
    const text = env[f.env];
    if (text === undefined || text.trim() === '' || names(raw, f.key)) continue;
    out.push({ key: f.key, value: f.normalise(text), origin: f.env });
  }
  return out;
}

/** Whether the raw (not yet defaulted) recipe sets the dotted key: {dpo: {beta: 1}} names "dpo.beta". */
function names(raw: Record<string, unknown>, key: string): boolean {
  let obj: unknown = raw;
  for (const p of key.split('.')) {
    if (typeof obj !== 'object' || obj === null || !Object.prototype.hasOwnProperty.call(obj, p)) return false;
    obj = (obj as Record<string, unknown>)[p];
  }
  return obj !== undefined;
}

/**
 * `input` with valuesFromEnvironment applied, for recipes given as objects (the library calls); `input` itself
 * is not changed (only the objects along each filled path are copied).
 */
export function withEnvironment<T extends object>(input: T, env: NodeJS.ProcessEnv = process.env): T {
  const out = { ...input } as Record<string, unknown>;
  for (const e of valuesFromEnvironment(out, env)) {
    const parts = e.key.split('.');
    let obj = out;
    for (const p of parts.slice(0, -1)) {
      const next = obj[p];
      obj = obj[p] = typeof next === 'object' && next !== null ? { ...(next as Record<string, unknown>) } : {};
    }
    obj[parts[parts.length - 1]] = e.value;
  }
  return out as T;
}
