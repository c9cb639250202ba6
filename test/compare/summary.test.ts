/** summarise(): the documented fields, determinism per seed, and the structure the synthetic data was built with. */
import { FIELD_DOCS, fieldDoc } from '../../src/compare/fields';
import { summarise, COMPARISON_FORMAT } from '../../src/compare/summary';
import { ComparisonInputError } from '../../src/compare/types';
import { syntheticPairs, syntheticProbes } from './synthetic';

/** Every leaf path of a JSON value, array items as "[]". */
function leafPaths(v: unknown, prefix = ''): string[] {
  if (Array.isArray(v)) {
    // Arrays of numbers (intervals, edges, counts) are leaves; arrays of objects are walked.
    if (v.every((x) => x === null || typeof x !== 'object')) return [prefix];
    return [...new Set(v.flatMap((x) => leafPaths(x, `${prefix}[]`)))];
  }
  if (v !== null && typeof v === 'object')
    return Object.entries(v).flatMap(([k, x]) => leafPaths(x, prefix ? `${prefix}.${k}` : k));
  return [prefix];
}

describe('summarise', () => {
  const pairs = syntheticPairs({ n: 300, seed: 7, lengthBonus: 0.6, flipped: 0.1, beta: 0.1, judgeLean: 0.8 });
  const probes = syntheticProbes(2, 40, 0.8);
  const s = summarise(pairs, probes, { seed: 3, bootstrap: 200, topK: 5, beta: 0.1 });

  test('has the fields README.md and fields.ts promise, as numbers, with intervals around them', () => {
    expect(s.format).toBe(COMPARISON_FORMAT);
    expect(s.n_pairs).toBe(300);
    for (const [v, ci] of [
      [s.explicit.accuracy, s.explicit.accuracy_ci],
      [s.implicit.accuracy, s.implicit.accuracy_ci],
      [s.agreement, s.agreement_ci],
      [s.correlation.pearson, s.correlation.pearson_ci],
      [s.correlation.spearman, s.correlation.spearman_ci],
      [s.correlation.kendall, s.correlation.kendall_ci],
      [s.score_correlation.spearman, s.score_correlation.spearman_ci],
      [s.explicit.length_bias.spearman, s.explicit.length_bias.spearman_ci],
    ] as Array<[number, [number, number]]>) {
      expect(typeof v).toBe('number');
      expect(ci[0]).toBeLessThanOrEqual(v);
      expect(ci[1]).toBeGreaterThanOrEqual(v);
      expect(ci[1] - ci[0]).toBeGreaterThan(0);
    }
  });

  test('accuracy, agreement and head-to-head match a direct count (ground truth respected)', () => {
    const sign = (p: (typeof pairs)[0]) => (p.groundTruth === 'rejected' ? -1 : 1);
    const eRight = pairs.map((p) => sign(p) * (p.explicit.chosen - p.explicit.rejected) > 0);
    const iRight = pairs.map((p) => sign(p) * (p.implicit.chosen - p.implicit.rejected) > 0);
    expect(s.explicit.accuracy).toBe(eRight.filter(Boolean).length / 300);
    expect(s.implicit.accuracy).toBe(iRight.filter(Boolean).length / 300);
    const h = s.head_to_head;
    expect(h.both_correct + h.explicit_only + h.implicit_only + h.both_wrong).toBe(300);
    expect(h.explicit_only).toBe(eRight.filter((e, i) => e && !iRight[i]).length);
    expect(h.accuracy_difference).toBeCloseTo(s.explicit.accuracy - s.implicit.accuracy, 12);
    const agree = pairs.filter((p) => Math.sign(p.explicit.chosen - p.explicit.rejected) === Math.sign(p.implicit.chosen - p.implicit.rejected)).length;
    expect(s.n_agree).toBe(agree);
    expect(s.agreement).toBe(agree / 300);
  });

  test('finds the structure built into the data', () => {
    // Both beat chance; they correlate through the shared latent gap.
    expect(s.explicit.accuracy).toBeGreaterThan(0.6);
    expect(s.implicit.accuracy).toBeGreaterThan(0.6);
    expect(s.correlation.spearman).toBeGreaterThan(0.3);
    // Only the explicit reward was given a length bonus.
    expect(s.explicit.length_bias.spearman).toBeGreaterThan(s.implicit.length_bias.spearman + 0.2);
    expect(s.explicit.length_bias.longer_chosen.rate).toBeGreaterThan(s.explicit.length_bias.longer_rejected.rate);
    // implicit == beta * logratio by construction.
    expect(s.checks.implicit_logratio_max_abs_diff).toBeLessThan(1e-9);
    // Subsets, calibration, probes, disagreements are all there.
    expect(s.subsets.map((r) => r.subset)).toEqual(['chat', 'code', 'safety']);
    expect(s.subsets.reduce((a, r) => a + r.n, 0)).toBe(300);
    expect(s.explicit.calibration.bins).toHaveLength(10);
    expect(s.explicit.calibration.bins.reduce((a, b) => a + b.n, 0)).toBe(600);
    expect(s.top_disagreements).toHaveLength(5);
    expect(s.n_disagreements).toBeGreaterThanOrEqual(5);
    expect(s.probes.find((g) => g.probe === 'verbosity')!.explicit.prefers_a.rate).toBeGreaterThan(0.7);
    expect(s.per_pair).toHaveLength(300);
    expect(s.explicit.histogram.counts.reduce((a, b) => a + b, 0)).toBe(300);
  });

  test('the judge: accuracy, position bias, pairings and the three together match direct counts', () => {
    const sign = (p: (typeof pairs)[0]) => (p.groundTruth === 'rejected' ? -1 : 1);
    const jm = pairs.map((p) => (p.judge!.ab - p.judge!.ba) / 2);
    const right = {
      explicit: pairs.map((p) => sign(p) * (p.explicit.chosen - p.explicit.rejected) > 0),
      implicit: pairs.map((p) => sign(p) * (p.implicit.chosen - p.implicit.rejected) > 0),
      judge: pairs.map((p, k) => sign(p) * jm[k] > 0),
    };
    const j = s.judge!;
    expect(j.accuracy).toBe(right.judge.filter(Boolean).length / 300);
    expect(j.accuracy_ci[0]).toBeLessThan(j.accuracy);
    // ab = m + 0.8, ba = -m + 0.8: the same label wins both orders exactly when |m| < 0.8.
    expect(j.position_bias.same_label).toBe(jm.filter((m) => Math.abs(m) < 0.8).length);
    expect(j.position_bias.label_a_logodds).toBeCloseTo(0.8, 12);
    expect(j.position_bias.rate_ci[0]).toBeLessThan(j.position_bias.rate);
    // The judge was given no length bonus, the explicit reward was.
    expect(s.explicit.length_bias.spearman).toBeGreaterThan(j.length_bias.spearman + 0.2);
    // reward_pairs: the first is the v1 explicit-implicit comparison; the others count like it.
    expect(s.reward_pairs!.map((r) => r.rewards)).toEqual([['explicit', 'implicit'], ['explicit', 'judge'], ['implicit', 'judge']]);
    expect(s.reward_pairs![0].agreement).toBe(s.agreement);
    expect(s.reward_pairs![0].correlation).toEqual(s.correlation);
    const em = pairs.map((p) => p.explicit.chosen - p.explicit.rejected);
    const ej = pairs.filter((_, k) => em[k] !== 0 && Math.sign(em[k]) === Math.sign(jm[k])).length;
    expect(s.reward_pairs![1].n_agree).toBe(ej);
    const t = s.three_way!;
    expect(Object.values(t.correct_by).reduce((a, b) => a + b, 0)).toBe(300);
    expect(t.correct_by['explicit+implicit+judge']).toBe(pairs.filter((_, k) => right.explicit[k] && right.implicit[k] && right.judge[k]).length);
    expect(t.correct_by.none).toBe(pairs.filter((_, k) => !right.explicit[k] && !right.implicit[k] && !right.judge[k]).length);
    const votes = pairs.map((_, k) => Number(right.explicit[k]) + Number(right.implicit[k]) + Number(right.judge[k]));
    expect(t.majority_accuracy).toBe(votes.filter((v) => v >= 2).length / 300);
    expect(t.all_agree + t.n_disagreements).toBe(300);
    // Disagreements among all three: every listed pair has at least two different preferences.
    for (const d of s.top_disagreements) expect(new Set([d.explicit_prefers, d.implicit_prefers, d.judge_prefers]).size).toBeGreaterThan(1);
    expect(s.subsets[0].judge_accuracy!.n).toBe(s.subsets[0].n);
    expect(s.per_pair![0].judge_margin).toBeCloseTo(jm[0], 12);
    // Probe sets read all three rewards.
    expect(s.probe_sets.map((p) => p.rewards.map((r) => r.reward))).toEqual([0, 1, 2].map(() => ['explicit', 'implicit', 'judge']));
  });

  test('same seed, same JSON; another seed changes intervals, not estimates', () => {
    const again = summarise(pairs, probes, { seed: 3, bootstrap: 200, topK: 5, beta: 0.1 });
    expect(JSON.stringify(again)).toBe(JSON.stringify(s));
    const other = summarise(pairs, probes, { seed: 4, bootstrap: 200, topK: 5, beta: 0.1 });
    expect(other.explicit.accuracy).toBe(s.explicit.accuracy);
    expect(other.explicit.accuracy_ci).not.toEqual(s.explicit.accuracy_ci);
  });

  test('every field is documented in FIELD_DOCS, and every FIELD_DOCS row is used', () => {
    const paths = leafPaths(JSON.parse(JSON.stringify(s)));
    const undocumented = paths.filter((p) => fieldDoc(p) === undefined);
    expect(undocumented).toEqual([]);
    const used = new Set(paths.map((p) => fieldDoc(p)));
    expect(FIELD_DOCS.filter(([, doc]) => !used.has(doc)).map(([p]) => p)).toEqual([]);
  });

  test('bootstrap 0 gives no intervals; perPair false drops per_pair', () => {
    const t = summarise(pairs.slice(0, 20), [], { bootstrap: 0, perPair: false });
    expect(t.explicit.accuracy_ci[0]).toBeNaN();
    expect(t.per_pair).toBeUndefined();
    expect(t.checks.implicit_logratio_max_abs_diff).toBeNull();
  });

  test('bad input names the pair, the field and what was found', () => {
    const bad = syntheticPairs({ n: 3 });
    (bad[1].implicit as { chosen: unknown }).chosen = 'NaN';
    expect(() => summarise(bad)).toThrow(ComparisonInputError);
    expect(() => summarise(bad)).toThrow('pair p1 (synthetic.jsonl:2): field "implicit.chosen" must be a finite number, found "NaN"');
    expect(() => summarise([])).toThrow(/no pairs/);
  });
});
