/**
 * One run per output folder, through the CLI: two `rlhf reward --out X` started together (child processes)
 * leave one run's metrics and model, and the other exits 1 naming the first; a dead run's lock is taken
 * over; a live run's lock stops every command that writes a folder (sft/reward/dpo, run, compare, export)
 * and `--overwrite` deletes nothing it holds; the lock goes when a run ends, fails, or is stopped by a signal.
 * Live "other runs" are a sleeping child process whose pid a hand-written lock file names.
 */
import { execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { INSIDE_LOCK, lockFileFor } from '../../src/io/lock';
import { rlhf, rlhfChild } from './helpers';

jest.setTimeout(300_000);

const REPO = path.resolve(__dirname, '../..');
const DATA = path.join(REPO, 'data/prefs.jsonl');
const EVAL = path.join(REPO, 'data/prefs-eval.jsonl');
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-cli-lock-'));
const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 600000)'], { stdio: 'ignore' });
afterAll(() => {
  sleeper.kill('SIGKILL');
  unmountVolume(); // (the read-only-parent case at the end)
  fs.rmSync(root, { recursive: true, force: true });
});
const tiny = ['--model', 'config:tiny', '--data', DATA, '--limit', '8', '--batch-size', '4', '--max-length', '64', '--max-prompt-length', '32', '--quiet'];

/** A lock file as another run would leave it. */
function lockBy(dir: string, pid: number): string {
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  fs.writeFileSync(lockFileFor(dir), JSON.stringify({ pid, host: os.hostname(), since: '2025-01-02T03:04:05.000Z', command: 'rlhf reward --out x', token: `t${pid}` }));
  return lockFileFor(dir);
}

const heldBy = (dir: string, pid: number) =>
  `error: output folder ${dir} is in use by another run: pid ${pid} on host ${os.hostname()} since 2025-01-02T03:04:05.000Z (rlhf reward --out x); ` +
  `wait for it to finish or choose another --out. If no such run exists, delete ${lockFileFor(dir)}\n`;

function metricSteps(out: string): number[] {
  return fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).step as number);
}

test('two `rlhf reward --out X` started together: one trains, the other exits 1 at once naming it; one run\'s metrics only', async () => {
  const out = path.join(root, 'race', 'rm');
  // 150 steps: seconds of training, so the second run asks while the first holds the folder.
  const args = ['reward', ...tiny, '--max-steps', '150', '--out', out];
  const [a, b] = await Promise.all([rlhfChild(args), rlhfChild(args)]);
  const [winner, loser] = a.code === 0 ? [a, b] : [b, a];
  expect([winner.code, loser.code]).toEqual([0, 1]);
  expect(loser.stderr).toMatch(new RegExp(`^error: output folder ${out} is in use by another run: pid ${winner.pid} on host ${os.hostname()} since \\S+ \\(cli-child reward .*\\); wait for it to finish or choose another --out\\. If no such run exists, delete ${lockFileFor(out)}\\n$`));
  expect(loser.stdout).toBe('');
  expect(winner.json()).toMatchObject({ stage: 'reward', steps: 150, stopped_by: 'max_steps' });
  expect(metricSteps(out)).toEqual(Array.from({ length: 150 }, (_, i) => i + 1));
  expect(fs.existsSync(lockFileFor(out))).toBe(false);
});

test('a dead run\'s lock is taken over with a warning; the run then releases it', async () => {
  const out = path.join(root, 'stale', 'rm');
  const dead = Number(String(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout));
  lockBy(out, dead);
  const r = await rlhf('reward', ...tiny, '--max-steps', '1', '--out', out);
  expect(r.code).toBe(0);
  expect(r.stderr).toBe(`warning: output folder ${out} was locked by pid ${dead} (host ${os.hostname()}, since 2025-01-02T03:04:05.000Z), which is no longer running; took the lock over\n`);
  expect(fs.existsSync(lockFileFor(out))).toBe(false);
});

