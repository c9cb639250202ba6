/**
 * Byte streams from files: opens a file as an async iterable of Buffer chunks, transparently
 * gunzipping when the content starts with the gzip magic bytes (1f 8b), whatever the extension.
 * Turns I/O and gzip failures into fatal DataErrors naming the file.
 * Does NOT split lines or parse anything (lines.ts, jsonArray.ts do).
 */
import * as fs from 'fs';
import * as zlib from 'zlib';
import { DataError } from './errors';

/** Chunk size for reads: big enough for throughput, small enough that memory stays flat. */
const CHUNK_BYTES = 1 << 20;

/** Reads the first bytes of a file (for format sniffing). */
export function peekBytes(file: string, n: number): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(n);
    const got = fs.readSync(fd, buf, 0, n, 0);
    return buf.subarray(0, got);
  } finally {
    fs.closeSync(fd);
  }
}

export function isGzip(file: string): boolean {
  const head = peekBytes(file, 2);
  return head.length === 2 && head[0] === 0x1f && head[1] === 0x8b;
}

/** Checks the file exists and is a readable regular file; throws a DataError that says so otherwise. */
export function assertReadableFile(file: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw new DataError(file, 'file not found; expected a path to a .jsonl, .json, .arrow, .parquet file or a dataset folder', true);
  }
  if (!st.isFile()) throw new DataError(file, 'not a regular file', true);
}

/**
 * Async iterable of the file's (decompressed) bytes. A truncated or corrupt gzip ends in a fatal DataError.
 * `onBytes` hears how many bytes of the file on disk each read consumed (compressed bytes for gzip): progress.
 */
export async function* readBytes(file: string, onBytes?: (n: number) => void): AsyncGenerator<Buffer> {
  assertReadableFile(file);
  const gz = isGzip(file);
  const raw = fs.createReadStream(file, { highWaterMark: CHUNK_BYTES });
  if (onBytes) raw.on('data', (c) => onBytes(c.length));
  const stream: NodeJS.ReadableStream = gz ? raw.pipe(zlib.createGunzip({ chunkSize: CHUNK_BYTES })) : raw;
  if (gz) raw.on('error', (e) => (stream as zlib.Gunzip).destroy(e));
  try {
    for await (const chunk of stream) yield chunk as Buffer;
  } catch (e) {
    const msg = (e as Error).message;
    if (gz) {
      throw new DataError(file, `gzip data is truncated or corrupt (${msg}); expected a complete gzip file (re-download or re-compress it)`, true);
    }
    throw new DataError(file, `cannot read the file (${msg})`, true);
  } finally {
    raw.destroy();
  }
}
