/**
 * scripts/check-quickstart.js, which CI runs after the quickstart: README's machine-readable figures agree with its
 * prose, and a run whose headline moved by more than 2 points from them fails the check, naming the figure.
 * Does NOT: run the quickstart (.ci/run does, once).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '../..');
const SCRIPT = path.join(ROOT, 'scripts', 'check-quickstart.js');
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { readmeFigures, proseProblems } = require(SCRIPT) as {
  readmeFigures(text: string): { figures: Record<string, number>; paragraph: string };
  proseProblems(figures: Record<string, number>, paragraph: string): string[];
};

const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

test('README states the marker figures in its quickstart paragraph', () => {
  const { figures, paragraph } = readmeFigures(readme);
  expect(Object.keys(figures).sort()).toEqual(['agreement', 'explicit_accuracy', 'implicit_accuracy']);
  expect(proseProblems(figures, paragraph)).toEqual([]);
  // A figure the prose does not carry is named.
  expect(proseProblems({ ...figures, agreement: 0.5 }, paragraph)).toEqual([expect.stringMatching(/does not state agreement 50\.0%/)]);
});

describe('against a saved quickstart stdout', () => {
  const { figures } = readmeFigures(readme);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-qs-check-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** Runs the script on a stdout whose last line has this comparison headline. */
  function check(explicit: number, implicit: number, agreement: number) {
    const file = path.join(dir, `${explicit}-${implicit}-${agreement}.out`);
    const summary = { run: 'quickstart', comparison: { n_pairs: 320, explicit: { accuracy: explicit }, implicit: { accuracy: implicit }, agreement } };
    fs.writeFileSync(file, `some earlier line\n${JSON.stringify(summary)}\n`);
    return spawnSync(process.execPath, [SCRIPT, file], { encoding: 'utf8' });
  }

  test('within 2 points: passes', () => {
    const r = check(figures.explicit_accuracy - 0.015, figures.implicit_accuracy + 0.019, figures.agreement);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    expect(r.stdout).toMatch(/quickstart figures match README/);
  });

  test('one figure moved by more than 2 points: fails naming it', () => {
    const r = check(figures.explicit_accuracy, figures.implicit_accuracy - 0.03, figures.agreement);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/implicit_accuracy: the run gave .*% \(moved 3\.0 points > 2\)/);
    expect(r.stderr).not.toMatch(/explicit_accuracy|agreement:/);
  });

  test('a stdout whose last line is not the summary: fails saying so', () => {
    const file = path.join(dir, 'bad.out');
    fs.writeFileSync(file, 'not json\n');
    const r = spawnSync(process.execPath, [SCRIPT, file], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/the last line is not the quickstart's JSON summary/);
  });
});