describe('a live run\'s lock stops every command that writes a folder, and --overwrite deletes nothing it holds', () => {
  test('sft / reward / dpo, with and without --overwrite; the folder keeps its run', async () => {
    const out = path.join(root, 'live', 'rm');
    expect((await rlhf('reward', ...tiny, '--max-steps', '1', '--out', out)).code).toBe(0);
    const before = fs.readdirSync(out).sort();
    lockBy(out, sleeper.pid!);
    for (const stage of ['sft', 'reward', 'dpo']) {
      for (const extra of [[], ['--overwrite'], ['--resume']]) {
        const r = await rlhf(stage, ...tiny, '--max-steps', '1', '--out', out, ...extra);
        expect([stage, extra, r.code, r.stderr]).toEqual([stage, extra, 1, heldBy(out, sleeper.pid!)]);
      }
    }
    expect(fs.readdirSync(out).sort()).toEqual(before);
    fs.rmSync(lockFileFor(out));
  });

  test('--overwrite of a folder with a live run inside it is refused, naming that run', async () => {
    const parent = path.join(root, 'nested', 'run');
    expect((await rlhf('reward', ...tiny, '--max-steps', '1', '--out', parent)).code).toBe(0);
    const inner = path.join(parent, 'dpo');
    fs.mkdirSync(inner);
    fs.writeFileSync(path.join(inner, 'metrics.jsonl'), '');
    lockBy(inner, sleeper.pid!);
    const r = await rlhf('reward', ...tiny, '--max-steps', '1', '--out', parent, '--overwrite');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^error: --overwrite would delete ${inner}, which a run is writing: pid ${sleeper.pid} on host `));
    expect(fs.existsSync(path.join(inner, 'metrics.jsonl'))).toBe(true);
    expect(fs.existsSync(path.join(parent, 'final'))).toBe(true);
    fs.rmSync(lockFileFor(inner));
  });

  test('rlhf run: the run folder, and each stage folder', async () => {
    const out = path.join(root, 'pipeline', 'p');
    const recipe = path.join(root, 'pipeline.json');
    fs.writeFileSync(recipe, JSON.stringify({
      name: 'p', out, data: { train: DATA, limit: 8 },
      reward: { max_steps: 1, batch_size: 4, max_length: 64, max_prompt_length: 32 }, dpo: { enabled: false }, compare: { enabled: false },
    }));
    lockBy(out, sleeper.pid!);
    const a = await rlhf('run', recipe, '--quiet');
    expect([a.code, a.stderr]).toEqual([1, heldBy(out, sleeper.pid!)]);
    fs.rmSync(lockFileFor(out));
    lockBy(path.join(out, 'reward'), sleeper.pid!);
    const b = await rlhf('run', recipe, '--quiet');
    expect([b.code, b.stderr]).toEqual([1, heldBy(path.join(out, 'reward'), sleeper.pid!)]);
    expect(fs.existsSync(path.join(out, 'reward'))).toBe(false); // refused before the stage touched its folder
    fs.rmSync(lockFileFor(path.join(out, 'reward')));
    expect(fs.readdirSync(path.dirname(out))).toEqual(['p']); // the run released its own lock
  });

  test('compare and export', async () => {
    const rm = path.join(root, 'models', 'rm');
    expect((await rlhf('reward', ...tiny, '--max-steps', '1', '--out', rm)).code).toBe(0);
    const cmp = path.join(root, 'models', 'cmp');
    lockBy(cmp, sleeper.pid!);
    const c = await rlhf('compare', '--reward-model', rm, '--policy', rm, '--reference', 'config:tiny', '--data', EVAL, '--out', cmp, '--quiet');
    expect([c.code, c.stderr]).toEqual([1, heldBy(cmp, sleeper.pid!)]);
    const exp = path.join(root, 'models', 'exported');
    lockBy(exp, sleeper.pid!);
    const e = await rlhf('export', '--model', rm, '--out', exp, '--overwrite');
    expect([e.code, e.stderr]).toEqual([1, heldBy(exp, sleeper.pid!)]);
    expect(fs.existsSync(exp)).toBe(false);
  });
});

describe('the lock goes however the run ends', () => {
  test('an error (bad data path) releases it', async () => {
    const out = path.join(root, 'ends', 'error');
    const r = await rlhf('reward', ...tiny.map((a) => (a === DATA ? path.join(REPO, 'data/nope.jsonl') : a)), '--out', out);
    expect(r.code).toBe(1);
    expect(fs.existsSync(lockFileFor(out))).toBe(false);
  });

  /** Starts a long reward run in a child process and sends `signals` once it has logged a step. */
  async function signalled(name: string, signals: NodeJS.Signals[], extra: string[] = []) {
    const out = path.join(root, 'ends', name);
    const r = await rlhfChild(['reward', ...tiny, '--max-steps', '100000', '--out', out, ...extra], {
      onSpawn: (child) => {
        const t = setInterval(() => {
          const started = extra.length ? fs.existsSync(lockFileFor(out)) : fs.existsSync(path.join(out, 'metrics.jsonl'));
          if (!started) return;
          clearInterval(t);
          signals.forEach((s, i) => setTimeout(() => child.kill(s), (extra.length ? 2000 : 0) + 300 * i));
        }, 50);
        child.on('close', () => clearInterval(t));
      },
    });
    return { r, out };
  }

  test.each(['SIGTERM', 'SIGINT'] as const)('%s: the run checkpoints, exits 130, and the lock is gone', async (sig) => {
    const { r, out } = await signalled(sig, [sig]);
    expect(r.code).toBe(130);
    expect(r.json()).toMatchObject({ stopped_by: 'signal' });
    expect(fs.existsSync(lockFileFor(out))).toBe(false);
  });

  test('a second SIGTERM (stop now) still removes the lock; the process ends by the signal', async () => {
    // 1024 micro-batches per step (seconds): the first signal is not honoured at a step's end before the second.
    const { r, out } = await signalled('twice', ['SIGTERM', 'SIGTERM'], ['--set', 'reward.gradient_accumulation_steps=1024']);
    expect(r.signal).toBe('SIGTERM');
    expect(fs.existsSync(lockFileFor(out))).toBe(false);
  });
});

/**
 * A volume mounted at the output folder inside a read-only filesystem (a container's /output with a read-only
 * root): the lock cannot go beside the folder, so it goes inside it. Needs root and `mount -t tmpfs`.
 */
const vol = path.join(root, 'ro-parent');
function mountVolume(): string | null {
  if (process.getuid?.() !== 0) return 'not root';
  try {
    fs.mkdirSync(vol);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', vol], { stdio: 'pipe' });
    fs.mkdirSync(path.join(vol, 'output'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', path.join(vol, 'output')], { stdio: 'pipe' });
    execFileSync('mount', ['-o', 'remount,ro', vol], { stdio: 'pipe' });
    return null;
  } catch (e) {
    return `mount -t tmpfs failed (${String((e as { stderr?: Buffer }).stderr ?? e).trim()})`;
  }
}
const noVolume = mountVolume();
if (noVolume) process.stdout.write(`cli/lock.test: ${noVolume}; the read-only-parent case is skipped\n`);
function unmountVolume(): void {
  if (noVolume) return;
  spawnSync('umount', [path.join(vol, 'output')]);
  spawnSync('umount', [vol]);
}

(noVolume ? test.skip : test)('an output folder whose parent is read-only holds its lock inside; --overwrite keeps it; a live one stops a second run', async () => {
  const out = path.join(vol, 'output');
  expect(() => fs.writeFileSync(path.join(vol, 'probe'), '')).toThrow(/EROFS/);
  const a = await rlhf('reward', ...tiny, '--max-steps', '1', '--out', out);
  expect([a.code, a.stderr]).toEqual([0, '']);
  const b = await rlhf('reward', ...tiny, '--max-steps', '2', '--out', out, '--overwrite');
  expect([b.code, b.stderr]).toEqual([0, '']);
  expect(b.json()).toMatchObject({ steps: 2 });
  expect(fs.readdirSync(out)).not.toContain(INSIDE_LOCK); // released
  fs.writeFileSync(path.join(out, INSIDE_LOCK), JSON.stringify({ pid: sleeper.pid, host: os.hostname(), since: '2025-01-02T03:04:05.000Z', command: 'rlhf reward --out x', token: 't' }));
  const c = await rlhf('reward', ...tiny, '--max-steps', '1', '--out', out, '--overwrite');
  expect(c.code).toBe(1);
  expect(c.stderr).toContain(`error: output folder ${out} is in use by another run: pid ${sleeper.pid} on host ${os.hostname()}`);
  expect(c.stderr).toContain(`delete ${path.join(out, INSIDE_LOCK)}`);
  expect(fs.existsSync(path.join(out, 'final'))).toBe(true);
  fs.rmSync(path.join(out, INSIDE_LOCK));
});
