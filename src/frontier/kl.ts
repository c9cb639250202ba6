/**
 * Sampled KL of a policy from the start policy on prompts, the x-axis of the frontier's RL and policy points:
 *
 *   KL(π ‖ π_start) = E_x E_{y~π(·|x)} [ log π(y|x) − log π_start(y|x) ],
 *
 * estimated by the mean over samples drawn from π at temperature 1 (no top-k/top-p: the expectation is under
 * π itself), each log-prob a sum over the completion's tokens. A completion that ended by drawing a stop token
 * includes that token in both sums: the event sampled was "these tokens, then stop", and leaving the stop out
 * would bias the estimate wherever the two policies stop at different rates.
 *
 * Both log-probs come from one teacher-forced forward per model (model/logprobs.ts), so π's and π_start's
 * numbers are computed the same way. The estimate is unbiased but can be negative on a few samples; its
 * standard error is returned beside it.
 *
 * Does NOT: sample (the caller passes what it sampled), or decide which policy is "start".
 */
import * as tf from '@tensorflow/tfjs';
import { maskedSums, tokenLogProbs } from '../model/logprobs';
import type { CausalLM } from '../model/types';

/** One sampled completion: prompt ids, new tokens, and the stop token it drew (null when it ran out of length). */
export interface SampledSequence {
  prompt: readonly number[];
  tokens: readonly number[];
  stop: number | null;
}

/** A sequence's ids and where its scored part starts and ends. */
function layout(s: SampledSequence): { ids: number[]; from: number; to: number } {
  const ids = [...s.prompt, ...s.tokens, ...(s.stop === null ? [] : [s.stop])];
  return { ids, from: s.prompt.length, to: ids.length };
}

/**
 * log p(tokens [, stop] | prompt) per sequence under `model`, `batchSize` sequences per forward (right padded).
 * A sequence with no scored token gets 0 (the empty completion drew nothing: it ran out of length at once).
 */
export async function completionLogProbs(model: CausalLM, seqs: readonly SampledSequence[], batchSize = 16): Promise<Float64Array> {
  const out = new Float64Array(seqs.length);
  // Sort by length so each forward pads little; results go back to their own index.
  const order = seqs.map((_, i) => i).sort((a, b) => layout(seqs[a]).to - layout(seqs[b]).to);
  for (let start = 0; start < order.length; start += batchSize) {
    const idx = order.slice(start, start + batchSize);
    const rows = idx.map((i) => layout(seqs[i]));
    const T = Math.max(...rows.map((r) => r.ids.length));
    const ids = rows.map((r) => [...r.ids, ...new Array(T - r.ids.length).fill(0)]);
    const attention = rows.map((r) => Array.from({ length: T }, (_, t) => (t < r.ids.length ? 1 : 0)));
    const scored = rows.map((r) => Array.from({ length: T }, (_, t) => (t >= r.from && t < r.to ? 1 : 0)));
    const sums = tf.tidy(() => {
      const x = tf.tensor2d(ids, [rows.length, T], 'int32');
      const lp = tokenLogProbs(model.logits(x, tf.tensor2d(attention, [rows.length, T])), x);
      return maskedSums(lp, tf.tensor2d(scored, [rows.length, T])).sum;
    });
    const values = await sums.data();
    sums.dispose();
    idx.forEach((i, k) => (out[i] = values[k]));
  }
  return out;
}

export interface KlEstimate {
  /** Mean of log π − log π_start over samples, nats per completion. */
  kl: number;
  /** Standard error of that mean (NaN with fewer than two samples). */
  se: number;
  samples: number;
}

/** Mean and standard error of the per-sample log-ratios. sampledKl([-1, -2], [-2, -2]) -> {kl: 0.5, se: 0.5, samples: 2}. */
export function sampledKl(policyLogps: ArrayLike<number>, startLogps: ArrayLike<number>): KlEstimate {
  const n = policyLogps.length;
  if (startLogps.length !== n) throw new RangeError(`sampled KL: ${n} policy log-probs but ${startLogps.length} start log-probs; expected one of each per sample`);
  if (n === 0) throw new RangeError('sampled KL: no samples; sample at least one completion per prompt');
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const d = policyLogps[i] - startLogps[i];
    s += d;
    s2 += d * d;
  }
  const kl = s / n;
  const se = n < 2 ? NaN : Math.sqrt(Math.max(0, s2 / n - kl * kl) / (n - 1));
  return { kl, se, samples: n };
}
