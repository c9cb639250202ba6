#!/usr/bin/env node
/**
 * Checks README's quickstart figures against a quickstart run (.ci/run runs it after the tests).
 *
 * README carries the figures twice, side by side: in prose ("83.1% held-out accuracy ...") and in a
 * machine-readable marker just before that paragraph,
 *   <!-- quickstart-headline: {"explicit_accuracy":0.831,"implicit_accuracy":0.816,"agreement":0.947} -->
 * This script
 *  1. checks that the paragraph after the marker states each marker figure as a percentage with one decimal
 *     (so the prose and the check cannot drift apart), and
 *  2. unless --readme-only, reads the run's headline: the last stdout line of `npm run quickstart` saved to FILE
 *     (its `comparison` field), else checkpoints/quickstart/compare/comparison.json; and fails when explicit
 *     accuracy, implicit accuracy or agreement moved by more than 2 points (0.02) from README's.
 *
 * Usage: node scripts/check-quickstart.js [QUICKSTART_STDOUT_FILE] | --readme-only
 * Exit code 0 when everything holds, 1 otherwise (each problem on its own line).
 * Does NOT: run the quickstart (.ci/run does), or check timings (the machine is shared and noisy).
 */
const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const README = path.join(ROOT, 'README.md');
const COMPARISON = path.join(ROOT, 'checkpoints', 'quickstart', 'compare', 'comparison.json');
const FIELDS = ['explicit_accuracy', 'implicit_accuracy', 'agreement'];
/** Largest move allowed, as a fraction (2 points of accuracy). */
const TOLERANCE = 0.02;

class CheckError extends Error {}

/**
 * The marker's figures and the paragraph that follows it.
 * @param {string} text README's text
 * @returns {{ figures: Record<string, number>, paragraph: string }}
 */
function readmeFigures(text) {
  const m = /<!-- quickstart-headline: (\{.*?\}) -->\n([\s\S]*?)(?:\n\n|$)/.exec(text);
  if (!m) throw new CheckError('README.md: no `<!-- quickstart-headline: {...} -->` marker; expected one before the paragraph with the quickstart figures');
  let figures;
  try {
    figures = JSON.parse(m[1]);
  } catch (e) {
    throw new CheckError(`README.md: the quickstart-headline marker is not JSON (${e instanceof Error ? e.message : e})`);
  }
  for (const f of FIELDS) {
    if (typeof figures[f] !== 'number' || !(figures[f] >= 0 && figures[f] <= 1)) {
      throw new CheckError(`README.md: quickstart-headline.${f} is ${JSON.stringify(figures[f])}; expected a fraction between 0 and 1`);
    }
  }
  return { figures, paragraph: m[2] };
}

/**
 * Problems between the marker and its paragraph: each figure must appear there as "NN.N%".
 * @param {Record<string, number>} figures
 * @param {string} paragraph
 */
function proseProblems(figures, paragraph) {
  return FIELDS.filter((f) => !paragraph.includes(`${(figures[f] * 100).toFixed(1)}%`))
    .map((f) => `README.md: the quickstart paragraph does not state ${f} ${(figures[f] * 100).toFixed(1)}% (the marker's ${figures[f]}); update one to match the other`);
}

/**
 * explicit/implicit accuracy and agreement of a run, from the saved stdout's last line or comparison.json.
 * @param {string | undefined} stdoutFile
 * @returns {{ source: string, measured: Record<string, number> }}
 */
function measuredFigures(stdoutFile) {
  let c;
  let source;
  if (stdoutFile) {
    const last = fs.readFileSync(stdoutFile, 'utf8').trim().split('\n').pop() ?? '';
    try {
      c = JSON.parse(last).comparison;
    } catch {
      throw new CheckError(`${stdoutFile}: the last line is not the quickstart's JSON summary: ${JSON.stringify(last.slice(0, 200))}`);
    }
    if (!c) throw new CheckError(`${stdoutFile}: the summary has no comparison (did the compare stage run?)`);
    source = `${stdoutFile} (last line)`;
  } else {
    if (!fs.existsSync(COMPARISON)) throw new CheckError(`${COMPARISON} not found; run \`npm run quickstart\` first, or pass its saved stdout`);
    c = JSON.parse(fs.readFileSync(COMPARISON, 'utf8'));
    source = path.relative(ROOT, COMPARISON);
  }
  const measured = { explicit_accuracy: c.explicit?.accuracy, implicit_accuracy: c.implicit?.accuracy, agreement: c.agreement };
  for (const f of FIELDS) {
    if (typeof measured[f] !== 'number') throw new CheckError(`${source}: ${f} is missing; expected explicit.accuracy, implicit.accuracy and agreement`);
  }
  return { source, measured };
}

function main() {
  const args = process.argv.slice(2);
  const readmeOnly = args.includes('--readme-only');
  const stdoutFile = args.find((a) => !a.startsWith('--'));
  const { figures, paragraph } = readmeFigures(fs.readFileSync(README, 'utf8'));
  const problems = proseProblems(figures, paragraph);
  if (!readmeOnly) {
    const { source, measured } = measuredFigures(stdoutFile);
    process.stdout.write(`quickstart figures: README vs ${source} (tolerance ${TOLERANCE * 100} points)\n`);
    for (const f of FIELDS) {
      const moved = Math.abs(measured[f] - figures[f]);
      const ok = moved <= TOLERANCE + 1e-12;
      process.stdout.write(`  ${f.padEnd(18)} README ${(figures[f] * 100).toFixed(1)}%  run ${(measured[f] * 100).toFixed(1)}%  ${ok ? 'ok' : 'MOVED'}\n`);
      if (!ok) problems.push(`${f}: the run gave ${(measured[f] * 100).toFixed(1)}%, README says ${(figures[f] * 100).toFixed(1)}% (moved ${(moved * 100).toFixed(1)} points > 2); find why, or update README's prose and marker together`);
    }
  }
  for (const p of problems) process.stderr.write(`check-quickstart: ${p}\n`);
  if (problems.length === 0) process.stdout.write(readmeOnly ? 'README quickstart marker and prose agree\n' : 'quickstart figures match README\n');
  return problems.length === 0 ? 0 : 1;
}

module.exports = { readmeFigures, proseProblems, TOLERANCE };

if (require.main === module) {
  try {
    process.exitCode = main();
  } catch (e) {
    process.stderr.write(`check-quickstart: ${e instanceof Error ? e.message : e}\n`);
    process.exitCode = 1;
  }
}
