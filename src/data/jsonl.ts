/**
 * JSON Lines reader: one JSON value per line; blank lines are ignored. A line that is not valid JSON
 * becomes a row error naming the line; a cut-off last line says the file may be truncated.
 * Does NOT check what the JSON contains (formats.ts does).
 */
import { DataError } from './errors';
import { readLines, DEFAULT_MAX_LINE_BYTES } from './lines';
import type { RawRow } from './rows';

export async function* readJsonl(file: string, maxLineBytes = DEFAULT_MAX_LINE_BYTES, onBytes?: (n: number) => void): AsyncGenerator<RawRow> {
  for await (const { text, line, error } of readLines(file, maxLineBytes, onBytes)) {
    const where = `${file}:${line}`;
    if (error) {
      yield { where, error };
      continue;
    }
    if (text.trim() === '') continue;
    try {
      yield { where, value: JSON.parse(text) };
    } catch (e) {
      yield { where, error: jsonError(where, e as Error, 'one JSON object per line') };
    }
  }
}

/** A DataError for a JSON.parse failure, hinting at truncation when the text just stops. */
export function jsonError(where: string, e: Error, expected: string): DataError {
  const cut = /end of (JSON )?input|Unterminated/i.test(e.message);
  const hint = cut ? ' (the text is cut off: the file may be truncated)' : '';
  return new DataError(where, `not valid JSON: ${e.message}${hint}; expected ${expected}`);
}
