/** The generator is deterministic and the committed data/ is exactly what it writes. */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DATA, GENERATOR, generatorFiles, listFiles } from './shipped';

function runGenerator(args: string[]) {
  return spawnSync(process.execPath, [GENERATOR, ...args], { encoding: 'utf8' });
}

describe('scripts/generate-data.js', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-data-'));
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test('regenerating into a temp dir gives byte-identical files to the committed ones (card included)', () => {
    // The card's prose is hand-written; the generator rewrites only its statistics block, so copy it in.
    fs.copyFileSync(path.join(DATA, 'README.md'), path.join(tmp, 'README.md'));
    const res = runGenerator(['--out', tmp]);
    expect(res.stderr).toBe('');
    expect(res.status).toBe(0);
    const committed = generatorFiles();
    expect(listFiles(tmp)).toEqual(committed);
    expect(committed).toEqual(expect.arrayContaining(['prefs.jsonl', 'prefs-eval.jsonl', 'probes/verbosity.jsonl']));
    for (const rel of committed) {
      const a = fs.readFileSync(path.join(DATA, rel));
      const b = fs.readFileSync(path.join(tmp, rel));
      expect({ rel, same: a.equals(b) }).toEqual({ rel, same: true });
    }
  });

  test('two runs write the same bytes', () => {
    const second = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-data-'));
    try {
      expect(runGenerator(['--out', tmp]).status).toBe(0);
      expect(runGenerator(['--out', second]).status).toBe(0);
      for (const rel of listFiles(tmp)) {
        expect(fs.readFileSync(path.join(second, rel)).equals(fs.readFileSync(path.join(tmp, rel)))).toBe(true);
      }
    } finally {
      fs.rmSync(second, { recursive: true, force: true });
    }
  });

  test('--check passes on the committed data and fails, naming the file, when one is changed', () => {
    const ok = runGenerator(['--check']);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('up to date');

    fs.copyFileSync(path.join(DATA, 'README.md'), path.join(tmp, 'README.md'));
    expect(runGenerator(['--out', tmp]).status).toBe(0);
    fs.appendFileSync(path.join(tmp, 'prefs-eval.jsonl'), '{}\n');
    const stale = runGenerator(['--out', tmp, '--check']);
    expect(stale.status).toBe(1);
    expect(stale.stderr).toContain('out of date: prefs-eval.jsonl; run: node scripts/generate-data.js');
  });

  test('a rewrite drops stale probe files but keeps the sets built from templates (probes/templates/<probe>.json)', () => {
    fs.mkdirSync(path.join(tmp, 'probes', 'templates'), { recursive: true });
    fs.writeFileSync(path.join(tmp, 'probes', 'templates', 'mine.json'), '{}');
    fs.writeFileSync(path.join(tmp, 'probes', 'mine.jsonl'), 'kept\n');
    fs.writeFileSync(path.join(tmp, 'probes', 'stale.jsonl'), 'dropped\n');
    expect(runGenerator(['--out', tmp]).status).toBe(0);
    expect(fs.readFileSync(path.join(tmp, 'probes', 'mine.jsonl'), 'utf8')).toBe('kept\n');
    expect(fs.existsSync(path.join(tmp, 'probes', 'stale.jsonl'))).toBe(false);
  });

  test('a card without the statistics markers is an error that says what to add', () => {
    fs.writeFileSync(path.join(tmp, 'README.md'), '# my card\n');
    const res = runGenerator(['--out', tmp]);
    expect(res.status).toBe(1);
    expect(res.stderr).toContain('the generated statistics markers are missing');
    expect(res.stderr).toContain('<!-- END GENERATED STATS -->');
  });

  test('an unknown argument is an error that shows the usage', () => {
    const res = runGenerator(['--seed', '3']);
    expect(res.status).toBe(1);
    expect(res.stderr).toContain('unknown argument "--seed"; usage: node scripts/generate-data.js [--out DIR] [--check]');
  });
});
