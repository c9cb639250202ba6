/**
 * Streaming reader for a JSON file holding one top-level array of records (`[{...}, {...}]`):
 * a byte-level scanner cuts the array into its elements (tracking strings, escapes and nesting
 * depth) and JSON.parse reads one element at a time, so the whole file is never in memory.
 * UTF-8 multi-byte sequences never contain the ASCII bytes the scanner looks for, so scanning bytes is safe.
 * A `.json` file whose first character is `{` is JSON Lines (what `datasets`' `to_json` writes) and is
 * handed to the JSONL reader. Positions are `file:index+1`; errors also name the element's first line.
 * Does NOT accept other top-level shapes (an object of columns, say): those get a clear error.
 */
import { isUtf8 } from 'buffer';
import { DataError } from './errors';
import { readBytes } from './bytes';
import { readJsonl, jsonError } from './jsonl';
import { DEFAULT_MAX_LINE_BYTES } from './lines';
import type { RawRow } from './rows';

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);
const QUOTE = 0x22, BACKSLASH = 0x5c, COMMA = 0x2c;
const OPEN_OBJ = 0x7b, CLOSE_OBJ = 0x7d, OPEN_ARR = 0x5b, CLOSE_ARR = 0x5d;

/** First non-whitespace byte of the file after an optional BOM (-1 when empty). */
async function firstByte(file: string): Promise<number> {
  for await (const chunk of readBytes(file)) {
    let i = chunk.length >= 3 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf ? 3 : 0;
    while (i < chunk.length && WS.has(chunk[i])) i++;
    if (i < chunk.length) return chunk[i];
  }
  return -1;
}

export async function* readJsonFile(file: string, maxRecordBytes = DEFAULT_MAX_LINE_BYTES, onBytes?: (n: number) => void): AsyncGenerator<RawRow> {
  const first = await firstByte(file);
  if (first === -1) return; // empty file: no records (the caller reports 0 records)
  if (first === OPEN_OBJ) {
    yield* readJsonl(file, maxRecordBytes, onBytes);
    return;
  }
  if (first !== OPEN_ARR) {
    throw new DataError(file, `starts with ${JSON.stringify(String.fromCharCode(first))}; expected a JSON array of records ([{...}, ...]) or JSON Lines`, true);
  }
  yield* scanArray(file, maxRecordBytes, onBytes);
}

/**
 * The element scanner proper (see the module comment). One function on purpose: it is a byte-at-a-time state
 * machine whose state (depth, in a string, escaped, ...) lives in locals the hot loop reads on every byte.
 */
async function* scanArray(file: string, maxRecordBytes: number, onBytes?: (n: number) => void): AsyncGenerator<RawRow> {
  let started = false; // seen the opening '['
  let closed = false; // seen the closing ']'
  let inElem = false, inString = false, escaped = false, depth = 0, scalar = false;
  let parts: Buffer[] = [], partBytes = 0, elemStart = 0;
  let index = 0, line = 1, elemLine = 1, bom = true;

  const finish = (chunk: Buffer, end: number): RawRow => {
    const piece = chunk.subarray(elemStart, end);
    const bytes = parts.length ? Buffer.concat([...parts, piece]) : piece;
    parts = [];
    partBytes = 0;
    inElem = false;
    index++;
    const where = `${file}:${index}`;
    if (!isUtf8(bytes)) {
      return { where, error: new DataError(where, `record ${index} (line ${elemLine}) is not valid UTF-8; expected UTF-8 text (re-save the file as UTF-8)`) };
    }
    try {
      return { where, value: JSON.parse(bytes.toString('utf8')) };
    } catch (e) {
      return { where, error: jsonError(where, e as Error, `a JSON value as record ${index} (line ${elemLine})`) };
    }
  };

  for await (const chunk of readBytes(file, onBytes)) {
    let i = 0;
    if (bom && chunk.length >= 3 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) i = 3;
    bom = false;
    elemStart = 0;
    for (; i < chunk.length; i++) {
      const c = chunk[i];
      if (c === 0x0a) line++;
      if (inElem) {
        if (inString) {
          if (escaped) escaped = false;
          else if (c === BACKSLASH) escaped = true;
          else if (c === QUOTE) {
            inString = false;
            if (depth === 0 && !scalar) yield finish(chunk, i + 1);
          }
        } else if (scalar) {
          if (c === COMMA || c === CLOSE_ARR || WS.has(c)) {
            yield finish(chunk, i);
            if (c === CLOSE_ARR) closed = true;
          }
        } else if (c === QUOTE) inString = true;
        else if (c === OPEN_OBJ || c === OPEN_ARR) depth++;
        else if (c === CLOSE_OBJ || c === CLOSE_ARR) {
          depth--;
          if (depth === 0) yield finish(chunk, i + 1);
        }
        continue;
      }
      if (WS.has(c)) continue;
      if (!started) {
        started = true; // readJsonFile checked that this byte is '['
        continue;
      }
      if (closed) throw new DataError(`${file}:${index}`, `unexpected text after the closing ']' (line ${line}); expected the end of the file`, true);
      if (c === COMMA) continue;
      if (c === CLOSE_ARR) {
        closed = true;
        continue;
      }
      // An element starts here.
      inElem = true;
      elemStart = i;
      elemLine = line;
      scalar = !(c === OPEN_OBJ || c === OPEN_ARR || c === QUOTE);
      depth = c === OPEN_OBJ || c === OPEN_ARR ? 1 : 0;
      inString = c === QUOTE;
      escaped = false;
    }
    if (inElem) {
      const rest = chunk.subarray(elemStart);
      partBytes += rest.length;
      if (partBytes > maxRecordBytes) {
        throw new DataError(`${file}:${index + 1}`, `record ${index + 1} (line ${elemLine}) is longer than the limit of ${maxRecordBytes} bytes; raise maxLineBytes if records really are this large`, true);
      }
      parts.push(Buffer.from(rest));
    }
  }
  if (inElem && scalar && !inString) {
    yield finish(Buffer.alloc(0), 0);
  } else if (inElem) {
    throw new DataError(`${file}:${index + 1}`, `record ${index + 1} (line ${elemLine}) is cut off at the end of the file; expected a complete JSON array (the file may be truncated)`, true);
  }
  if (!closed) throw new DataError(file, `the file ends before the array's closing ']'; expected a complete JSON array (the file may be truncated)`, true);
}
