/**
 * The bad-input corpus (test/fixtures/data/bad, written by make_fixtures.py; the 10 MB line is made
 * here): each file gives one clear DataError `file:line: what; expected ...` by default, or the right
 * counts with skipInvalid. Nothing ends in anything but a DataError (no stack-trace-only crash).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DataError } from '../../src/data/errors';
import { loadPreferences, type ReadOptions } from '../../src/data/read';
import { bad } from './helpers';

/** The DataError that reading throws (fails the test if it throws anything else or nothing). */
async function errorOf(file: string, opts: ReadOptions = {}): Promise<DataError> {
  try {
    await loadPreferences(file, opts);
  } catch (e) {
    if (!(e instanceof DataError)) throw new Error(`expected a DataError, got ${(e as Error).stack}`);
    expect(e.message).not.toMatch(/\n/); // one line for the CLI
    return e;
  }
  throw new Error(`expected ${file} to fail`);
}

const skip = (file: string, opts: ReadOptions = {}) => loadPreferences(file, { skipInvalid: true, ...opts });

describe('record-level problems: stop at the first by default, counted with skipInvalid', () => {
  const cases: [string, number, RegExp, number, number][] = [
    // file, line of the first error, message, valid records, invalid records (with skipInvalid)
    ['truncated_line.jsonl', 3, /not valid JSON: .*\(the text is cut off: the file may be truncated\); expected one JSON object per line/, 2, 1],
    ['wrong_types.jsonl', 2, /field "chosen" is a number; expected a string or a list of \{role, content\} messages \(format "explicit", recognised from .*wrong_types.jsonl:1\)/, 2, 1],
    ['missing_field.jsonl', 3, /field "rejected" is missing; expected \{prompt, chosen, rejected\}/, 2, 1],
    ['invalid_utf8.jsonl', 2, /invalid UTF-8 at byte offset 30 of the line; expected UTF-8 text/, 2, 1],
    ['not_json.jsonl', 1, /not valid JSON: .*; expected one JSON object per line/, 0, 2],
    ['scalar_rows.jsonl', 2, /the record is a number; expected \{prompt, chosen, rejected\}/, 1, 3],
    ['bad_margin.jsonl', 1, /field "margin" is "high"; expected a finite number/, 0, 1],
    ['bad_messages.jsonl', 1, /field "prompt\[0\].content" is missing; expected a string/, 0, 1],
    ['unknown_format.jsonl', 1, /cannot recognise the record's format from fields \{question, answer\}; expected \{prompt, chosen, rejected\}.* or \{instruction, input\?, chosen, rejected\}/, 0, 2],
    ['bad_ids.jsonl', 1, /field "chosen_input_ids\[1\]" is -1; expected a token id \(an integer >= 0\)/, 0, 2],
    ['mixed_formats.jsonl', 2, /field "prompt" is missing; expected \{prompt, chosen, rejected\}.*\(format "explicit", recognised from .*mixed_formats.jsonl:1\)/, 1, 1],
    ['wrong_schema.arrow', 1, /cannot recognise the record's format from fields \{text, label\}/, 0, 2],
    ['wrong_schema.parquet', 1, /cannot recognise the record's format from fields \{text, label\}/, 0, 2],
    ['wrong_types.parquet', 1, /field "chosen" is a number; expected a string/, 0, 1],
  ];
  test.each(cases)('%s', async (name, line, msg, valid, invalid) => {
    const e = await errorOf(bad(name));
    expect(e.where).toBe(`${bad(name)}:${line}`);
    expect(e.message.startsWith(`${bad(name)}:${line}: `)).toBe(true);
    expect(e.message).toMatch(msg);
    const { records, stats } = await skip(bad(name));
    expect(records).toHaveLength(valid);
    expect(stats.invalid).toBe(invalid);
    expect(stats.invalidExamples[0]).toBe(e.message);
  });

  test('only the first few messages are kept', async () => {
    const { stats } = await skip(bad('scalar_rows.jsonl'), { maxInvalidExamples: 2 });
    expect(stats.invalid).toBe(3);
    expect(stats.invalidExamples).toHaveLength(2);
  });
});

describe('file-level problems: a fatal DataError even with skipInvalid', () => {
  const cases: [string, string, RegExp][] = [
    ['truncated.jsonl.gz', '', /gzip data is truncated or corrupt \(unexpected end of file\); expected a complete gzip file/],
    ['array_truncated.json', ':2', /record 2 \(line 10\) is cut off at the end of the file; expected a complete JSON array \(the file may be truncated\)/],
    ['not_array.json', '', /starts with "\\""; expected a JSON array of records/],
    ['truncated.arrow', '', /Arrow/],
  ];
  test.each(cases)('%s', async (name, at, msg) => {
    for (const skipInvalid of [false, true]) {
      const e = await errorOf(bad(name), { skipInvalid });
      expect(e.fatal).toBe(true);
      expect(e.where.startsWith(bad(name) + at)).toBe(true);
      expect(e.message).toMatch(msg);
    }
  });

  test('a missing file names the path and what was expected', async () => {
    const e = await errorOf(bad('no-such-file.jsonl'));
    expect(e.message).toMatch(/no-such-file.jsonl: file not found; expected a .jsonl, .json/);
  });
});

describe('valid but unusual files', () => {
  test('BOM and CRLF: read cleanly, no stray characters', async () => {
    for (const name of ['bom.jsonl', 'crlf.jsonl']) {
      const { records, stats } = await loadPreferences(bad(name));
      expect(records).toHaveLength(3);
      expect(stats.invalid).toBe(0);
      expect(records[0].prompt).toBe('What is 2+2?');
      expect(records[2].rejected).toBe(' Hello.');
    }
  });

  test('empty file: zero records, no error', async () => {
    const { records, stats } = await loadPreferences(bad('empty.jsonl'));
    expect(records).toHaveLength(0);
    expect(stats.files[0].format).toBeNull();
  });

  test('blank lines are skipped and line numbers stay true', async () => {
    const { records } = await loadPreferences(bad('blank_lines.jsonl'));
    expect(records.map((r) => r.source.split(':').pop())).toEqual(['1', '4']);
  });

  test('empty strings are kept and counted', async () => {
    const { records, stats } = await loadPreferences(bad('empty_strings.jsonl'));
    expect(records).toHaveLength(4);
    expect(stats.problems).toMatchObject({ emptyChosen: 2, emptyRejected: 2, identical: 1 });
  });

  test('duplicates and chosen == rejected are kept and counted', async () => {
    const { records, stats } = await loadPreferences(bad('duplicates.jsonl'));
    expect(records).toHaveLength(4);
    expect(stats.problems).toMatchObject({ duplicates: 2, identical: 1 });
  });
});

describe('a 10 MB single line', () => {
  let dir: string;
  let file: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-data-'));
    file = path.join(dir, 'big.jsonl');
    const big = 'x'.repeat(10 * 1024 * 1024);
    fs.writeFileSync(file, JSON.stringify({ prompt: 'p', chosen: big, rejected: 'r' }) + '\n' + JSON.stringify({ prompt: 'q', chosen: 'c', rejected: 'r' }) + '\n');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('is accepted under the default 64 MiB line limit', async () => {
    const { records } = await loadPreferences(file);
    expect(records).toHaveLength(2);
    expect((records[0].chosen as string).length).toBe(10 * 1024 * 1024);
  });

  test('gives a clear fatal error under a smaller limit, without reading the line whole', async () => {
    const e = await errorOf(file, { maxLineBytes: 1 << 20, skipInvalid: true });
    expect(e.where).toBe(`${file}:1`);
    expect(e.message).toMatch(/line is longer than the limit of 1048576 bytes; expected one JSON record per line \(raise maxLineBytes/);
  });
});
