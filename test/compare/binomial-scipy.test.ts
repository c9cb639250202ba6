/** Reference test: our exact two-sided binomial test against scipy.stats.binomtest. */
import { binomialTest } from '../../src/compare/probe-stats';
import { describeIf } from '../helpers/gates';
import { pythonWith, runPython } from '../helpers/python';

const SCRIPT = `
import json, sys
from scipy import stats
cases = json.load(sys.stdin)
print(json.dumps([float(stats.binomtest(k, n, p, alternative='two-sided').pvalue) for k, n, p in cases]))
`;

describeIf(pythonWith(['scipy']), 'binomialTest matches scipy.stats.binomtest', () => {
  // Every k for small n; spread k for larger n; the null 0.5 (what probes use) and asymmetric nulls.
  const cases: Array<[number, number, number]> = [];
  for (const p of [0.5, 0.3, 0.9, 0.02]) {
    for (const n of [1, 2, 3, 7, 10, 40]) for (let k = 0; k <= n; k++) cases.push([k, n, p]);
    for (const n of [80, 101, 1000]) for (const f of [0, 0.01, 0.1, 0.25, 0.41, 0.5, 0.52, 0.7, 0.95, 1]) cases.push([Math.round(f * n), n, p]);
  }
  let ref: number[] = [];
  beforeAll(() => {
    ref = runPython<number[]>(SCRIPT, cases);
  });

  test(`${cases.length} cases agree to 1e-9 relative (or 1e-300 absolute for vanishing p-values)`, () => {
    const bad = cases
      .map(([k, n, p], i) => ({ k, n, p, ours: binomialTest(k, n, p), scipy: ref[i] }))
      .filter((c) => !(Math.abs(c.ours - c.scipy) <= 1e-9 * c.scipy + 1e-300));
    expect(bad).toEqual([]);
    // The comparison is not empty and spans tiny and large p-values.
    expect(ref.length).toBe(cases.length);
    expect(Math.min(...ref)).toBeLessThan(1e-100);
    expect(ref.filter((v) => v === 1).length).toBeGreaterThan(0);
  });
});
