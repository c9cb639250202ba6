/**
 * Columnar readers: Arrow IPC (file or stream format, as `datasets` and pyarrow write them) and
 * Parquet, yielding one plain JS object per row with `file:row+1` positions. Reads one record batch
 * (Arrow) or one row group (Parquet) at a time, so memory follows the batch size, not the file size.
 * Values become plain JSON-like data: lists → arrays, structs → objects, int64 → number.
 * Does NOT check the columns (formats.ts recognises the format and names what is missing).
 */
import * as fs from 'fs';
import { RecordBatchReader, Vector } from 'apache-arrow';
import { DataError } from './errors';
import { assertReadableFile } from './bytes';
import type { RawRow } from './rows';

/** Deep-converts Arrow/Parquet values to plain JSON-like values. Example: Vector<Int64>[1n, 2n] -> [1, 2]. */
function toPlain(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(toPlain);
  if (v instanceof Vector) return Array.from(v as Iterable<unknown>, toPlain);
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number | bigint>, (x) => toPlain(x));
  if (v instanceof Map) return Object.fromEntries(Array.from(v, ([k, x]) => [String(k), toPlain(x)]));
  if (v instanceof Date) return v.toISOString();
  const o = typeof (v as { toJSON?: unknown }).toJSON === 'function' ? (v as { toJSON(): object }).toJSON() : v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(o)) out[k] = toPlain(x);
  return out;
}

/** Rows of an Arrow IPC file or stream (format told apart by the reader from the magic bytes). */
export async function* readArrow(file: string): AsyncGenerator<RawRow> {
  assertReadableFile(file);
  const handle = await fs.promises.open(file, 'r');
  let row = 0;
  try {
    let reader;
    try {
      reader = await RecordBatchReader.from(handle);
      await reader.open();
    } catch (e) {
      throw new DataError(file, `not a readable Arrow IPC file or stream (${(e as Error).message}); expected an .arrow file as written by pyarrow or datasets' save_to_disk`, true);
    }
    const it = reader[Symbol.asyncIterator]();
    for (;;) {
      let r;
      try {
        r = await it.next();
      } catch (e) {
        throw new DataError(`${file}:${row + 1}`, `Arrow data is truncated or corrupt (${(e as Error).message}); expected a complete Arrow IPC file`, true);
      }
      if (r.done) break;
      const batch = r.value;
      const names = batch.schema.fields.map((f) => f.name);
      const cols = names.map((_, j) => batch.getChildAt(j));
      for (let i = 0; i < batch.numRows; i++) {
        const value: Record<string, unknown> = {};
        for (let j = 0; j < names.length; j++) value[names[j]] = toPlain(cols[j]?.get(i));
        row++;
        yield { where: `${file}:${row}`, value };
      }
    }
  } finally {
    await handle.close();
  }
}

/** An hyparquet AsyncBuffer over a local file: reads only the byte ranges asked for. */
function fileBuffer(fd: number, byteLength: number) {
  return {
    byteLength,
    slice(start: number, end = byteLength): ArrayBuffer {
      // Offsets come from the file's own metadata: a lying footer must not make us allocate its claim.
      if (!(Number.isSafeInteger(start) && Number.isSafeInteger(end) && start >= 0 && start <= end && end <= byteLength)) {
        throw new Error(`byte range [${start}, ${end}) named by the file's metadata lies outside the ${byteLength}-byte file`);
      }
      const buf = Buffer.alloc(end - start);
      fs.readSync(fd, buf, 0, end - start, start);
      return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length) as ArrayBuffer;
    },
  };
}

/** Rows of a Parquet file, one row group at a time (hyparquet; snappy built in). */
export async function* readParquet(file: string): AsyncGenerator<RawRow> {
  assertReadableFile(file);
  // hyparquet is ESM-only: loaded lazily so JSONL-only users never pay for it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const hp = require('hyparquet') as typeof import('hyparquet');
  const fd = fs.openSync(file, 'r');
  try {
    const buffer = fileBuffer(fd, fs.fstatSync(fd).size);
    let metadata;
    try {
      metadata = await hp.parquetMetadataAsync(buffer);
    } catch (e) {
      throw new DataError(file, `not a readable Parquet file (${(e as Error).message}); expected a .parquet file as pyarrow or the Hub writes them`, true);
    }
    let rowStart = 0;
    for (const group of metadata.row_groups) {
      const rowEnd = rowStart + Number(group.num_rows);
      let rows;
      try {
        rows = await hp.parquetReadObjects({ file: buffer, metadata, rowStart, rowEnd });
      } catch (e) {
        throw new DataError(`${file}:${rowStart + 1}`, `Parquet data is corrupt or uses an unsupported encoding (${(e as Error).message})`, true);
      }
      for (let i = 0; i < rows.length; i++) yield { where: `${file}:${rowStart + i + 1}`, value: toPlain(rows[i]) };
      rowStart = rowEnd;
    }
  } finally {
    fs.closeSync(fd);
  }
}
