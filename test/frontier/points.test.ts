/** Headlines, the verdict sentence and the over-optimised samples on hand-made points and pools. */
import { headlines, headlineSentence, overOptimised, policySentence, poolsByPrompt, type FrontierPoint, type ScoredSample } from '../../src/frontier/points';

const bon = (proxy: string, n: number, kl: number, p: number, g: number, se = 0.001): FrontierPoint => ({ proxy, method: 'bon', n, kl, proxy_reward: p, gold_reward: g, gold_se: se });

describe('frontier headline', () => {
  const points: FrontierPoint[] = [
    bon('rm', 1, 0, 0, 0.5), bon('rm', 2, 0.19, 1, 0.6), bon('rm', 4, 0.64, 2, 0.55), bon('rm', 8, 1.2, 3, 0.4),
    bon('dpo', 1, 0, 0, 0.5), bon('dpo', 2, 0.19, 0.5, 0.55), bon('dpo', 4, 0.64, 0.8, 0.58), bon('dpo', 8, 1.2, 1, 0.58),
    { proxy: 'rm', method: 'policy', label: 'dpo', kl: 3, proxy_reward: 9, gold_reward: 0.9, gold_se: 0.01 }, // context, not a peak
  ];
  test('peak over bon/rl points, drop after it, proxy gain', () => {
    const h = headlines(points);
    expect(h.rm).toEqual({
      start_gold: 0.5, start_gold_se: 0.001, lowest_gold: 0.4, lowest_gold_se: 0.001, kl_at_lowest: 1.2, lowest_at: 'bon n=8',
      peak_gold: 0.6, peak_gold_se: 0.001, kl_at_peak: 0.19, peak_at: 'bon n=2', proxy_at_peak: 1, max_kl: 1.2, gold_at_max_kl: 0.4, gold_at_max_kl_se: 0.001,
      gold_drop_after_peak: 0.6 - 0.4, proxy_gain: 3,
    });
    // a tie in gold goes to the smaller KL
    expect(h.dpo).toMatchObject({ peak_gold: 0.58, kl_at_peak: 0.64, peak_at: 'bon n=4', gold_drop_after_peak: 0 });
  });
  test('the sentence names the safer reward and the KL, with numbers', () => {
    const s = headlineSentence(headlines(points));
    expect(s).toMatch(/^Safer to optimise here: rm \(gold peak 0\.600 vs 0\.580 for dpo\), up to KL 0\.19 nats;/);
    expect(s).toContain('optimising rm: gold 0.500 -> peak 0.600 ± 0.001 at KL 0.19 nats (bon n=2), then down to 0.400 ± 0.001 at KL 1.20 while its own score rose by 3.000');
    expect(s).toContain('optimising dpo: gold 0.500 -> peak 0.580 ± 0.001 at KL 0.64 nats (bon n=4)');
  });
});

describe('over-optimised samples', () => {
  const s = (promptIndex: number, completion: string, proxy: number, gold: number): ScoredSample => ({ promptIndex, prompt: `p${promptIndex}`, completion, proxies: [proxy], gold });
  test("each pool's proxy pick when its gold is below the pool mean, lowest gold first", () => {
    const pools = poolsByPrompt([s(0, 'a', 5, 0.1), s(0, 'b', 1, 0.9), s(1, 'c', 2, 0.8), s(1, 'd', 1, 0.2), s(2, 'e', 9, 0), s(2, 'f', 0, 1)], 3);
    const o = overOptimised(['rm'], pools, 5);
    expect(o.map((x) => x.completion)).toEqual(['e', 'a']); // pool 1's pick 'c' is above its mean
    expect(o[1]).toEqual({ proxy: 'rm', prompt: 'p0', completion: 'a', proxy_reward: 5, gold_reward: 0.1, pool_gold: 0.5 });
    expect(overOptimised(['rm'], pools, 1)).toHaveLength(1);
    expect(() => poolsByPrompt([s(0, 'a', 1, 1)], 2)).toThrow(/prompt 1 has no samples/);
  });
});

