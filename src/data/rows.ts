/**
 * Raw rows: what every file reader yields before format recognition — a parsed JSON-like value
 * and its `file:n` position, or a (skippable) DataError for a row that could not be parsed.
 * Does NOT know about preference formats (formats.ts does).
 */
import type { DataError } from './errors';

export interface RawRow {
  /** `file:n`: 1-based line (JSONL), array index + 1 (JSON), row + 1 (Arrow/Parquet). */
  where: string;
  /** The parsed value (absent when `error` is set). */
  value?: unknown;
  /** A row-level problem; the reader carries on after it. Fatal problems are thrown instead. */
  error?: DataError;
}
