/**
 * The live progress line (src/util/progress.ts): under a pseudo-terminal (util-linux `script`), a training run
 * draws one redrawn line with a bar, step/total, rate, ETA and the loss, with its log lines above it; through a
 * pipe the output is exactly the plain log lines (no escape codes, no carriage returns); --quiet prints neither.
 * Does NOT check the numbers of a run (test/train does).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describeIf, type Requirement } from '../helpers/gates';
import { buildForChildren, childEnv } from '../reliability/helpers/build';
import { Progress, formatEta } from '../../src/util/progress';

const REPO = path.resolve(__dirname, '../..');

const scriptCommand: Requirement = {
  name: 'util-linux `script` (a pseudo-terminal)',
  missing: () => (spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0 ? null : 'script is not on PATH'),
  fix: 'install util-linux (Debian: apt-get install util-linux)',
};

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The CLI (transpiled sources) as a shell command line. */
function cli(args: string[]): string {
  return [process.execPath, path.join(buildForChildren(), 'test/reliability/helpers/cli-child.js'), ...args].map(quote).join(' ');
}

function sh(command: string): { status: number | null; out: string } {
  const r = spawnSync('sh', ['-c', command], { cwd: REPO, env: childEnv(), encoding: 'utf8', timeout: 240_000 });
  if (r.error) throw r.error;
  return { status: r.status, out: r.stdout };
}

const train = (out: string, extra: string[] = []) =>
  cli(['reward', '--model', 'config:tiny', '--data', 'data/prefs.jsonl', '--limit', '64', '--max-steps', '12', '--batch-size', '4', '--set', 'reward.logging_steps=5', '--out', out, ...extra]);

/** Terminal output as lines: each redraw (cursor to column 1, or a carriage return) starts one; other escapes removed. */
const screenLines = (raw: string) =>
  raw.replace(/\x1b\[\d*G/g, '\n').replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').split(/\r|\n/).filter((l) => l.trim() !== '');

describeIf(scriptCommand, 'progress on a terminal and through a pipe', () => {
  let root: string;
  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-progress-'));
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  test('a terminal gets the live line with a bar, step/total, rate, ETA and the loss; the log lines stay', () => {
    const r = sh(`script -qfec ${quote(train(path.join(root, 'tty')))} /dev/null`);
    expect(r.status).toBe(0);
    const lines = screenLines(r.out);
    const live = lines.filter((l) => l.startsWith('reward '));
    expect(live.length).toBeGreaterThan(0);
    expect(live.some((l) => /^reward [█░]{24} \d+\/12 steps \| (\d+(\.\d)? steps\/s|\d+\.\d s\/step) \| ETA \d+s \| loss \d\.\d{4} \| accuracy \d\.\d{4}/.test(l))).toBe(true);
    expect(r.out).toMatch(/\x1b\[/); // drawn with cursor control, not printed as lines
    for (const step of [5, 10, 12]) expect(lines.some((l) => l.startsWith(`step ${step}/12 | loss `))).toBe(true);
  });

  test('through a pipe: exactly the plain log lines, as before the live line existed', () => {
    const r = sh(`${train(path.join(root, 'pipe'))} 2>&1 >/dev/null | cat`);
    expect(r.out).not.toMatch(/[\x1b\r]/);
    const lines = r.out.trimEnd().split('\n');
    expect(lines.map((l) => l.replace(/ \d+(\.\d+)?(?= \||$)/g, ' N'))).toEqual(
      [5, 10, 12].map((s) => `step ${s}/12 | loss N | accuracy N | grad_norm N | tok/s N`),
    );
  });

  test('--quiet on a terminal: no live line and no log lines', () => {
    const r = sh(`script -qfec ${quote(train(path.join(root, 'quiet'), ['--quiet']))} /dev/null`);
    expect(r.status).toBe(0);
    const lines = screenLines(r.out);
    expect(lines.filter((l) => l.startsWith('reward ') || l.startsWith('step '))).toEqual([]);
    expect(JSON.parse(lines[lines.length - 1])).toMatchObject({ stage: 'reward', steps: 12 }); // stdout: the summary only
  });
});

describe('Progress without a terminal', () => {
  /** A stream that records writes; isTTY as given. */
  const stream = (isTTY: boolean) => {
    const writes: string[] = [];
    return { writes, s: { isTTY, write: (c: string) => (writes.push(c), true) } as unknown as NodeJS.WriteStream };
  };

  test('not a terminal: tick draws nothing, log writes the line as it is', () => {
    const { writes, s } = stream(false);
    const p = new Progress(10, 'x', { stream: s });
    expect(p.live).toBe(false);
    p.tick(3, { loss: 0.5 });
    p.log('step 3/10 | loss 0.5000');
    p.finish();
    expect(writes).toEqual(['step 3/10 | loss 0.5000\n']);
  });

  test('disabled (--quiet): nothing at all, terminal or not', () => {
    for (const tty of [true, false]) {
      const { writes, s } = stream(tty);
      const p = new Progress(10, 'x', { stream: s, enabled: false });
      p.tick(3);
      p.log('a line');
      p.finish();
      expect(writes).toEqual([]);
    }
  });

  test('formatEta', () => {
    expect([8, 157, 3725, NaN, -1].map(formatEta)).toEqual(['8s', '2m37s', '1h02m', '?', '?']);
  });
});
