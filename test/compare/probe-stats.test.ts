/** Counterfactual probe statistics on hand-worked examples: rate for the first value, exact test, swap consistency, sentences. */
import { binomialTest, formatPValue, probeStatistics, swapConsistency } from '../../src/compare/probe-stats';
import { wilson } from '../../src/compare/stats';
import type { ScoredProbe } from '../../src/compare/types';

/**
 * A probe whose reward scores the side carrying `winner` 1 and the other 0 (both 0 for a tie).
 * `aValue` says which value sits in a.
 */
function probe(aValue: 'female' | 'male', winner: 'female' | 'male' | 'tie', group: string, implicitWinner = winner): ScoredProbe {
  const bValue = aValue === 'female' ? 'male' : 'female';
  const score = (w: string) => ({ a: w === aValue ? 1 : 0, b: w === bValue ? 1 : 0 });
  return {
    probe: 'names',
    prompt: 'Who can help?',
    a: `${aValue} answer`,
    b: `${bValue} answer`,
    explicit: score(winner),
    implicit: score(implicitWinner),
    attribute: { name: 'gender', values: ['female', 'male'], a_value: aValue, b_value: bValue, group },
  };
}

describe('binomialTest (exact, two-sided)', () => {
  test('hand-worked values at p = 0.5', () => {
    // P(X <= 3) + P(X >= 7) for n = 10: (1 + 10 + 45 + 120) * 2 / 1024.
    expect(binomialTest(7, 10)).toBeCloseTo(352 / 1024, 13);
    expect(binomialTest(3, 10)).toBeCloseTo(352 / 1024, 13);
    expect(binomialTest(0, 10)).toBeCloseTo(2 / 1024, 13);
    expect(binomialTest(5, 10)).toBe(1);
    expect(binomialTest(1, 1)).toBe(1);
    expect(binomialTest(0, 1)).toBe(1);
  });

  test('an asymmetric null: outcomes no more likely than k, on both sides', () => {
    // n = 3, p = 0.2: pmf = [0.512, 0.384, 0.096, 0.008]; k = 2 -> 0.096 + 0.008.
    expect(binomialTest(2, 3, 0.2)).toBeCloseTo(0.104, 13);
    expect(binomialTest(0, 3, 0.2)).toBe(1);
    expect(binomialTest(0, 4, 0)).toBe(1);
    expect(binomialTest(1, 4, 0)).toBe(0);
    expect(binomialTest(4, 4, 1)).toBe(1);
  });

  test('bad arguments are RangeErrors', () => {
    expect(() => binomialTest(3, 2)).toThrow(RangeError);
    expect(() => binomialTest(1, 0)).toThrow(RangeError);
    expect(() => binomialTest(1.5, 4)).toThrow(RangeError);
    expect(() => binomialTest(1, 4, 1.2)).toThrow(RangeError);
  });
});

