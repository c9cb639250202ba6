/**
 * Streaming line reader: yields one decoded line at a time with its 1-based line number, never
 * holding more than one line (plus one read chunk) in memory.
 * Handles: a UTF-8 BOM at the start, CRLF line ends, a last line without a newline.
 * Checks: a line longer than `maxLineBytes` (default 64 MiB) throws a fatal DataError; invalid UTF-8
 * comes back as a line with `error` set, so a skip-invalid reader can go on. Does NOT parse JSON (jsonl.ts does).
 */
import { isUtf8 } from 'buffer';
import { DataError } from './errors';
import { readBytes } from './bytes';

/** Default line limit: 64 MiB, so a 10 MB record (the largest the tests use) reads fine. */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024;

export interface Line {
  text: string;
  /** 1-based line number. */
  line: number;
  /** Set (and text empty) when the line is not valid UTF-8: reading can go on after it. */
  error?: DataError;
}

/** Decodes one line's bytes; `first` strips a BOM, trailing '\r' is dropped (CRLF files). */
function decodeLine(file: string, lineNo: number, bytes: Buffer, first: boolean): Line {
  let b = bytes;
  if (first && b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) b = b.subarray(3);
  if (b.length > 0 && b[b.length - 1] === 0x0d) b = b.subarray(0, b.length - 1);
  if (!isUtf8(b)) {
    const at = firstInvalidUtf8(b);
    const error = new DataError(`${file}:${lineNo}`, `invalid UTF-8 at byte offset ${at} of the line; expected UTF-8 text (re-save the file as UTF-8)`);
    return { text: '', line: lineNo, error };
  }
  return { text: b.toString('utf8'), line: lineNo };
}

/** Byte offset of the first invalid UTF-8 sequence (for the error message only; runs on bad lines). */
function firstInvalidUtf8(b: Buffer): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    const extra = c < 0x80 ? 0 : c >> 5 === 6 ? 1 : c >> 4 === 14 ? 2 : c >> 3 === 30 ? 3 : -1;
    if (extra < 0 || i + extra >= b.length + (extra === 0 ? 1 : 0)) return i;
    // isUtf8 on the one sequence also catches overlong forms and surrogates.
    if (extra > 0 && !isUtf8(b.subarray(i, i + extra + 1))) return i;
    i += extra + 1;
  }
  return b.length;
}

/**
 * Lines of a (possibly gzipped) text file. Example: "a\r\nb" -> {text:'a', line:1}, {text:'b', line:2}.
 * An over-long line throws as soon as it passes the limit (without reading the rest of it).
 */
export async function* readLines(file: string, maxLineBytes = DEFAULT_MAX_LINE_BYTES, onBytes?: (n: number) => void): AsyncGenerator<Line> {
  let parts: Buffer[] = [];
  let partBytes = 0;
  let lineNo = 1;
  const tooLong = () =>
    new DataError(
      `${file}:${lineNo}`,
      `line is longer than the limit of ${maxLineBytes} bytes; expected one JSON record per line (raise maxLineBytes if records really are this large)`,
      true,
    );
  for await (const chunk of readBytes(file, onBytes)) {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) break;
      const piece = chunk.subarray(start, nl);
      if (partBytes + piece.length > maxLineBytes) throw tooLong();
      const bytes = parts.length === 0 ? piece : Buffer.concat([...parts, piece]);
      yield decodeLine(file, lineNo, bytes, lineNo === 1);
      parts = [];
      partBytes = 0;
      lineNo++;
      start = nl + 1;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      partBytes += rest.length;
      if (partBytes > maxLineBytes) throw tooLong();
      // Copy: the stream may reuse its chunk buffers.
      parts.push(Buffer.from(rest));
    }
  }
  if (partBytes > 0) yield decodeLine(file, lineNo, Buffer.concat(parts), lineNo === 1);
}
