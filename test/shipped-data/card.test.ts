/** Every number in the data card's generated block matches the files, recomputed here independently. */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { DATA, bytes, cardRows, mean, Pair, probeFiles, readJsonl, readPairs } from './shipped';

const SPLITS = ['prefs.jsonl', 'prefs-eval.jsonl'];
const pct = (k: number, n: number) => `${((100 * k) / n).toFixed(1)}%`;

function pairRow(file: string, subset: string, rows: Pair[]): string[] {
  const k = rows.filter((r) => bytes(r.chosen) > bytes(r.rejected)).length;
  return [file, subset, String(rows.length), String(k), pct(k, rows.length),
    mean(rows.map((r) => bytes(r.chosen))).toFixed(1), mean(rows.map((r) => bytes(r.rejected))).toFixed(1)];
}

describe('data/README.md statistics', () => {
  test('pairs, chosen-longer counts, rates and mean lengths per file and subset', () => {
    const expected: string[][] = [];
    for (const file of SPLITS) {
      const rows = readPairs(file);
      const subsets = [...new Set(rows.map((r) => r.subset))];
      for (const subset of subsets) expected.push(pairRow(file, subset, rows.filter((r) => r.subset === subset)));
      expected.push(pairRow(file, 'all', rows));
    }
    const card = cardRows(7);
    // Same rows, whatever the order of subsets in the card.
    expect([...card].sort()).toEqual([...expected].sort());
  });

  test('kinds within subsets', () => {
    const expected: string[][] = [];
    for (const file of SPLITS) {
      const counts = new Map<string, number>();
      for (const r of readPairs(file)) counts.set(`${r.subset}|${r.kind}`, (counts.get(`${r.subset}|${r.kind}`) ?? 0) + 1);
      for (const [key, n] of counts) expected.push([file, ...key.split('|'), String(n)]);
    }
    expect([...cardRows(4)].sort()).toEqual(expected.sort());
  });

  test('probe files: counts, a-longer counts and mean lengths', () => {
    const expected = probeFiles().map((f) => {
      const rows = readJsonl<{ a: string; b: string }>(path.join(DATA, 'probes', f));
      return [`probes/${f}`, String(rows.length), String(rows.filter((r) => bytes(r.a) > bytes(r.b)).length),
        mean(rows.map((r) => bytes(r.a))).toFixed(1), mean(rows.map((r) => bytes(r.b))).toFixed(1)];
    });
    expect([...cardRows(5)].sort()).toEqual(expected.sort());
  });

  test('file sizes and sha256 checksums', () => {
    const rows = cardRows(3);
    expect(rows.map((r) => r[0]).sort()).toEqual([...SPLITS, ...probeFiles().map((f) => `probes/${f}`)].sort());
    for (const [rel, size, sha] of rows) {
      const buf = fs.readFileSync(path.join(DATA, rel));
      expect({ rel, size: String(buf.length), sha: crypto.createHash('sha256').update(buf).digest('hex') }).toEqual({ rel, size, sha });
    }
  });
});
