/**
 * Resolves what the user named — a file, a Hugging Face `save_to_disk` folder (Dataset or
 * DatasetDict), or a folder of data files — into the list of files to read and the reader for each,
 * then reads them in order as one stream of raw rows.
 * A split is picked with `folder:split` or the `split` option (default `train` when it exists).
 * File kind comes from the extension (after `.gz`), else from the content's first bytes.
 * Does NOT interpret rows (formats.ts does).
 */
import * as fs from 'fs';
import * as path from 'path';
import { DataError } from './errors';
import { peekBytes, isGzip, assertReadableFile } from './bytes';
import { FileReadError, readBoundedFile } from '../util/bounded';
import { isPlainFileName } from '../util/json';
import { readJsonl } from './jsonl';
import { readJsonFile } from './jsonArray';
import { readArrow, readParquet } from './columnar';
import type { RawRow } from './rows';

export type FileKind = 'jsonl' | 'json' | 'arrow' | 'parquet';
export interface SourceFile {
  file: string;
  kind: FileKind;
}

const KIND_BY_EXT: Record<string, FileKind> = {
  '.jsonl': 'jsonl', '.ndjson': 'jsonl', '.json': 'json', '.arrow': 'arrow', '.feather': 'arrow',
  '.ipc': 'arrow', '.parquet': 'parquet',
};
const EXPECTED_FILES = 'a .jsonl, .json, .jsonl.gz, .json.gz, .arrow or .parquet file, or a datasets save_to_disk folder';

/** The kind of one data file. Example: 'prefs.jsonl.gz' -> 'jsonl'. */
export function fileKind(file: string): FileKind {
  const base = file.toLowerCase().replace(/\.gz$/, '');
  const byExt = KIND_BY_EXT[path.extname(base)];
  if (byExt) return byExt;
  if (isGzip(file)) return 'json'; // the JSON reader tells an array from JSON Lines by content
  const head = peekBytes(file, 8);
  if (head.subarray(0, 6).toString('latin1') === 'ARROW1' || head.readUInt32LE(0) === 0xffffffff) return 'arrow';
  if (head.subarray(0, 4).toString('latin1') === 'PAR1') return 'parquet';
  const text = head.toString('latin1').replace(/^\xef\xbb\xbf/, '').trimStart();
  if (text.startsWith('[')) return 'json';
  if (text.startsWith('{')) return 'jsonl';
  throw new DataError(file, `cannot tell the file's format from its name or content; expected ${EXPECTED_FILES}`, true);
}

function readJsonOf(file: string, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    // Bounded: these metadata files are kilobytes; a FIFO, device or huge file is refused, not read.
    v = JSON.parse(readBoundedFile(file, 16 * 1024 * 1024, what).toString('utf8'));
  } catch (e) {
    const why = e instanceof FileReadError ? e.detail : (e as Error).message;
    throw new DataError(file, `cannot read ${what} (${why}); expected the JSON file datasets' save_to_disk writes`, true);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new DataError(file, `${what} must hold a JSON object; expected the JSON file datasets' save_to_disk writes`, true);
  }
  return v as Record<string, unknown>;
}

/** A name read from dataset metadata must stay inside the dataset folder: "data-00000.arrow" yes, "../x" no. */
function insideName(name: unknown, file: string, field: string): string {
  if (typeof name !== 'string' || !isPlainFileName(name)) {
    throw new DataError(file, `${field} is ${JSON.stringify(name) ?? String(name)}; expected a plain file or folder name inside ${path.dirname(file)} (no "/", no "..")`, true);
  }
  return name;
}

/** Splits `folder:split` into its parts when `folder` exists and the whole string does not. */
function parseSpec(spec: string, split?: string): { target: string; split?: string } {
  if (!fs.existsSync(spec)) {
    const m = /^(.*):([A-Za-z0-9_.-]+)$/.exec(spec);
    if (m && fs.existsSync(m[1])) return { target: m[1], split: m[2] };
  }
  return { target: spec, split };
}

/** The files behind a path spec, in reading order. */
export function resolveSource(spec: string, splitOpt?: string): SourceFile[] {
  const { target, split } = parseSpec(spec, splitOpt);
  if (!fs.existsSync(target)) throw new DataError(target, `file not found; expected ${EXPECTED_FILES}`, true);
  if (!fs.statSync(target).isDirectory()) {
    if (split) throw new DataError(spec, `a split ("${split}") was given for a single file; expected a split only with a DatasetDict folder`, true);
    assertReadableFile(target); // before sniffing: opening a FIFO to peek at it would block
    return [{ file: target, kind: fileKind(target) }];
  }
  const dictFile = path.join(target, 'dataset_dict.json');
  if (fs.existsSync(dictFile)) {
    const rawSplits = readJsonOf(dictFile, 'dataset_dict.json').splits ?? [];
    if (!Array.isArray(rawSplits)) throw new DataError(dictFile, `"splits" must be a list of split names; expected the dataset_dict.json datasets' save_to_disk writes`, true);
    const splits = rawSplits.map((s, i) => insideName(s, dictFile, `splits[${i}]`));
    const pick = split ?? (splits.includes('train') ? 'train' : splits.length === 1 ? splits[0] : undefined);
    if (!pick || !splits.includes(pick)) {
      const why = pick ? `has no split "${pick}"` : 'holds several splits';
      throw new DataError(target, `this DatasetDict ${why}; expected one of ${splits.map((s) => `"${s}"`).join(', ')} — pick it as ${target}:${splits[0] ?? 'train'}`, true);
    }
    return resolveSource(path.join(target, pick));
  }
  const stateFile = path.join(target, 'state.json');
  if (fs.existsSync(stateFile)) {
    const files = readJsonOf(stateFile, 'state.json')._data_files as { filename: string }[] | undefined;
    if (!Array.isArray(files) || files.length === 0) throw new DataError(stateFile, 'lists no "_data_files"; expected the state.json datasets\' save_to_disk writes', true);
    return files.map((f, i) => ({ file: path.join(target, insideName(f?.filename, stateFile, `_data_files[${i}].filename`)), kind: 'arrow' as const }));
  }
  // A plain folder of data files (e.g. a Hub dataset's data/train-00000-of-00001.parquet).
  const names = fs.readdirSync(target).filter((n) => KIND_BY_EXT[path.extname(n.toLowerCase().replace(/\.gz$/, ''))]).sort();
  const chosen = split ? names.filter((n) => n.startsWith(`${split}-`) || n.startsWith(`${split}.`)) : names;
  if (chosen.length === 0) throw new DataError(target, `folder holds no data files${split ? ` for split "${split}"` : ''}; expected ${EXPECTED_FILES}`, true);
  return chosen.map((n) => {
    assertReadableFile(path.join(target, n));
    return { file: path.join(target, n), kind: fileKind(path.join(target, n)) };
  });
}

/** Raw rows of one file; `onBytes` hears the bytes read from disk as they are read (JSON and JSON Lines). */
export function readFileRows(src: SourceFile, maxLineBytes?: number, onBytes?: (n: number) => void): AsyncGenerator<RawRow> {
  switch (src.kind) {
    case 'jsonl': return readJsonl(src.file, maxLineBytes, onBytes);
    case 'json': return readJsonFile(src.file, maxLineBytes, onBytes);
    case 'arrow': return readArrow(src.file);
    case 'parquet': return readParquet(src.file);
  }
}
