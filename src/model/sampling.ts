/**
 * Choosing the next token from one row of logits, in plain JS (a row is at most a few hundred
 * thousand floats; the tensor work is the forward pass). One function serves the single-sequence
 * generate() and the batched sampler (sample-batch.ts), on every backend and decoder, so a row's
 * tokens depend only on its logits, the options and its own Rng.
 *
 * The filters, in Hugging Face transformers' order (its generate applies them as logits warpers):
 *   1) temperature T: p ∝ exp(logit / T)  (T = 0: greedy, argmax, first index on ties, as llama2.c);
 *   2) top-k: keep the k largest logits (ties broken by the lower token id);
 *   3) top-p (nucleus, Holtzman et al. 2020): keep the shortest run of the most likely tokens whose
 *      probability (renormalised over what top-k kept) reaches p;
 *   4) min-p (Nguyen et al. 2024): keep tokens whose probability is at least min_p × the top token's.
 * "The k largest" and "the most likely run" follow the order (logit descending, token id ascending); they are
 * found by selection (quickselect by count or by probability mass), not by sorting the vocabulary. Then one
 * uniform draw u·(kept mass) walks the kept tokens in token-id order.
 *
 * Every draw also yields two log-probabilities of the chosen token (see SampledToken).
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
  /** Keep tokens with probability >= minP × the most likely token's; 0 = off. @default 0 */
  minP?: number;
}

/** The chosen token and its log-probabilities. */
export interface SampledToken {
  id: number;
  /**
   * log softmax(logits)[id] over the full vocabulary at temperature 1: the policy's own log-prob, what
   * GRPO needs as old_logps and what an independent forward pass gives (vLLM's `raw_logprobs`).
   */
  logprob: number;
  /**
   * log-prob of id under the distribution it was actually drawn from (temperature, top-k, top-p, min-p,
   * renormalised): vLLM's `processed_logprobs`, which TRL asks vLLM for (its importance-sampling
   * correction). Greedy (T = 0): equal to `logprob`, as vLLM reports for greedy rows.
   */
  samplingLogprob: number;
}

/** Checks the options once, with messages that name the field. */
export function checkSamplingOptions(o: SamplingOptions): void {
  const t = o.temperature ?? 1;
  if (!(t >= 0) || !Number.isFinite(t)) throw new ModelError(`temperature must be >= 0 (0 = greedy); got ${o.temperature}`);
  const k = o.topK ?? 0;
  if (!Number.isInteger(k) || k < 0) throw new ModelError(`topK must be an integer >= 0 (0 = off); got ${o.topK}`);
  const p = o.topP ?? 1;
  if (!(p > 0 && p <= 1)) throw new ModelError(`topP must be in (0, 1] (1 = off); got ${o.topP}`);
  const m = o.minP ?? 0;
  if (!(m >= 0 && m <= 1)) throw new ModelError(`minP must be in [0, 1] (0 = off); got ${o.minP}`);
}

/** Index of the largest value (first on ties): [1, 3, 3] -> 1. */
export function argmax(xs: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}

/** Draws a token id from `logits` (length V) under the options, using rng for the draw. */
export function sampleToken(logits: ArrayLike<number>, o: SamplingOptions, rng: Rng): number {
  return sampleLogits(logits, o, rng).id;
}

// Scratch reused between calls (JS runs one call at a time): unnormalised probabilities and candidate ids.
let weights = new Float64Array(0);
let order = new Int32Array(0);
let values = new Float64Array(0);
let flags = new Uint8Array(0);

/**
 * Draws from one row of logits and returns the token with both log-probs. Greedy draws nothing from rng;
 * every sampled token draws exactly one number, so a row's stream does not depend on other rows.
 * Example: logits [0, ln 3], T 1 -> id 1 with probability 3/4, logprob ln(3/4).
 */
export function sampleLogits(logits: ArrayLike<number>, o: SamplingOptions, rng: Rng): SampledToken {
  const c = candidates(logits, o);
  if (c.n === 0) return { id: c.top, logprob: logits[c.top] - c.lse, samplingLogprob: logits[c.top] - c.lse }; // greedy
  const { idx, n, e } = c;
  let kept = 0;
  for (let j = 0; j < n; j++) kept += e[idx[j]];
  let u = rng.next() * kept;
  let id = idx[n - 1]; // if rounding leaves u a hair above 0 after the walk
  for (let j = 0; j < n; j++) {
    u -= e[idx[j]];
    if (u < 0) {
      id = idx[j];
      break;
    }
  }
  return { id, logprob: logits[id] - c.lse, samplingLogprob: Math.log(e[id] / kept) };
}

/**
 * The distribution a draw samples from after every filter: token ids in draw order and their probabilities.
 * e.g. logits ln [0.5, 0.3, 0.15, 0.05] with topK 2 -> ids [0, 1], probs [0.625, 0.375]; greedy -> the argmax with 1.
 */
