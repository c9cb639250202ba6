/**
 * Reading preference data end to end: path specs → files → raw rows → format recognition →
 * normal-form records, as an async iterator, with every skipped or suspicious record counted in a
 * ReadStats the caller passes in (and can print while or after reading).
 * Format: recognised per file from its first record (or forced with `format`); later records must
 * fit it, and errors say how it was chosen. Default: the first invalid record throws its DataError;
 * with `skipInvalid` it is counted and the first few messages are kept. Fatal errors (unreadable or
 * truncated files, over-long lines) always throw.
 * Counted, not dropped: chosen == rejected, empty completions, duplicates (same prompt, chosen and
 * rejected), transcripts without a prompt marker.
 * Does NOT tokenise (collate.ts) or split (split.ts).
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import { DataError } from './errors';
import { detectFormat, forcedFormat, normalizeRecord, unrecognised, type FormatChoice, type FormatName } from './formats';
import { resolveSource, readFileRows } from './sources';
import type { PreferenceRecord, Text } from './types';

export interface ReadOptions {
  /** Force a format (a name or alias of formats.ts) instead of recognising it from each file's first record; 'auto' recognises. */
  format?: FormatChoice;
  /** Split of a DatasetDict folder (also `folder:split`). Default `train`. */
  split?: string;
  /** Skip invalid records (counted, first few kept) instead of stopping at the first. @default false */
  skipInvalid?: boolean;
  /** How many invalid-record messages to keep. @default 5 */
  maxInvalidExamples?: number;
  /** Longest JSONL line / JSON array element in bytes; longer ones are a clear error. @default 64 MiB */
  maxLineBytes?: number;
  /** Stop after this many valid records (e.g. a quick look). */
  limit?: number;
  /**
   * Hears reading progress: bytes of the files read so far and their total size on disk (JSON and JSON Lines as
   * they are read; Arrow and Parquet files when each is done). For a progress line (util/progress.ts byteProgress).
   */
  onProgress?: (bytesRead: number, totalBytes: number) => void;
}

export interface ProblemCounts {
  /** chosen == rejected (kept: they add no preference signal, but the count tells the user). */
  identical: number;
  emptyChosen: number;
  emptyRejected: number;
  /** Same prompt, chosen and rejected as an earlier record (kept, counted). */
  duplicates: number;
  /** Implicit-prompt transcripts with no common "\n\nAssistant:" (prompt left empty). */
  noPromptFound: number;
}

export interface FileStats {
  file: string;
  format: FormatName | null;
  /** How the format was chosen: 'forced' or the position it was recognised from. */
  formatFrom: string;
  records: number;
  invalid: number;
}

export interface ReadStats {
  files: FileStats[];
  /** Valid records yielded. */
  records: number;
  invalid: number;
  invalidExamples: string[];
  problems: ProblemCounts;
  /** Records whose prompt/completions are chat message lists. */
  conversational: number;
  pretokenized: number;
  withMargin: number;
  /** Records per subset label (records without one are not listed). */
  subsets: Record<string, number>;
}

export function newReadStats(): ReadStats {
  return {
    files: [], records: 0, invalid: 0, invalidExamples: [],
    problems: { identical: 0, emptyChosen: 0, emptyRejected: 0, duplicates: 0, noPromptFound: 0 },
    conversational: 0, pretokenized: 0, withMargin: 0, subsets: {},
  };
}

function isEmpty(t: Text, ids?: number[]): boolean {
  if (ids) return ids.length === 0;
  return typeof t === 'string' ? t.length === 0 : t.every((m) => m.content.length === 0);
}

