/**
 * Small JSON-file helpers shared by the loaders (io/, recipes/, data/): bounded reads (a hostile 10 GB config.json is refused
 * by its size before it is read) and safe file-name checks for names that come from files.
 *
 * Does: read, parse and size-check JSON files; vet file names. Does NOT: validate schemas (callers do).
 */
import * as fs from 'fs';
import * as path from 'path';
import { IoError } from './errors';

/** Config files, indexes and rlhf.json are kilobytes; anything above this is not one of them. */
export const MAX_JSON_BYTES = 64 * 1024 * 1024;

export class JsonFileError extends IoError {
  constructor(readonly file: string, detail: string) {
    super(`${file}: ${detail}`);
  }
}

/** Deeper JSON than this is refused: real configs nest 3-4 levels, and deep values break JSON.stringify. */
export const MAX_JSON_DEPTH = 100;

/** Reads and parses a JSON file, refusing files over `maxBytes` before reading them, and absurd nesting. */
export function readJsonFile(file: string, maxBytes = MAX_JSON_BYTES): unknown {
  let size: number;
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) throw new JsonFileError(file, 'is not a regular file');
    size = st.size;
  } catch (e) {
    if (e instanceof JsonFileError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new JsonFileError(file, code === 'ENOENT' ? 'file does not exist' : `cannot read (${code ?? (e as Error).message})`);
  }
  if (size > maxBytes) throw new JsonFileError(file, `is ${size} bytes; a file of this kind is expected to be under ${maxBytes} bytes`);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new JsonFileError(file, `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new JsonFileError(file, `is not valid JSON (${(e as Error).message})`);
  }
  if (jsonDepth(value, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) throw new JsonFileError(file, `nests deeper than ${MAX_JSON_DEPTH} levels; not a file of this kind`);
  return value;
}

/** Nesting depth of a parsed JSON value, counted iteratively and stopping past `limit`. Example: [[1]] -> 2. */
export function jsonDepth(v: unknown, limit = Infinity): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[v, 0]];
  while (stack.length > 0) {
    const [x, d] = stack.pop()!;
    if (typeof x !== 'object' || x === null) continue;
    if (d + 1 > max) max = d + 1;
    if (max > limit) return max;
    for (const c of Array.isArray(x) ? x : Object.values(x)) stack.push([c, d + 1]);
  }
  return max;
}

/** Reads a JSON file that must hold an object. */
export function readJsonObject(file: string, maxBytes = MAX_JSON_BYTES): Record<string, unknown> {
  const v = readJsonFile(file, maxBytes);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new JsonFileError(file, 'expected a JSON object');
  return v as Record<string, unknown>;
}

/**
 * True when `name` is a plain file name that stays inside the folder it is joined to:
 * `model-00001-of-00002.safetensors` -> true; `../x`, `a/b`, `C:\\x`, `.`, `` -> false.
 */
export function isPlainFileName(name: string): boolean {
  return (
    name.length > 0 && name.length <= 255 && name !== '.' && name !== '..' && !/[/\\\0]/.test(name) &&
    path.basename(name) === name && !path.isAbsolute(name) && !/^[A-Za-z]:/.test(name)
  );
}

/**
 * A value for an error message, at most 80 characters. Never throws: JSON.stringify recurses and overflows
 * the stack on a hostile, deeply nested value that JSON.parse (iterative) accepted.
 * Example: describeValue([1, 2]) -> "[1,2]"; describeValue(undefined) -> "undefined".
 */
export function describeValue(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    return 'a value too deeply nested to print';
  }
  return s.length > 80 ? s.slice(0, 77) + '...' : s;
}
