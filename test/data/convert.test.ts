/**
 * `convertData` / `rlhf data convert --to jsonl|parquet|arrow`: the files datasets.load_dataset reads back
 * (Python oracle: datasets + pyarrow) with the normal-form columns and values, message lists as lists of
 * {role, content}; our own readers read them back too; a column that changes type is an error naming the record.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { convertData, loadPreferences, outputFormat, toNormalJson } from '../../src/data';
import { DataError } from '../../src/data/errors';
import { describeIf } from '../helpers/gates';
import { pythonWith, runPython } from '../helpers/python';
import { fix } from './helpers';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-convert-'));
const REPO = path.resolve(__dirname, '../..');

/** What datasets gives back: the rows (to_list) and the features, as strings. */
const LOAD = `
import json, sys
import datasets
datasets.disable_progress_bars()
datasets.disable_caching()
req = json.load(sys.stdin)
out = {}
for fmt, f in req["files"]:
    d = datasets.load_dataset(fmt, data_files=f, split="train")
    out[f] = {"rows": d.to_list(), "features": {k: str(v) for k, v in d.features.items()}}
print(json.dumps(out))
`;

/** The normal form of each record with absent optional columns as datasets fills them (null). */
function expectedRows(records: Awaited<ReturnType<typeof loadPreferences>>['records'], columns: string[]) {
  return records.map((r) => {
    const o = toNormalJson(r);
    return Object.fromEntries(columns.map((c) => [c, o[c] === undefined ? null : o[c]]));
  });
}

test('outputFormat: --to wins, else the file name, else jsonl', () => {
  expect(outputFormat('x.parquet')).toBe('parquet');
  expect(outputFormat('x.ARROW')).toBe('arrow');
  expect(outputFormat('x.jsonl.gz')).toBe('jsonl');
  expect(outputFormat('x.data', 'arrow')).toBe('arrow');
  expect(() => outputFormat('x', 'csv')).toThrow(/--to csv is not an output format; expected jsonl, parquet, arrow/);
});

test('a column whose type changes after the first batch is an error naming the record and the way out; nothing is left behind', async () => {
  const dir = tmp();
  const src = path.join(dir, 'mixed.jsonl');
  const rows = Array.from({ length: 10_001 }, (_, i) => ({ prompt: `p${i}`, chosen: 'a', rejected: 'b' }));
  fs.writeFileSync(src, rows.map((r) => JSON.stringify(r)).join('\n') + '\n' + JSON.stringify({ prompt: [{ role: 'user', content: 'q' }], chosen: [{ role: 'assistant', content: 'a' }], rejected: [{ role: 'assistant', content: 'b' }] }) + '\n');
  const out = path.join(dir, 'mixed.parquet');
  await expect(convertData(src, out)).rejects.toThrow(DataError);
  await expect(convertData(src, out)).rejects.toThrow(new RegExp(`${src}:10002: column "prompt" holds text in the first 10000 records but not here \\(a message list\\).*write JSONL \\(--to jsonl\\).*\\(writing ${out}\\)`));
  expect(fs.readdirSync(dir)).toEqual(['mixed.jsonl']);
  await expect(convertData(src, path.join(dir, 'x.parquet.gz'))).rejects.toThrow(/parquet output is not gzipped/);
});

/** A JSONL file of WRITE_BATCH + 1 records (margins on some), written once per test file. */
function twoBatches(): string {
  const file = path.join(tmp(), 'two-batches.jsonl');
  const rows = Array.from({ length: 10_001 }, (_, i) => ({ prompt: `Q${i}: `, chosen: `yes ${i}`, rejected: `no ${i}`, ...(i % 3 === 0 ? { margin: i / 7 } : {}) }));
  fs.writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return file;
}

describeIf(pythonWith(['datasets', 'pyarrow']), 'datasets.load_dataset reads what convert writes', () => {
  const cases: Array<[string, string]> = [
    ['explicit (margin, subset, id)', fix('explicit.jsonl')],
    ['conversational (message lists)', fix('conversational.jsonl')],
    ['pre-tokenised', fix('pretokenized.jsonl')],
    ['the shipped data (2,400 pairs: a Parquet file of one row group, an Arrow stream of one batch)', path.join(REPO, 'data/prefs.jsonl')],
    ['10,001 pairs: two row groups / record batches', twoBatches()],
  ];
  test.each(cases)('%s', async (_what, src) => {
    const dir = tmp();
    const { records } = await loadPreferences(src);
    const written: Array<[string, string]> = [];
    for (const to of ['jsonl', 'parquet', 'arrow'] as const) {
      const out = path.join(dir, `out.${to}`);
      const res = await convertData(src, out, { to });
      expect({ to, written: res.written, format: res.format }).toEqual({ to, written: records.length, format: to });
      written.push([to === 'jsonl' ? 'json' : to, out]);
      // Our readers read it back: the same records (each row's source is now the converted file's row).
      const back = (await loadPreferences(out)).records;
      expect(back.map(({ source: _s, ...r }) => r)).toEqual(records.map(({ source: _s, ...r }) => r));
    }
    const got = runPython<Record<string, { rows: Record<string, unknown>[]; features: Record<string, string> }>>(LOAD, { files: written });
    const columns = Object.keys(got[written[1][1]].features);
    const base = ['prompt', 'chosen', 'rejected'];
    expect(columns.slice(0, 3)).toEqual(base);
    expect(columns).toEqual(expect.arrayContaining(['id', 'source']));
    for (const [fmt, file] of written) {
      const want = expectedRows(records, Object.keys(got[file].features));
      // Parquet and Arrow keep the column order and types; JSON Lines leaves absent keys out, datasets fills null.
      expect({ fmt, rows: got[file].rows }).toEqual({ fmt, rows: want });
      expect({ fmt, columns: Object.keys(got[file].features).sort() }).toEqual({ fmt, columns: [...columns].sort() });
    }
    const features = got[written[1][1]].features;
    const conversational = Array.isArray(records[0].prompt);
    for (const c of base) {
      expect({ c, type: features[c] }).toEqual({ c, type: conversational ? "List({'role': Value('string'), 'content': Value('string')})" : "Value('string')" });
    }
    expect(features.id).toBe("Value('string')");
    if (records.some((r) => r.margin !== undefined)) expect(features.margin).toBe("Value('float64')");
    if (records[0].chosenIds) expect(features.chosen_input_ids).toBe("List(Value('int32'))");
    // The Arrow file is the same dataset.
    expect(got[written[2][1]].features).toEqual(features);
  }, 120_000);
});
