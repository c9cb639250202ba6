/**
 * Picks and loads a tokenizer from a spec, and fingerprints tokenizers for caches.
 *
 * Spec forms (first match wins):
 *   "byte"                                   -> ByteTokenizer
 *   a file named byte_tokenizer.json          -> ByteTokenizer (its ids are checked)
 *   a file ending in .bin                     -> llama2.c tokenizer
 *   a file ending in .json (tokenizer.json)   -> Hugging Face tokenizer (+ tokenizer_config.json beside it)
 *   a folder with rlhf.json naming tokenizer.kind -> that kind's file in the folder
 *   a folder with tokenizer.bin, else byte_tokenizer.json, else tokenizer.json (our own files first: a
 *     checkpoint keeps a transformers copy, tokenizer.json, beside them; see hf-export.ts)
 *
 * Does NOT pick a default when there is no spec (the caller decides: the model's own, else byte),
 * and does NOT download anything.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Tokenizer } from './types';
import { ByteTokenizer, BYTE_TOKENIZER_FILE } from './byte';
import { Llama2cTokenizer, LLAMA2C_TOKENIZER_FILE } from './llama2c';
import { HfTokenizer, HF_TOKENIZER_FILE } from './hf';
import { TokenizerError } from './errors';
import { FileReadError, readBoundedFile } from '../util/bounded';

/** A checkpoint's metadata file, read here for its tokenizer.kind; io/checkpoint.ts exports it as META_FILE for the rest. */
export const CHECKPOINT_META_FILE = 'rlhf.json';

/** The file each tokenizer kind keeps in a checkpoint folder. */
export const TOKENIZER_FILES: Readonly<Record<string, string>> = {
  hf: HF_TOKENIZER_FILE,
  llama2c: LLAMA2C_TOKENIZER_FILE,
  byte: BYTE_TOKENIZER_FILE,
};

export interface LoadTokenizerOptions {
  /** The model's vocab_size: a llama2.c tokenizer reads exactly this many pieces (as run.c does). */
  vocabSize?: number;
}

/** Loads the tokenizer that `spec` names; see the module header for the forms. */
export function loadTokenizer(spec: string, options: LoadTokenizerOptions = {}): Tokenizer {
  if (spec === 'byte') return new ByteTokenizer();
  if (!fs.existsSync(spec)) {
    throw new TokenizerError(`tokenizer ${spec}: not found; expected "byte", a tokenizer.json, a llama2.c tokenizer .bin, or a folder holding one`);
  }
  if (fs.statSync(spec).isDirectory()) return loadFromFolder(spec, options);
  return loadFile(spec, options);
}

function loadFile(file: string, options: LoadTokenizerOptions): Tokenizer {
  const base = path.basename(file);
  if (base === BYTE_TOKENIZER_FILE) return loadByteSpec(file);
  if (base.endsWith('.bin')) return Llama2cTokenizer.fromFile(file, { vocabSize: options.vocabSize });
  if (base.endsWith('.json')) return HfTokenizer.fromPath(file);
  throw new TokenizerError(
    `tokenizer ${file}: unknown file type; expected a llama2.c tokenizer (*.bin), a Hugging Face tokenizer.json, or ${BYTE_TOKENIZER_FILE}`,
  );
}

function loadFromFolder(dir: string, options: LoadTokenizerOptions): Tokenizer {
  const kind = checkpointTokenizerKind(dir);
  if (kind !== null) {
    const file = TOKENIZER_FILES[kind];
    if (file === undefined) {
      throw new TokenizerError(`${path.join(dir, CHECKPOINT_META_FILE)}: tokenizer.kind is ${JSON.stringify(kind)}; expected one of ${Object.keys(TOKENIZER_FILES).join(', ')}`);
    }
    if (!fs.existsSync(path.join(dir, file))) {
      throw new TokenizerError(`${dir}: ${CHECKPOINT_META_FILE} says tokenizer.kind "${kind}" but ${file} is missing from the folder`);
    }
    return loadFile(path.join(dir, file), options);
  }
  for (const file of [LLAMA2C_TOKENIZER_FILE, BYTE_TOKENIZER_FILE, HF_TOKENIZER_FILE]) {
    if (fs.existsSync(path.join(dir, file))) return loadFile(path.join(dir, file), options);
  }
  throw new TokenizerError(
    `${dir}: no tokenizer found; looked for ${CHECKPOINT_META_FILE} (tokenizer.kind), ${LLAMA2C_TOKENIZER_FILE}, ${BYTE_TOKENIZER_FILE} and ${HF_TOKENIZER_FILE}. Pass --tokenizer PATH or "byte"`,
  );
}

/** tokenizer.kind from a checkpoint's rlhf.json, or null when the folder has none or it names no kind. */
function checkpointTokenizerKind(dir: string): string | null {
  const metaPath = path.join(dir, CHECKPOINT_META_FILE);
  if (!fs.existsSync(metaPath)) return null;
  let meta: unknown;
  try {
    meta = JSON.parse(readSmall(metaPath, CHECKPOINT_META_FILE));
  } catch (e) {
    if (e instanceof TokenizerError) throw e;
    throw new TokenizerError(`${metaPath}: not valid JSON (${(e as Error).message})`);
  }
  const tok = (meta as { tokenizer?: unknown } | null)?.tokenizer;
  const kind = tok && typeof tok === 'object' ? (tok as { kind?: unknown }).kind : undefined;
  return typeof kind === 'string' ? kind : null;
}

/** A small metadata file as text; a device, FIFO or huge file is a TokenizerError, not a hang. */
function readSmall(file: string, what: string): string {
  try {
    return readBoundedFile(file, 16 * 1024 * 1024, what).toString('utf8');
  } catch (e) {
    throw new TokenizerError(e instanceof FileReadError ? e.message : `${file}: cannot read (${(e as Error).message})`);
  }
}

/** byte_tokenizer.json: the ByteTokenizer is fixed, so the file must describe exactly it. */
function loadByteSpec(file: string): ByteTokenizer {
  let spec: Record<string, unknown>;
  try {
    spec = JSON.parse(readSmall(file, BYTE_TOKENIZER_FILE)) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof TokenizerError) throw e;
    throw new TokenizerError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  const expected: Record<string, unknown> = { format: 'rlhf-byte-tokenizer/v1', pad_id: 0, bos_id: 1, eos_id: 2, byte_offset: 3 };
  for (const [key, value] of Object.entries(expected)) {
    if (spec?.[key] !== value) {
      throw new TokenizerError(`${file}: field "${key}" is ${JSON.stringify(spec?.[key])}; expected ${JSON.stringify(value)} (the only byte tokenizer this version knows)`);
    }
  }
  return new ByteTokenizer();
}

/**
 * sha256 (hex) of what defines a tokenizer: its kind and the files its save() writes, by name.
 * A tokenizer and the same tokenizer reloaded from a checkpoint it was saved to share a fingerprint.
 * Example: tokenizerFingerprint(new ByteTokenizer()) is the same on every machine.
 */
export function tokenizerFingerprint(tok: Tokenizer): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-tokfp-'));
  try {
    const names = [...tok.save(dir)].sort();
    const hash = crypto.createHash('sha256');
    hash.update(`kind=${tok.kind}\n`);
    for (const name of names) {
      const bytes = fs.readFileSync(path.join(dir, name));
      hash.update(`file=${name} bytes=${bytes.length}\n`);
      hash.update(bytes);
    }
    return hash.digest('hex');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