function sameIds(a?: number[], b?: number[]): boolean {
  return !!a && !!b && a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Updates the counters for one valid record. `seen` holds content hashes for the duplicate count. */
function countRecord(r: PreferenceRecord, stats: ReadStats, seen: Set<string>): void {
  const p = stats.problems;
  const c = JSON.stringify(r.chosenIds ?? r.chosen), rj = JSON.stringify(r.rejectedIds ?? r.rejected);
  if (r.chosenIds ? sameIds(r.chosenIds, r.rejectedIds) : c === rj) p.identical++;
  if (isEmpty(r.chosen, r.chosenIds)) p.emptyChosen++;
  if (isEmpty(r.rejected, r.rejectedIds)) p.emptyRejected++;
  // A 16-byte digest per record keeps the duplicate set small even for millions of records.
  const key = createHash('md5').update(JSON.stringify(r.promptIds ?? r.prompt)).update('\u0000').update(c).update('\u0000').update(rj).digest('base64');
  if (seen.has(key)) p.duplicates++;
  else seen.add(key);
  if (Array.isArray(r.prompt) || Array.isArray(r.chosen)) stats.conversational++;
  if (r.chosenIds) stats.pretokenized++;
  if (r.margin !== undefined) stats.withMargin++;
  if (r.subset !== undefined) stats.subsets[r.subset] = (stats.subsets[r.subset] ?? 0) + 1;
}

/** Records an invalid one, or rethrows when not skipping. */
function onInvalid(e: DataError, opts: ReadOptions, stats: ReadStats, fs: FileStats): void {
  if (!opts.skipInvalid || e.fatal) throw e;
  stats.invalid++;
  fs.invalid++;
  if (stats.invalidExamples.length < (opts.maxInvalidExamples ?? 5)) stats.invalidExamples.push(e.message);
}

/**
 * Normal-form records from one or more path specs, in file order.
 * Example: for await (const r of readPreferences('prefs.jsonl', {}, stats)) ...; then stats.problems.identical.
 */
export async function* readPreferences(specs: string | string[], opts: ReadOptions = {}, stats: ReadStats = newReadStats()): AsyncGenerator<PreferenceRecord> {
  const seen = new Set<string>();
  const forced = forcedFormat(opts.format);
  const sources = (Array.isArray(specs) ? specs : [specs]).flatMap((spec) => resolveSource(spec, opts.split));
  const meter = opts.onProgress ? bytesMeter(sources.map((s) => s.file), opts.onProgress) : null;
  for (const [fileIndex, src] of sources.entries()) {
    const fst: FileStats = { file: src.file, format: forced ?? null, formatFrom: forced ? 'forced' : '', records: 0, invalid: 0 };
    stats.files.push(fst);
    for await (const row of readFileRows(src, opts.maxLineBytes, meter?.add)) {
      if (opts.limit !== undefined && stats.records >= opts.limit) return;
      if (row.error) {
        onInvalid(row.error, opts, stats, fst);
        continue;
      }
      if (fst.format === null) {
        const f = detectFormat(row.value);
        if (f === null) {
          onInvalid(unrecognised(row.where, row.value), opts, stats, fst);
          continue;
        }
        fst.format = f;
        fst.formatFrom = row.where;
      }
      const how = fst.formatFrom === 'forced' ? ', forced' : `, recognised from ${fst.formatFrom}`;
      let out;
      try {
        out = normalizeRecord(row.value, fst.format, row.where, how);
      } catch (e) {
        if (!(e instanceof DataError)) throw e;
        onInvalid(e, opts, stats, fst);
        continue;
      }
      if (out.notes.noPromptFound) stats.problems.noPromptFound++;
      countRecord(out.record, stats, seen);
      stats.records++;
      fst.records++;
      yield out.record;
    }
    meter?.fileDone(fileIndex);
  }
}

/** Counts bytes read across `files` (sizes from the disk); fileDone(i) sets the count to the end of file i. */
function bytesMeter(files: string[], report: (done: number, total: number) => void) {
  const sizes = files.map((f) => fs.statSync(f).size);
  const total = sizes.reduce((a, b) => a + b, 0);
  let done = 0;
  return {
    add: (n: number) => {
      done += n;
      report(Math.min(done, total), total);
    },
    fileDone: (i: number) => {
      done = sizes.slice(0, i + 1).reduce((a, b) => a + b, 0);
      report(done, total);
    },
  };
}

/** All records in memory (training shuffles and splits them) plus the stats. */
export async function loadPreferences(specs: string | string[], opts: ReadOptions = {}): Promise<{ records: PreferenceRecord[]; stats: ReadStats }> {
  const stats = newReadStats();
  const records: PreferenceRecord[] = [];
  for await (const r of readPreferences(specs, opts, stats)) records.push(r);
  return { records, stats };
}
