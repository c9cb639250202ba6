/**
 * fn:FILE.mjs runs a user's function in a worker thread: results in order (sync and async), `row` carries the
 * index and the caller's fields, and every way it can go wrong (a throw, a rejection, NaN, a non-number, a hang,
 * a bad module) is a one-line RewardError naming the file and the row, after which the worker is gone and the
 * next call starts a fresh one.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { fnSource, RewardError } from '../../src/rewards';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-fn-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function mod(name: string, body: string): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, body);
  return f;
}

const P = ['a', 'bb', 'ccc'];
const C = ['x', 'yy yy', ''];

test('sync: one score per pair, in order; row.index and the caller\'s fields reach the function', async () => {
  const f = mod('len.mjs', 'export default (p, c, row) => p.length * 100 + c.length + (row.bonus ?? 0) + row.index / 10;');
  const r = fnSource(f);
  try {
    expect(r.name).toBe(`fn:${f}`);
    expect(await r.score(P, C)).toEqual([101, 205.1, 300.2]);
    expect(await r.score(P, C, [{ bonus: 1000 }, {}, { bonus: -1 }])).toEqual([1101, 205.1, 299.2]);
    expect(await r.score([], [])).toEqual([]);
  } finally {
    r.dispose!();
  }
});

test('async functions are awaited, one call at a time', async () => {
  const f = mod('async.mjs', `let running = 0;
export default async (p, c) => { running++; const mine = running; await new Promise((r) => setTimeout(r, 5)); running--; return mine === 1 ? c.split(' ').length : -1; };`);
  const r = fnSource(f);
  try {
    expect(await r.score(P, C)).toEqual([1, 2, 1]);
  } finally {
    r.dispose!();
  }
});

describe('failures: one line naming the file and the row', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['throws.mjs', 'export default (p, c, row) => { if (row.index === 1) throw new Error("bad pair\\nsecond line"); return 1; };', /row 1: threw Error: bad pair;/],
    ['rejects.mjs', 'export default async (p, c, row) => { if (row.index === 2) throw new RangeError("nope"); return 1; };', /row 2: threw RangeError: nope;/],
    ['nan.mjs', 'export default (p, c, row) => (row.index === 1 ? NaN : 0);', /row 1: returned NaN;/],
    ['inf.mjs', 'export default () => -Infinity;', /row 0: returned -Infinity;/],
    ['string.mjs', 'export default (p, c, row) => (row.index === 2 ? "0.5" : 0);', /row 2: returned the string "0.5", not a number;/],
    ['bool.mjs', 'export default () => true;', /row 0: returned a boolean \(true\), not a number;/],
    ['undef.mjs', 'export default () => {};', /row 0: returned undefined, not a number;/],
    ['nodefault.mjs', 'export const score = () => 1;', /cannot load the module: TypeError: its default export is missing, not a function/],
    ['syntax.mjs', 'export default (p => ;', /cannot load the module: SyntaxError/],
  ];
  test.each(cases)('%s', async (file, body, expected) => {
    const f = mod(file, body);
    const r = fnSource(f);
    try {
      const err = await r.score(P, C).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(RewardError);
      const msg = (err as Error).message;
      expect(msg).toMatch(expected);
      expect(msg).toContain(f);
      expect(msg).not.toContain('\n');
    } finally {
      r.dispose!();
    }
  });
});

test('a hang is a timeout naming the row; the worker is stopped and the next call starts a fresh one', async () => {
  const f = mod('hang.mjs', `export default (p, c, row) => { if (p === 'hang') { for (;;) {} } return row.index; };`);
  const r = fnSource(f, { timeoutMs: 400 });
  try {
    const t0 = Date.now();
    await expect(r.score(['ok', 'hang', 'ok'], ['', '', ''])).rejects.toThrow(/row 1: no result within 0.4 s \(timeout; the worker was stopped\)/);
    expect(Date.now() - t0).toBeLessThan(10_000);
    // The spinning worker is gone: a fresh one answers.
    expect(await r.score(['ok', 'ok'], ['', ''])).toEqual([0, 1]);
  } finally {
    r.dispose!();
  }
});

test('a never-settling promise times out too; a worker that exits is an error', async () => {
  const never = fnSource(mod('never.mjs', 'export default () => new Promise(() => {});'), { timeoutMs: 300 });
  await expect(never.score(['a'], ['b'])).rejects.toThrow(/row 0: no result within 0.3 s/);
  never.dispose!();
  const exits = fnSource(mod('exit.mjs', 'export default () => process.exit(3);'));
  await expect(exits.score(['a'], ['b'])).rejects.toThrow(/row 0: the worker exited \(code 3\)/);
  exits.dispose!();
});

test('a missing file is named at once, with a near miss; misaligned inputs are refused', async () => {
  mod('reward.mjs', 'export default () => 1;');
  expect(() => fnSource(path.join(dir, 'rewrd.mjs'))).toThrow(/no such file .*rewrd\.mjs \(did you mean .*reward\.mjs\?\)/);
  const r = fnSource(path.join(dir, 'reward.mjs'));
  await expect(r.score(['a', 'b'], ['c'])).rejects.toThrow('2 prompts but 1 completions');
  await expect(r.score(['a'], ['c'], [{}, {}])).rejects.toThrow('2 rows for 1 pairs');
  r.dispose!();
});