describe('verdict when nothing gains or the peaks tie', () => {
  test('flat gold: no proxy is safe; tied peaks: neither is safer', () => {
    const flat = [bon('a', 1, 0, 0, 0), bon('a', 2, 0.19, 1, 0), bon('b', 1, 0, 0, 0), bon('b', 2, 0.19, 2, 0)];
    expect(headlineSentence(headlines(flat))).toMatch(/^No proxy is safe to optimise here: gold did not rise measurably above the start policy's under any of them; optimising a: gold did not rise measurably above the start policy's 0\.000 up to KL 0\.19, while its own score rose by 1\.000;/);
    const tied = [bon('a', 1, 0, 0, 0), bon('a', 2, 0.19, 1, 0.5), bon('b', 1, 0, 0, 0), bon('b', 2, 0.19, 2, 0.5)];
    expect(headlineSentence(headlines(tied))).toMatch(/^Neither proxy is measurably safer here: gold peaks 0\.500 ± 0\.001 \(a\) and 0\.500 ± 0\.001 \(b\) are within two standard errors;/);
  });
  test('no gain anywhere, but gold falls measurably under one proxy: said, with where, and that proxy ranked below the other', () => {
    // a: flat within noise; b: 0.30 ± 0.01 at the start, down to 0.10 ± 0.01 at n=4 (20 standard errors)
    const pts = [bon('a', 1, 0, 0, 0.3, 0.01), bon('a', 2, 0.19, 1, 0.31, 0.01), bon('a', 4, 0.64, 2, 0.29, 0.01),
      bon('b', 1, 0, 0, 0.3, 0.01), bon('b', 2, 0.19, 1, 0.2, 0.01), bon('b', 4, 0.64, 2, 0.1, 0.01)];
    const h = headlines(pts);
    expect([h.b.lowest_gold, h.b.kl_at_lowest, h.b.lowest_at, h.b.start_gold_se]).toEqual([0.1, 0.64, 'bon n=4', 0.01]);
    const sentence = headlineSentence(h);
    expect(sentence).toMatch(/^No proxy is safe to optimise here: gold did not rise measurably above the start policy's under any of them; the least harmful is a \(gold held within noise\), while under b it fell measurably;/);
    expect(sentence).toContain("optimising b: gold did not rise measurably above the start policy's 0.300 and fell to 0.100 ± 0.010 at KL 0.64 (bon n=4) up to KL 0.64");
    expect(sentence).not.toContain('optimising a: gold did not rise measurably above the start policy\'s 0.300 and fell');
  });
  test('differences within two standard errors are not called', () => {
    // a rise of 0.01 with se 0.01 is noise; peaks 0.60 and 0.58 with se 0.02 each are too
    const small = [bon('a', 1, 0, 0, 0.5, 0.01), bon('a', 2, 0.19, 1, 0.51, 0.01)];
    expect(headlineSentence(headlines(small))).toMatch(/^No proxy is safe .*gold did not rise measurably above the start policy's 0\.500 \(peak 0\.510 ± 0\.010 at KL 0\.19, within noise\)/);
    const close = [bon('a', 1, 0, 0, 0.3), bon('a', 2, 0.19, 1, 0.6, 0.02), bon('b', 1, 0, 0, 0.3), bon('b', 2, 0.19, 2, 0.58, 0.02)];
    expect(headlineSentence(headlines(close))).toMatch(/^Neither proxy is measurably safer here: gold peaks 0\.600 ± 0\.020 \(a\) and 0\.580 ± 0\.020 \(b\)/);
    // a fall of 0.02 after the peak with se 0.02: not called over-optimisation
    const wobble = [bon('a', 1, 0, 0, 0.3), bon('a', 2, 0.19, 1, 0.6, 0.02), bon('a', 4, 0.64, 2, 0.58, 0.02)];
    expect(headlineSentence(headlines(wobble))).toContain('0.580 ± 0.020 at the largest KL measured (0.64): no measurable fall');
  });
});

describe('policy points in the verdict', () => {
  test('each placed policy once, its KL and gold against the start policy, called only beyond two standard errors', () => {
    const pts: FrontierPoint[] = [
      bon('rm', 1, 0, 0, 0.018, 0.002),
      { proxy: 'rm', method: 'policy', label: 'runs/dpo', kl: 40.09, kl_se: 0.36, proxy_reward: 1, gold_reward: 0.011, gold_se: 0.002 },
      { proxy: 'dpo', method: 'policy', label: 'runs/dpo', kl: 40.09, kl_se: 0.36, proxy_reward: 3, gold_reward: 0.011, gold_se: 0.002 },
      { proxy: 'rm', method: 'policy', label: 'runs/other', kl: 2, proxy_reward: 1, gold_reward: 0.02, gold_se: 0.002 },
    ];
    expect(policySentence(pts)).toBe(
      "Policy runs/dpo: KL 40.09 ± 0.36 nats, gold 0.011 ± 0.002, below the start policy's 0.018. " +
      "Policy runs/other: KL 2.00 nats, gold 0.020 ± 0.002, not measurably different from the start policy's 0.018.",
    );
    expect(policySentence(pts.slice(0, 1))).toBe('');
  });
});