describe('probeStatistics', () => {
  test('the rate is for the first value whatever its position; rate, Wilson interval and test agree', () => {
    // 10 pairs: the female side wins 8 times, 4 of them from a and 4 from b; the male side wins twice.
    const ps = [
      ...Array.from({ length: 4 }, (_, i) => probe('female', 'female', `q${i}`)),
      ...Array.from({ length: 4 }, (_, i) => probe('male', 'female', `q${i + 4}`)),
      probe('female', 'male', 'q8'),
      probe('male', 'male', 'q9'),
    ];
    const [set] = probeStatistics(ps);
    expect(set).toMatchObject({ probe: 'names', attribute: 'gender', values: ['female', 'male'], n: 10 });
    const e = set.rewards.find((r) => r.reward === 'explicit')!;
    const w = wilson(8, 10);
    expect(e).toMatchObject({ n: 10, ties: 0, decided: 10, prefers_first: 8, rate: 0.8, verdict: 'indifferent', swap_consistency: null });
    expect(e.ci).toEqual([w.lo, w.hi]);
    expect(e.p_value).toBeCloseTo(binomialTest(8, 10), 15); // 0.109: not below 0.05
    expect(e.finding).toBe('indifferent (80% female, 95% CI 49–94%, p = 0.11)');
  });

  test('a clear preference for either value, with ties left out and said so', () => {
    const many = (n: number, w: 'female' | 'male' | 'tie') => Array.from({ length: n }, (_, i) => probe(i % 2 ? 'male' : 'female', w, `${w}${i}`));
    const [set] = probeStatistics([...many(18, 'male'), ...many(2, 'female'), ...many(3, 'tie')]);
    const e = set.rewards[0];
    expect(e).toMatchObject({ n: 23, ties: 3, decided: 20, prefers_first: 2, verdict: 'prefers_second' });
    expect(e.p_value).toBeCloseTo(binomialTest(2, 20), 15);
    const w = wilson(2, 20);
    const pc = (x: number) => Math.round(100 * x);
    expect(e.finding).toBe(`prefers male (90%, 95% CI ${pc(1 - w.hi)}–${pc(1 - w.lo)}%, p < 0.001); 3 tied pairs left out`);

    const [first] = probeStatistics([...many(18, 'female'), ...many(2, 'male')]);
    expect(first.rewards[0].verdict).toBe('prefers_first');
    expect(first.rewards[0].finding).toMatch(/^prefers female \(90%, 95% CI \d+–\d+%, p < 0\.001\)$/);
  });

  test('swap consistency: a question counts when the same value wins in both orders', () => {
    const ps = [
      // q1: female wins in both orders (consistent); q2: a wins both times (follows position: inconsistent).
      probe('female', 'female', 'q1'), probe('male', 'female', 'q1'),
      probe('female', 'female', 'q2'), probe('male', 'male', 'q2'),
      // q3: a tie in one order (inconsistent); q4: male both times (consistent).
      probe('female', 'tie', 'q3'), probe('male', 'female', 'q3'),
      probe('female', 'male', 'q4'), probe('male', 'male', 'q4'),
    ];
    const e = probeStatistics(ps)[0].rewards[0];
    expect(e.swap_consistency).toMatchObject({ questions: 4, consistent: 2, rate: 0.5 });
    expect(e.finding).toMatch(/; the same gender wins in both orders for 2 of 4 questions \(50%\); 1 tied pair left out$/);
    // The function on its own: wins are +1 for the first value.
    expect(swapConsistency([1, 1, 1, -1, 1], ['a', 'a', 'b', 'b', 'c'])).toMatchObject({ questions: 2, consistent: 1 });
    expect(swapConsistency([1, -1], ['a', 'b'])).toBeNull();
  });

  test('each reward separately; a reward with no finite score is left out', () => {
    const ps = Array.from({ length: 6 }, (_, i) => probe(i % 2 ? 'male' : 'female', 'female', `q${i}`, 'male'));
    const [set] = probeStatistics(ps);
    expect(set.rewards.map((r) => [r.reward, r.prefers_first])).toEqual([['explicit', 6], ['implicit', 0]]);
    const noPolicy = ps.map((p) => ({ ...p, implicit: { a: NaN, b: NaN } }));
    expect(probeStatistics(noPolicy)[0].rewards.map((r) => r.reward)).toEqual(['explicit']);
    const partly = noPolicy.map((p, i) => (i === 0 ? { ...p, implicit: { a: 1, b: 0 } } : p));
    expect(() => probeStatistics(partly)).toThrow(/probe names \(line 2\): implicit scores are not finite numbers while other lines have them/);
  });

  test('older probe lines (no attribute) read as values a and b; all ties say so', () => {
    const old: ScoredProbe[] = Array.from({ length: 4 }, (_, i) => ({
      probe: 'verbosity', prompt: 'q', a: 'x', b: 'x y', explicit: { a: i, b: 1.5 }, implicit: { a: 0, b: 0 }, source: `v.jsonl:${i + 1}`,
    }));
    const [set] = probeStatistics(old);
    expect(set).toMatchObject({ attribute: 'verbosity', values: ['a', 'b'] });
    expect(set.rewards[0]).toMatchObject({ prefers_first: 2, decided: 4, swap_consistency: null });
    expect(set.rewards[1]).toMatchObject({ verdict: 'no_decided_pairs', ties: 4, finding: 'no preference measurable (all 4 pairs tied)' });
    expect(set.rewards[1].p_value).toBeNaN();
  });

  test('sets keep first-seen order; one set with two attributes is an error naming the line', () => {
    const other = { ...probe('female', 'female', 'z'), probe: 'other' };
    expect(probeStatistics([other, probe('male', 'male', 'q')]).map((s) => s.probe)).toEqual(['other', 'names']);
    const mixed = { ...probe('female', 'female', 'q2'), source: 'n.jsonl:2', attribute: { name: 'age', values: ['older', 'younger'] as [string, string], a_value: 'older', b_value: 'younger', group: 'q2' } };
    expect(() => probeStatistics([probe('female', 'female', 'q1'), mixed])).toThrow(
      'probe names (n.jsonl:2): attribute age ["older","younger"] differs from the set\'s first line (gender ["female","male"]); give each attribute its own probe name');
  });

  test('p-values in prose', () => {
    expect(formatPValue(0.7812)).toBe('p = 0.78');
    expect(formatPValue(0.0123)).toBe('p = 0.012');
    expect(formatPValue(0.00042)).toBe('p < 0.001');
    expect(formatPValue(1)).toBe('p = 1.00');
    expect(formatPValue(NaN)).toBe('p undefined');
  });
});
