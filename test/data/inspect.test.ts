/** inspect / convert as the CLI will call them. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { convertData, formatInspectReport, inspectData, percentile } from '../../src/data/inspect';
import { loadPreferences } from '../../src/data/read';
import { fix, bad } from './helpers';

let dir: string;
beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-inspect-'))));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('percentile (nearest rank), hand-worked', () => {
  expect(percentile([1, 2, 3, 4], 0.5)).toBe(2);
  expect(percentile([1, 2, 3, 4], 0.9)).toBe(4);
  expect(percentile([], 0.5)).toBe(0);
});

test('report: counts, token lengths with BOS/EOS, subsets, over-length under limits', async () => {
  const r = await inspectData(fix('explicit.jsonl'), { maxLength: 16, truncation: 'drop' });
  expect(r.records).toBe(3);
  expect(r.tokenizer).toBe('byte');
  // Prompts "What is 2+2?" (12 bytes), "Name a colour." (14), "Say hi in French." (17) + BOS.
  expect(r.lengths.prompt).toMatchObject({ min: 13, p50: 15, max: 18, count: 3 });
  // " Bonjour — ça va?" is 20 bytes in UTF-8 (— is 3, ç is 2) + EOS.
  expect(r.lengths.chosen.max).toBe(21);
  expect(r.subsets).toEqual({ math: 1, trivia: 2 });
  // Longer side of each pair: 13+3, 15+8, 18+21 -> two over 16.
  expect(r.overLength).toMatchObject({ kept: 1, dropped: 2 });
  const text = formatInspectReport(r);
  expect(text).toMatch(/over the limits \(max_length 16, drop\): dropped 2/);
  expect(text).toMatch(/subsets: trivia 2, math 1/);
});

test('skipInvalid report lists the first errors', async () => {
  const r = await inspectData(bad('wrong_types.jsonl'), { skipInvalid: true });
  expect(r.records).toBe(2);
  expect(r.invalid).toBe(1);
  expect(formatInspectReport(r)).toMatch(/invalid: 1\n .*wrong_types.jsonl:2: field "chosen" is a number/);
});

test('convert writes the normal form; reading it back gives the same records', async () => {
  for (const name of ['conversational.parquet', 'implicit_hh.jsonl', 'instruction.json', 'pretokenized.jsonl', 'explicit.arrow']) {
    const out = path.join(dir, `${name}.jsonl`);
    const res = await convertData(fix(name), out);
    const before = await loadPreferences(fix(name));
    expect(res.written).toBe(before.records.length);
    const after = await loadPreferences(out);
    expect(after.stats.files[0].format).toBe(before.records[0].chosenIds ? 'pretokenized' : 'explicit');
    const strip = (rs: typeof before.records) => rs.map(({ source: _s, id: _i, ...rest }) => rest);
    expect(strip(after.records)).toEqual(strip(before.records));
    // The original position survives as the id (or the record's own id).
    expect(after.records.map((r) => r.id)).toEqual(before.records.map((r) => r.id));
  }
});

test('convert to .gz, and a failed conversion leaves no output behind', async () => {
  const gz = path.join(dir, 'out.jsonl.gz');
  await convertData(fix('explicit.jsonl'), gz);
  expect((await loadPreferences(gz)).records).toHaveLength(3);
  const out = path.join(dir, 'never.jsonl');
  await expect(convertData(bad('wrong_types.jsonl'), out)).rejects.toThrow(/wrong_types.jsonl:2/);
  expect(fs.readdirSync(dir).filter((n) => n.includes('never'))).toEqual([]);
});
