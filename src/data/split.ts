/**
 * Deterministic train/eval split. The eval set is the first k indices of a seeded permutation of
 * 0..n-1 (mulberry32 + Fisher-Yates, rng.ts), with k = evalCount, or round(n * evalFraction);
 * both sides keep the original file order, so the same data and seed give the same split anywhere.
 * Does NOT read files (loadTrainEval does, for the separate-eval-file case).
 */
import { DataError } from './errors';
import { seededPermutation } from './rng';
import { loadPreferences, type ReadOptions, type ReadStats } from './read';
import type { PreferenceRecord } from './types';

export interface SplitOptions {
  /** Fraction of records for eval, 0 < f < 1. */
  evalFraction?: number;
  /** Number of records for eval, 0 < k < n (wins over evalFraction). */
  evalCount?: number;
  /** @default 0 */
  seed?: number;
}

/** Example: splitTrainEval(10 records, {evalCount: 2, seed: 0}) -> 8 train, 2 eval, same 2 every run. */
export function splitTrainEval<T>(items: T[], o: SplitOptions): { train: T[]; eval: T[] } {
  const n = items.length;
  let k: number;
  if (o.evalCount !== undefined) {
    if (!Number.isInteger(o.evalCount) || o.evalCount <= 0 || o.evalCount >= n) {
      throw new DataError('eval split', `evalCount is ${o.evalCount} with ${n} records; expected an integer between 1 and ${n - 1}`, true);
    }
    k = o.evalCount;
  } else if (o.evalFraction !== undefined) {
    if (!(o.evalFraction > 0 && o.evalFraction < 1)) throw new DataError('eval split', `evalFraction is ${o.evalFraction}; expected a number between 0 and 1 (exclusive)`, true);
    k = Math.round(n * o.evalFraction);
    if (k < 1 || k >= n) throw new DataError('eval split', `evalFraction ${o.evalFraction} of ${n} records gives ${k} eval records; expected at least 1 and fewer than ${n}`, true);
  } else {
    return { train: items.slice(), eval: [] };
  }
  const isEval = new Uint8Array(n);
  const perm = seededPermutation(n, o.seed ?? 0);
  for (let i = 0; i < k; i++) isEval[perm[i]] = 1;
  const train: T[] = [], ev: T[] = [];
  items.forEach((x, i) => (isEval[i] ? ev : train).push(x));
  return { train, eval: ev };
}

export interface TrainEvalOptions extends SplitOptions {
  data: string | string[];
  /** A separate eval file; then no split is made. */
  evalData?: string | string[];
}

/** Loads training data and its eval set: from `evalData` when given, else split off `data`. */
export async function loadTrainEval(o: TrainEvalOptions, read: ReadOptions = {}): Promise<{ train: PreferenceRecord[]; eval: PreferenceRecord[]; trainStats: ReadStats; evalStats?: ReadStats }> {
  const t = await loadPreferences(o.data, read);
  if (o.evalData !== undefined) {
    // `limit` caps the training pairs only; the eval file is read whole.
    const e = await loadPreferences(o.evalData, { ...read, limit: undefined });
    return { train: t.records, eval: e.records, trainStats: t.stats, evalStats: e.stats };
  }
  const s = splitTrainEval(t.records, o);
  return { train: s.train, eval: s.eval, trainStats: t.stats };
}
