/**
 * Synthetic scored pairs with known structure, for the comparison tests.
 * Each pair has a latent quality gap q > 0 (chosen truly better unless flipped); the explicit margin is
 * q plus noise plus a length bonus, the implicit margin is q plus independent noise. So both rewards
 * beat chance, they correlate through q, and only the explicit one is length-biased.
 */
import { Rng } from '../../src/compare/bootstrap';
import type { ScoredPair, ScoredProbe } from '../../src/compare/types';

export function normal(rng: Rng): number {
  // Box-Muller; 1 - u keeps log() away from 0.
  const u = 1 - rng.next();
  const v = rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

export interface SyntheticOptions {
  n: number;
  seed?: number;
  /** Explicit score gained per 100 characters of extra length. */
  lengthBonus?: number;
  /** Fraction of pairs whose ground truth is "rejected". */
  flipped?: number;
  beta?: number;
  /**
   * Add a generative judge's verdicts: margin q + noise (no length bonus), read in both orders with a lean towards
   * label A of `judgeLean` log-odds (ab = m + lean, ba = −m + lean, so ½ (ab − ba) = m).
   */
  judgeLean?: number;
}

const SUBSETS = ['chat', 'code', 'safety'];

export function syntheticPairs(o: SyntheticOptions): ScoredPair[] {
  const rng = new Rng(o.seed ?? 1);
  const beta = o.beta ?? 0.1;
  const out: ScoredPair[] = [];
  for (let i = 0; i < o.n; i++) {
    const q = 0.8 + normal(rng) * 0.8; // latent gap: truly better minus worse
    const flip = rng.next() < (o.flipped ?? 0);
    const lenC = 40 + Math.floor(rng.next() * 400);
    const lenR = 40 + Math.floor(rng.next() * 400);
    const signed = flip ? -q : q; // chosen minus rejected quality
    const eMargin = signed + normal(rng) * 0.7 + ((o.lengthBonus ?? 0) * (lenC - lenR)) / 100;
    const iMargin = 2 * (signed + normal(rng) * 0.9);
    const eBase = normal(rng);
    // Build log-probs so that implicit = beta * (policy - reference) holds exactly.
    const refC = -1 * lenC * 0.05 - rng.next();
    const refR = -1 * lenR * 0.05 - rng.next();
    const polC = refC + iMargin / 2 / beta;
    const polR = refR - iMargin / 2 / beta;
    out.push({
      id: `p${i}`,
      subset: SUBSETS[i % SUBSETS.length],
      source: `synthetic.jsonl:${i + 1}`,
      prompt: `Question ${i}: how do I <fix> "this" & that?`,
      chosen: `Answer ${i} (chosen) ` + 'x'.repeat(Math.min(lenC, 80)),
      rejected: `Answer ${i} (rejected) <b>not bold</b> ` + 'y'.repeat(Math.min(lenR, 80)),
      explicit: { chosen: eBase + eMargin / 2, rejected: eBase - eMargin / 2 },
      implicit: { chosen: beta * (polC - refC), rejected: beta * (polR - refR) },
      policyLogps: { chosen: polC, rejected: polR },
      referenceLogps: { chosen: refC, rejected: refR },
      tokenCounts: { chosen: Math.ceil(lenC / 4), rejected: Math.ceil(lenR / 4) },
      lengths: { chosen: lenC, rejected: lenR },
      ...(flip ? { groundTruth: 'rejected' as const } : {}),
      ...(o.judgeLean !== undefined ? { judge: judgeOf(signed + normal(rng) * 1.2, o.judgeLean) } : {}),
    });
  }
  return out;
}

function judgeOf(margin: number, lean: number): { ab: number; ba: number } {
  return { ab: margin + lean, ba: -margin + lean };
}

/** Probe groups where explicit prefers "a" with probability pE and implicit with pI (and, with a judge, the judge with pI too). */
export function syntheticProbes(seed = 2, per = 40, judgeLean?: number): ScoredProbe[] {
  const rng = new Rng(seed);
  const groups: Array<[string, number, number]> = [
    ['verbosity', 0.85, 0.5],
    ['politeness', 0.8, 0.75],
    ['hedging', 0.3, 0.45],
  ];
  const out: ScoredProbe[] = [];
  for (const [probe, pE, pI] of groups)
    for (let i = 0; i < per; i++) {
      const e = rng.next() < pE ? 1 : -1;
      const m = rng.next() < pI ? 1 : -1;
      out.push({
        probe,
        prompt: `${probe} prompt ${i}`,
        a: `a ${i}`,
        b: `b ${i}`,
        explicit: { a: e * (0.5 + rng.next()), b: 0 },
        implicit: { a: m * (0.5 + rng.next()), b: 0 },
        source: `probes/${probe}.jsonl:${i + 1}`,
        ...(judgeLean !== undefined ? { judge: judgeOf((rng.next() < pI ? 1 : -1) * (0.5 + rng.next()), judgeLean) } : {}),
      });
    }
  return out;
}
