/**
 * The CLI as users run it: `node bin/rlhf.js`, i.e. the compiled dist/ (the other CLI tests call src/ in-process).
 * `--help`, `env --json`, a stderr free of TensorFlow's start-up lines, and two-step `reward` and `dpo` runs on the shipped data/prefs.jsonl from config:tiny,
 * each printing its summary.json object as the last stdout line.
 *
 * A dist/ that is missing or built from other sources fails every test here with the way out (`npm run build`):
 * scripts/build-stamp.js compares dist/.build-stamp.json with a hash of src/ and the tsconfig files.
 * Does NOT: check the numbers of a run (test/train does), only that the shipped entry point runs end to end.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { testIf } from '../helpers/gates';
import { nativeBackend } from '../helpers/native';

const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin', 'rlhf.js');
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { staleness } = require('../../scripts/build-stamp.js') as { staleness(root: string, opts?: { quick?: boolean }): string | null };

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `node bin/rlhf.js ARGS` in the repository, on the backend this test file runs on (RLHF_BACKEND passes through). */
function rlhf(...args: string[]): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 240_000, env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' } });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The last stdout line as a JSON object (the summary the training commands print), with the output when it is not one. */
function lastJson(r: Run): Record<string, unknown> {
  const last = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(last) as Record<string, unknown>;
  } catch {
    throw new Error(`the last stdout line is not JSON: ${JSON.stringify(last)}\nstderr (tail): ${r.stderr.slice(-1500)}`);
  }
}

let tmp: string;
beforeAll(() => {
  const why = staleness(ROOT);
  if (why) throw new Error(`${why}: this test runs bin/rlhf.js, which runs dist/; run \`npm run build\` first`);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-shipped-cli-'));
});
afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('--help lists the commands and exits 0', () => {
  const r = rlhf('--help');
  expect(r.code).toBe(0);
  for (const cmd of ['env', 'sft', 'reward', 'dpo', 'compare', 'score', 'generate', 'data', 'run', 'export', 'bench', 'recipe']) {
    expect({ cmd, listed: new RegExp(`^ {2}rlhf ${cmd}\\b`, 'm').test(r.stdout) }).toEqual({ cmd, listed: true });
  }
  expect(r.stderr).not.toMatch(/warning: dist\//); // the stamp matched: no stale-build warning
});

test('env --json names the backend it runs, its version and threads', () => {
  const r = rlhf('env', '--json');
  expect(r.code).toBe(0);
  const env = lastJson(r);
  expect(['tensorflow', 'wasm', 'cpu']).toContain(env.backend);
  if (process.env.RLHF_BACKEND) expect(env.backend).toBe(process.env.RLHF_BACKEND);
  expect(env).toEqual(expect.objectContaining({ backendVersion: expect.any(String), threads: expect.any(Number) }));
  expect(env.text).toMatch(/^backend: +\S+/m);
});

// TensorFlow prints these two INFO lines while its library loads (src/backend/startup-log.ts); --verbose keeps them.
const STARTUP_LINES = [/^WARNING: All log messages before absl::InitializeLog\(\)/m, /^I\d{4} .*port\.cc:\d+\] oneDNN custom operations are on/m];

testIf(nativeBackend, 'env on the tensorflow backend: no TensorFlow start-up lines on stderr, both with --verbose', () => {
  // stderr through a real pipe (a shell's `|`), as a terminal pipeline or a CI log has it; Node's own spawn would
  // hand the child a socket, which startup-log.ts cannot reopen (there the lines stay: README, "A clean terminal").
  // Without TF_CPP_MIN_LOG_LEVEL from this test: the user's environment as it is by default.
  const run = (...args: string[]) => {
    const env = { ...process.env };
    delete env.TF_CPP_MIN_LOG_LEVEL;
    const cmd = `"${process.execPath}" "${BIN}" env --backend tensorflow ${args.join(' ')} 2>&1 >/dev/null | cat`;
    const r = spawnSync('sh', ['-c', cmd], { cwd: ROOT, encoding: 'utf8', timeout: 120_000, env });
    if (r.error) throw r.error;
    return r.stdout; // the CLI's stderr
  };
  const quiet = run();
  for (const re of STARTUP_LINES) expect({ line: String(re), stderr: re.test(quiet) }).toEqual({ line: String(re), stderr: false });
  expect(quiet).toBe('');
  const verbose = run('--verbose');
  for (const re of STARTUP_LINES) expect({ line: String(re), stderr: re.test(verbose) }).toEqual({ line: String(re), stderr: true });
});

/** Checks a summary of a 2-step run from config:tiny on 16 pairs, and that its model folder was written. */
function expectTwoStepSummary(s: Record<string, unknown>, stage: string, out: string): void {
  expect(s).toEqual(expect.objectContaining({ stage, out, model: path.join(out, 'final'), parent: 'config:tiny', stopped_by: 'max_steps', steps: 2 }));
  const train = s.train as Record<string, number>;
  expect(Number.isFinite(train.loss)).toBe(true);
  expect((s.data as Record<string, number>).train_records).toBe(16);
  expect((s.backend as Record<string, unknown>).name).toEqual(expect.any(String));
  expect(s.tokens_per_second).toBeGreaterThan(0);
  for (const f of ['config.json', 'model.safetensors', 'rlhf.json']) expect({ f, there: fs.existsSync(path.join(out, 'final', f)) }).toEqual({ f, there: true });
  expect(JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'))).toEqual(s);
}

const TWO_STEPS = ['--model', 'config:tiny', '--data', 'data/prefs.jsonl', '--limit', '16', '--max-steps', '2', '--batch-size', '4', '--quiet'];

test('reward: 2 steps on data/prefs.jsonl; the last stdout line is the summary', () => {
  const out = path.join(tmp, 'reward');
  const r = rlhf('reward', ...TWO_STEPS, '--out', out);
  expect({ code: r.code, stderr: r.stderr.slice(-1500) }).toEqual({ code: 0, stderr: expect.any(String) });
  const s = lastJson(r);
  expectTwoStepSummary(s, 'reward', out);
  expect(Object.keys(s.train as object)).toEqual(expect.arrayContaining(['accuracy', 'margin', 'grad_norm']));
});

test('dpo: 2 steps on data/prefs.jsonl; the last stdout line is the summary', () => {
  const out = path.join(tmp, 'dpo');
  const r = rlhf('dpo', ...TWO_STEPS, '--out', out);
  expect({ code: r.code, stderr: r.stderr.slice(-1500) }).toEqual({ code: 0, stderr: expect.any(String) });
  const s = lastJson(r);
  expectTwoStepSummary(s, 'dpo', out);
  expect(Object.keys(s.train as object)).toEqual(expect.arrayContaining(['rewards/accuracies', 'rewards/margins', 'logps/chosen']));
  // Reference log-probs for all 16 pairs: computed now, or found in the cache from an earlier identical run.
  const ref = s.reference as { cached_pairs: number; computed_pairs: number };
  expect(ref.cached_pairs + ref.computed_pairs).toBe(16);
});
