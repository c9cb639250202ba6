#!/usr/bin/env node
/**
 * The folder-rule check: dependency-cruiser over src/ with .dependency-cruiser.js (the rules are explained in
 * docs/architecture.md). Prints one line per violation, "RULE: FROM -> TO" (a circle also lists its path), then
 * "dependencies: N violations in M modules"; exit code 1 on any violation or when the check cannot run.
 * `npm test` runs it before jest (scripts/test-all.js); `npm run depcheck` runs it alone;
 * `--root DIR` checks the src/ of another checkout (the tests use it on a copy with injected imports).
 */
const { spawnSync } = require('child_process');
const path = require('path');

const DEPCRUISE = path.join(__dirname, '..', 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');

/**
 * Runs the check in `root` (which holds src/, .dependency-cruiser.js and tsconfig.json).
 * @param {string} root
 * @returns {{ lines: string[], violations: number, modules: number, failure: string | null }}
 */
function checkDependencies(root) {
  const r = spawnSync(process.execPath, [DEPCRUISE, '--config', '.dependency-cruiser.js', '--output-type', 'json', 'src'], {
    cwd: root, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024,
  });
  /** @type {{ summary: { violations: { from: string, to: string, rule: { name: string }, cycle?: { name: string }[] }[], totalCruised: number } }} */
  let result;
  try {
    result = JSON.parse(r.stdout);
  } catch {
    const why = r.error ? r.error.message : `exit ${r.status ?? r.signal}: ${(r.stderr || '').trim().split('\n').slice(0, 5).join(' / ')}`;
    return { lines: [], violations: 0, modules: 0, failure: `dependency-cruiser did not run (${why})` };
  }
  const lines = result.summary.violations.map((v) => {
    const circle = v.cycle && v.cycle.length ? ` (circle: ${[v.from, ...v.cycle.map((c) => c.name)].join(' -> ')})` : '';
    return `${v.rule.name}: ${v.from} -> ${v.to}${circle}`;
  });
  return { lines, violations: lines.length, modules: result.summary.totalCruised, failure: null };
}

module.exports = { checkDependencies };

if (require.main === module) {
  const at = process.argv.indexOf('--root');
  const root = at >= 0 ? path.resolve(process.argv[at + 1]) : path.resolve(__dirname, '..');
  const res = checkDependencies(root);
  for (const line of res.lines) process.stdout.write(`${line}\n`);
  if (res.failure) process.stdout.write(`dependencies: ${res.failure}\n`);
  else process.stdout.write(`dependencies: ${res.violations} violation${res.violations === 1 ? '' : 's'} in ${res.modules} modules (rules: .dependency-cruiser.js, docs/architecture.md)\n`);
  process.exit(res.failure || res.violations > 0 ? 1 : 0);
}
