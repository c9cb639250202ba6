/**
 * Small JSON-file helpers shared by the io loaders: bounded reads (a hostile 10 GB config.json is refused
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

/** Reads and parses a JSON file, refusing files over `maxBytes` before reading them. */
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
  try {
    return JSON.parse(text);
  } catch (e) {
    // RangeError (absurd nesting) lands here too.
    throw new JsonFileError(file, `is not valid JSON (${(e as Error).message})`);
  }
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
