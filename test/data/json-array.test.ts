/** The streaming JSON-array scanner against JSON.parse of the whole file, across read-chunk boundaries. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readJsonFile } from '../../src/data/jsonArray';
import type { RawRow } from '../../src/data/rows';

let dir: string;
beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-jsonarr-'))));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function rows(file: string): Promise<RawRow[]> {
  const out: RawRow[] = [];
  for await (const r of readJsonFile(file)) out.push(r);
  return out;
}

test('tricky strings and nesting, a file several read chunks long: same values as JSON.parse', async () => {
  const tricky = ['a]}"[{,', 'back\\slash\\', 'quote " inside', 'unicode ✓ é 😀', '\n\t\r', '{"nested": [1, 2]}'];
  const records = Array.from({ length: 6000 }, (_, i) => ({
    prompt: tricky[i % tricky.length] + 'x'.repeat(i % 500),
    chosen: [{ role: 'assistant', content: tricky[(i + 1) % tricky.length] }],
    rejected: { deep: [[[i]]], s: '\\"' },
    n: i % 7 === 0 ? null : i * 1.5,
  }));
  const file = path.join(dir, 'big.json');
  fs.writeFileSync(file, JSON.stringify(records, null, 2));
  expect(fs.statSync(file).size).toBeGreaterThan(3 << 20);
  const got = await rows(file);
  expect(got.map((r) => r.value)).toEqual(JSON.parse(fs.readFileSync(file, 'utf8')));
  expect(got[5999].where).toBe(`${file}:6000`);
});

test('scalars and compact arrays; a bad element is a row error and reading goes on', async () => {
  const file = path.join(dir, 'mixed.json');
  fs.writeFileSync(file, Buffer.concat([Buffer.from('[1,"two",null,true,{"a":[1,2]},{bad},'), Buffer.from([0x22, 0xff, 0x22]), Buffer.from(',[3] ]\n')]));
  const got = await rows(file);
  expect(got.slice(0, 5).map((r) => r.value)).toEqual([1, 'two', null, true, { a: [1, 2] }]);
  expect(got[5].error?.message).toMatch(/mixed.json:6: not valid JSON: .*; expected a JSON value as record 6 \(line 1\)/);
  expect(got[6].error?.message).toMatch(/mixed.json:7: record 7 \(line 1\) is not valid UTF-8/);
  expect(got[7].value).toEqual([3]);
  expect(got).toHaveLength(8);
});

test('an empty array and trailing text', async () => {
  const empty = path.join(dir, 'empty.json');
  fs.writeFileSync(empty, ' [ ] ');
  expect(await rows(empty)).toEqual([]);
  const trailing = path.join(dir, 'trailing.json');
  fs.writeFileSync(trailing, '[{"a":1}] x');
  await expect(rows(trailing)).rejects.toThrow(/unexpected text after the closing '\]' \(line 1\); expected the end of the file/);
});
