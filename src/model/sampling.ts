/**
 * Choosing the next token from one row of logits, in plain JS (a row is at most a few hundred
 * thousand floats; the tensor work is the forward pass).
 *
 * Does: greedy (temperature 0), temperature, top-k, top-p (nucleus), seeded draws.
 * Does NOT: repetition penalties or beam search.
 */
import { ModelError } from './errors';
import type { Rng } from './rng';

export interface SamplingOptions {
  /** 0 = greedy (argmax, first index on ties, as llama2.c). @default 1 */
  temperature?: number;
  /** Keep only the k most likely tokens; 0 = off. @default 0 */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p; 1 = off. @default 1 */
  topP?: number;
}

/** Checks the options once, with messages that name the field. */
export function checkSamplingOptions(o: SamplingOptions): void {
  const t = o.temperature ?? 1;
  if (!(t >= 0) || !Number.isFinite(t)) throw new ModelError(`temperature must be >= 0 (0 = greedy); got ${o.temperature}`);
  const k = o.topK ?? 0;
  if (!Number.isInteger(k) || k < 0) throw new ModelError(`topK must be an integer >= 0 (0 = off); got ${o.topK}`);
  const p = o.topP ?? 1;
  if (!(p > 0 && p <= 1)) throw new ModelError(`topP must be in (0, 1] (1 = off); got ${o.topP}`);
}

/** Index of the largest value (first on ties): [1, 3, 3] -> 1. */
export function argmax(xs: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}

/** Draws a token id from `logits` (length V) under the options, using rng for the draw. */
export function sampleToken(logits: ArrayLike<number>, o: SamplingOptions, rng: Rng): number {
  const temperature = o.temperature ?? 1;
  if (temperature === 0) return argmax(logits);
  // Candidates sorted by logit, descending; top-k truncates the list.
  let order = Array.from({ length: logits.length }, (_, i) => i).sort((a, b) => logits[b] - logits[a]);
  if (o.topK && o.topK < order.length) order = order.slice(0, o.topK);
  // Softmax over the candidates at this temperature (max subtracted for stability).
  const max = logits[order[0]];
  const probs = order.map((i) => Math.exp((logits[i] - max) / temperature));
  const total = probs.reduce((a, b) => a + b, 0);
  for (let j = 0; j < probs.length; j++) probs[j] /= total;
  // Nucleus: the shortest prefix whose mass reaches topP (at least one token).
  let keep = probs.length;
  const topP = o.topP ?? 1;
  if (topP < 1) {
    let mass = 0;
    for (keep = 0; keep < probs.length && mass < topP; keep++) mass += probs[keep];
  }
  const kept = probs.slice(0, keep);
  const keptMass = kept.reduce((a, b) => a + b, 0);
  let u = rng.next() * keptMass;
  for (let j = 0; j < kept.length; j++) {
    u -= kept[j];
    if (u < 0) return order[j];
  }
  return order[kept.length - 1]; // rounding left u a hair above 0
}
