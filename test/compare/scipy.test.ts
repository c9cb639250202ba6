/** Reference test: our correlations against scipy.stats (pearsonr, spearmanr, kendalltau variant 'b'). */
import { kendallTauB, pearson, spearman } from '../../src/compare/stats';
import { summarise } from '../../src/compare/summary';
import { describeIf } from '../helpers/gates';
import { pythonWith, runPython } from '../helpers/python';
import { syntheticPairs } from './synthetic';
import { Rng } from '../../src/compare/bootstrap';

const SCRIPT = `
import json, sys
from scipy import stats
cases = json.load(sys.stdin)
out = []
for x, y in cases:
    out.append([float(stats.pearsonr(x, y)[0]), float(stats.spearmanr(x, y)[0]), float(stats.kendalltau(x, y, variant='b')[0])])
print(json.dumps(out))
`;

describeIf(pythonWith(['scipy']), 'correlations match scipy.stats', () => {
  const rng = new Rng(9);
  // Continuous data, heavily tied integer data, and rounded data (ties in both).
  const cases: Array<[number[], number[]]> = [];
  for (const n of [5, 40, 1000]) {
    const x = Array.from({ length: n }, () => rng.next() * 10 - 5);
    const y = x.map((v) => v * 0.5 + rng.next() * 4);
    cases.push([x, y]);
    cases.push([x.map((v) => Math.round(v / 3)), y.map((v) => Math.round(v / 2))]);
    cases.push([x.map((v) => Math.round(v * 2) / 2), y.map((v) => Math.round(v))]);
  }
  const pairs = syntheticPairs({ n: 250, seed: 5, flipped: 0.2 });
  const em = pairs.map((p) => p.explicit.chosen - p.explicit.rejected);
  const im = pairs.map((p) => p.implicit.chosen - p.implicit.rejected);
  const es = pairs.flatMap((p) => [p.explicit.chosen, p.explicit.rejected]);
  const is = pairs.flatMap((p) => [p.implicit.chosen, p.implicit.rejected]);
  cases.push([em, im], [es, is]);
  // In beforeAll, not the describe body: a skipped describe still runs its body to collect tests.
  let ref: number[][] = [];
  beforeAll(() => {
    ref = runPython<number[][]>(SCRIPT, cases);
  });

  test('pearson, spearman and kendall tau-b on continuous and tied data', () => {
    cases.forEach(([x, y], i) => {
      expect(pearson(x, y)).toBeCloseTo(ref[i][0], 10);
      expect(spearman(x, y)).toBeCloseTo(ref[i][1], 10);
      expect(kendallTauB(x, y)).toBeCloseTo(ref[i][2], 10);
    });
  });

  test("summarise's margin and score correlations", () => {
    const s = summarise(pairs, [], { bootstrap: 0 });
    const [m, sc] = [ref[ref.length - 2], ref[ref.length - 1]];
    expect([s.correlation.pearson, s.correlation.spearman, s.correlation.kendall].map((v, k) => v - m[k]).every((d) => Math.abs(d) < 1e-10)).toBe(true);
    expect(s.score_correlation.pearson).toBeCloseTo(sc[0], 10);
    expect(s.score_correlation.spearman).toBeCloseTo(sc[1], 10);
    expect(s.score_correlation.kendall).toBeCloseTo(sc[2], 10);
  });
});
