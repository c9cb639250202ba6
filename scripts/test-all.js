#!/usr/bin/env node
/**
 * The project's test command (npm test): the whole jest suite on the default backend (native when
 * built, see `rlhf env`), then the backend-sensitive suites again on wasm, then one closing line
 * "tests: N passed, N failed, N skipped" over both runs. Exit code 1 if anything failed.
 * Extra arguments are passed to jest (e.g. a path filter); RLHF_SKIP_WASM=1 skips the wasm pass.
 *
 * wasm runs as the CLI runs it (threaded unless RLHF_WASM_THREADS says otherwise). Each pass is killed after
 * RLHF_TEST_TIMEOUT_MIN minutes (default 30) and then counts as failed, so a hang fails CI quickly instead of
 * running into its time limit. After both passes it lists every failed test again, with the machine.
 */
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..');
const jest = path.join(root, 'node_modules', 'jest', 'bin', 'jest.js');
const extra = process.argv.slice(2);
// Suites whose numbers depend on the backend's kernels: they must pass on wasm too.
const WASM_SUITES = ['test/backend', 'test/model', 'test/losses', 'test/train'];

function runJest(label, args, env) {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-jest-')), 'results.json');
  process.stderr.write(`\n=== ${label} ===\n`);
  const started = Date.now();
  const timeout = Number(process.env.RLHF_TEST_TIMEOUT_MIN || 30) * 60 * 1000;
  const r = spawnSync(process.execPath, [jest, '--json', `--outputFile=${out}`, ...args], {
    stdio: 'inherit', env: { ...process.env, ...env }, cwd: root, timeout, killSignal: 'SIGKILL',
  });
  if (r.signal) process.stderr.write(`${label}: killed by ${r.signal}${r.error ? ` (${r.error.message})` : ''}\n`);
  let res = { numPassedTests: 0, numFailedTests: 0, numPendingTests: 0, numTodoTests: 0, success: false, numFailedTestSuites: 0, numRuntimeErrorTestSuites: 0 };
  try {
    res = JSON.parse(fs.readFileSync(out, 'utf8'));
  } catch {
    process.stderr.write(`${label}: jest wrote no results (exit ${r.status})\n`);
  }
  // A suite that failed to run (syntax error, crash) counts as a failure even with no failed test.
  const brokenSuites = (res.numRuntimeErrorTestSuites || 0) + (r.status !== 0 && res.numFailedTests === 0 ? 1 : 0);
  return {
    label, passed: res.numPassedTests, failed: res.numFailedTests + brokenSuites,
    skipped: res.numPendingTests + (res.numTodoTests || 0), status: r.status, failures: failuresOf(res),
    seconds: Math.round((Date.now() - started) / 1000), slowest: slowestFiles(res, 4),
  };
}

/**
 * One entry per failed test (or suite that failed to run) with its file, its name, its duration and the first
 * lines of its message. Printed again after both passes because CI logs keep only their tail, and jest's
 * own failure reports scroll far above it under the console output of later suites.
 */
function failuresOf(res) {
  const out = [];
  for (const suite of res.testResults || []) {
    const file = path.relative(root, suite.name || '?');
    const failed = (suite.assertionResults || []).filter((a) => a.status === 'failed');
    for (const a of failed) {
      const message = (a.failureMessages || []).join('\n');
      out.push({ file, name: a.fullName || a.title, ms: a.duration, message });
    }
    if (failed.length === 0 && suite.status === 'failed') out.push({ file, name: '(suite failed to run)', message: suite.message || '' });
  }
  return out;
}

function slowestFiles(res, n) {
  const files = (res.testResults || []).map((t) => ({ file: path.relative(root, t.name || '?'), s: ((t.endTime || 0) - (t.startTime || 0)) / 1000 }));
  return files.sort((a, b) => b.s - a.s).slice(0, n).map((f) => `${f.file} ${f.s.toFixed(0)} s`).join(', ') || 'none';
}

function firstLines(text, n) {
  // jest's messages carry colour codes and long stack traces; the cause is in the first few lines.
  // Keep the message and the first stack frame outside node_modules (where in the test it failed).
  const lines = text.replace(/\u001b\[[0-9;]*m/g, '').split('\n').map((l) => l.trimEnd()).filter((l) => l.trim() !== '');
  const message = lines.filter((l) => !/^\s*at /.test(l)).slice(0, n);
  const frame = lines.find((l) => /^\s*at /.test(l) && !l.includes('node_modules'));
  return frame ? [...message, frame.trim()] : message;
}

const runs = [runJest('jest (default backend)', extra, {})];
if (!process.env.RLHF_SKIP_WASM && extra.length === 0) {
  runs.push(runJest('jest (wasm backend)', WASM_SUITES, { RLHF_BACKEND: 'wasm' }));
}
// The machine, for reading a CI log that shows only its tail: CPU model and count, memory, Node.
const cpus = os.cpus();
let simd = '';
try {
  const flags = (/^flags\s*:(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8')) || ['', ''])[1].split(' ');
  simd = flags.includes('avx512f') ? ' (AVX-512)' : flags.includes('avx2') ? ' (AVX2)' : ' (no AVX2)';
} catch {
  // not Linux: leave the vector width out
}
process.stdout.write(`\nmachine: ${cpus[0]?.model ?? 'unknown CPU'}${simd}, ${os.availableParallelism?.() ?? cpus.length} of ${cpus.length} CPUs usable, ` +
  `${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version} (${process.platform}-${process.arch})\n`);
for (const run of runs) {
  process.stdout.write(`\n${run.label}: ${run.passed} passed, ${run.failed} failed, ${run.skipped} skipped in ${run.seconds} s; slowest files: ${run.slowest}\n`);
  for (const f of run.failures) {
    const took = f.ms != null ? ` (${(f.ms / 1000).toFixed(1)} s)` : '';
    process.stdout.write(`\nFAILED [${run.label}] ${f.file} › ${f.name}${took}\n`);
    for (const line of firstLines(f.message, 8)) process.stdout.write(`    ${line}\n`);
  }
}
const total = runs.reduce((a, r) => ({ passed: a.passed + r.passed, failed: a.failed + r.failed, skipped: a.skipped + r.skipped }), { passed: 0, failed: 0, skipped: 0 });
process.stdout.write(`\ntests: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped\n`);
process.exit(total.failed > 0 || runs.some((r) => r.status !== 0) ? 1 : 0);
