/**
 * `rlhf data inspect` exits like a linter: 0 when every record is valid; 1 when any is invalid, after the
 * whole report (every file read to the end, each invalid record counted); --skip-invalid makes them a
 * warning (exit 0). A file that cannot be read at all is still an error.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { rlhf } from './helpers';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-inspect-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const good = (i: number) => JSON.stringify({ prompt: `p${i}`, chosen: `c${i}`, rejected: `r${i}` });
const clean = path.join(root, 'clean.jsonl');
const dirty = path.join(root, 'dirty.jsonl');
fs.writeFileSync(clean, [0, 1, 2].map(good).join('\n') + '\n');
// Lines 2 and 5 are invalid (a missing field, then not JSON); the valid records after them are still read.
fs.writeFileSync(dirty, [good(0), JSON.stringify({ prompt: 'p', chosen: 'c' }), good(2), good(3), '{not json', good(5)].join('\n') + '\n');

test('clean data: exit 0, nothing on stderr', async () => {
  const r = await rlhf('data', 'inspect', clean);
  expect([r.code, r.stderr]).toEqual([0, '']);
  expect(r.stdout).toContain('records: 3  invalid: 0');
});

test('invalid records: the full report on stdout, then exit 1 with one error line', async () => {
  const r = await rlhf('data', 'inspect', dirty);
  expect(r.code).toBe(1);
  expect(r.stdout).toContain('records: 4  invalid: 2');
  expect(r.stdout).toContain('dirty.jsonl:2');
  expect(r.stdout).toContain('dirty.jsonl:5');
  expect(r.stdout).toContain('token lengths'); // the report went on past the invalid records
  expect(r.stderr).toBe('error: 2 invalid records (listed in the report above); fix them, or pass --skip-invalid to accept them (training then needs --skip-invalid too)\n');
});

test('invalid records with --json: the report object, then exit 1', async () => {
  const r = await rlhf('data', 'inspect', dirty, '--json');
  expect(r.code).toBe(1);
  expect(r.json()).toMatchObject({ records: 4, invalid: 2 });
});

test('--skip-invalid: the same report, a warning, exit 0', async () => {
  const r = await rlhf('data', 'inspect', dirty, '--skip-invalid');
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('records: 4  invalid: 2');
  expect(r.stderr).toBe('warning: 2 invalid records (listed in the report above); training with --skip-invalid skips them\n');
});

test('several files: invalid records in any of them fail the whole inspection', async () => {
  const r = await rlhf('data', 'inspect', clean, dirty);
  expect(r.code).toBe(1);
  expect(r.stdout).toContain('records: 7  invalid: 2');
});

test('a file that cannot be read is still an error (exit 1)', async () => {
  const r = await rlhf('data', 'inspect', path.join(root, 'missing.jsonl'));
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/^error: .*missing\.jsonl/);
});

test('--format takes the same words as rlhf dpo and data.format (tokenized = pretokenized)', async () => {
  const ids = path.join(root, 'ids.jsonl');
  fs.writeFileSync(ids, JSON.stringify({ prompt_input_ids: [5, 6], chosen_input_ids: [7], rejected_input_ids: [8] }) + '\n');
  for (const word of ['tokenized', 'pretokenized', 'auto']) {
    const r = await rlhf('data', 'inspect', ids, '--format', word, '--json');
    expect([word, r.code, r.stderr]).toEqual([word, 0, '']);
    expect(r.json()).toMatchObject({ records: 1, invalid: 0, pretokenized: 1 });
  }
  const bad = await rlhf('data', 'inspect', ids, '--format', 'tokenised');
  expect(bad.code).toBe(1);
  expect(bad.stderr).toMatch(/Choices: "auto", "explicit", "implicit", "instruction", "sharegpt", "pretokenized", "conversational", "tokenized"/);
});