export function samplingDistribution(logits: ArrayLike<number>, o: SamplingOptions): { ids: number[]; probs: number[] } {
  const c = candidates(logits, o);
  if (c.n === 0) return { ids: [c.top], probs: [1] };
  const ids = Array.from(c.idx.subarray(0, c.n));
  const kept = ids.reduce((a, i) => a + c.e[i], 0);
  return { ids, probs: ids.map((i) => c.e[i] / kept) };
}

/**
 * The candidates of one draw: idx[0..n) in draw order (ascending token id) with unnormalised weights e[id]
 * (scratch views, valid until the next call), the argmax `top` and the temperature-1 log-normaliser `lse`.
 * n = 0 means greedy.
 */
function candidates(row: ArrayLike<number>, o: SamplingOptions): { idx: Int32Array; n: number; e: Float64Array; top: number; lse: number } {
  const V = row.length;
  if (weights.length < V) {
    weights = new Float64Array(V);
    order = new Int32Array(V);
    values = new Float64Array(V);
  }
  const logits = values; // one typed copy: the loops below then read a single array type
  let top = 0;
  for (let i = 0; i < V; i++) {
    logits[i] = row[i];
    if (logits[i] > logits[top]) top = i;
  }
  const max = logits[top];
  const e = weights;
  const T = o.temperature ?? 1;
  let z1 = 0; // Σ exp(logit − max) at temperature 1, for the raw log-prob
  for (let i = 0; i < V; i++) {
    e[i] = Math.exp(logits[i] - max);
    z1 += e[i];
  }
  const lse = max + Math.log(z1);
  if (T === 0) return { idx: order, n: 0, e, top, lse };
  // 1) temperature (1 at the argmax)
  if (T !== 1) for (let i = 0; i < V; i++) e[i] = Math.exp((logits[i] - max) / T);
  const idx = order;
  for (let i = 0; i < V; i++) idx[i] = i;
  let n = V;
  let selected = false;
  // 2) top-k
  const k = o.topK ?? 0;
  if (k > 0 && k < V) {
    n = selectBest(idx, V, logits, e, { count: k });
    selected = true;
  }
  // 3) top-p over what top-k kept
  const p = o.topP ?? 1;
  if (p < 1) {
    let z = 0;
    for (let j = 0; j < n; j++) z += e[idx[j]];
    n = selectBest(idx, n, logits, e, { mass: p * z });
    selected = true;
  }
  // 4) min-p: relative to the top token (e = 1 there, and it is always kept)
  const minP = o.minP ?? 0;
  if (minP > 0) {
    let m = 0;
    for (let j = 0; j < n; j++) if (e[idx[j]] >= minP) idx[m++] = idx[j];
    n = m;
  }
  if (selected) n = inIdOrder(idx, n, V); // back to token-id order
  return { idx, n, e, top, lse };
}

/** Rewrites idx[0..n) (distinct ids below V) in ascending order through a flag per id: O(V), no comparisons. */
function inIdOrder(idx: Int32Array, n: number, V: number): number {
  if (flags.length < V) flags = new Uint8Array(V);
  for (let j = 0; j < n; j++) flags[idx[j]] = 1;
  let m = 0;
  for (let i = 0; i < V; i++) {
    if (flags[i]) {
      idx[m++] = i;
      flags[i] = 0;
    }
  }
  return m;
}

/**
 * Moves the best elements of idx[0..n) (logit descending, then token id ascending) to its front and returns how
 * many: exactly `count`, or the shortest run whose mass Σ e reaches `mass` (all n if rounding leaves it short).
 * Quickselect with three-way partitions around the middle element: O(n) expected, no sort.
 * e.g. e for logits ln [0.5, 0.3, 0.15, 0.05], mass 0.75 -> 2 (ids 0 and 1, in some order).
 */
function selectBest(idx: Int32Array, n: number, logits: Float64Array, e: Float64Array, want: { count: number } | { mass: number }): number {
  const better = (a: number, b: number) => logits[a] > logits[b] || (logits[a] === logits[b] && a < b);
  let lo = 0;
  let hi = n;
  let acc = 0; // mass of idx[0..lo), all of them in the answer
  while (lo < hi) {
    const pivot = idx[lo + ((hi - lo) >> 1)];
    let g = lo; // idx[lo..g) better than the pivot
    let massG = 0;
    for (let j = lo; j < hi; j++) {
      const x = idx[j];
      if (better(x, pivot)) {
        idx[j] = idx[g];
        idx[g++] = x;
        massG += e[x];
      }
    }
    const at = idx.indexOf(pivot, g); // the pivot goes right after the better ones
    idx[at] = idx[g];
    idx[g] = pivot;
    if ('count' in want) {
      if (want.count <= g) hi = g;
      else if (want.count === g + 1) return g + 1;
      else lo = g + 1;
    } else if (acc + massG >= want.mass) {
      hi = g;
    } else {
      acc += massG + e[pivot];
      if (acc >= want.mass) return g + 1;
      lo = g + 1;
    }
  }
  return 'count' in want ? Math.min(want.count, n) : lo;
}
